// The UI's only way to the server: the public /api/v1, with the session cookie
// (sent by the browser) and the CSRF token on state-changing requests.

export interface Problem {
  status: number;
  title: string;
  detail: string;
  field?: string;
}

export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.field ? `${problem.detail}` : problem.detail);
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
}

let csrfToken = '';
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

// Called on 401 from any request, so the app can show the sign-in page.
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

async function toProblem(res: Response): Promise<Problem> {
  const text = await res.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object' && typeof body.detail === 'string') {
      return {
        status: res.status,
        title: body.title ?? res.statusText,
        detail: body.detail,
        field: typeof body.field === 'string' ? body.field : undefined,
      };
    }
  } catch {
    // not JSON: fall through
  }
  return { status: res.status, title: res.statusText || 'Error', detail: text || `HTTP ${res.status}` };
}

export interface ApiResult<T> {
  status: number;
  data: T;
}

export async function request<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError({
      status: 0,
      title: 'Network error',
      detail: 'The server did not answer. Check that TenantAtlas is running, then retry.',
    });
  }
  if (!res.ok) {
    const problem = await toProblem(res);
    if (res.status === 401 && !path.endsWith('/auth/login')) onUnauthenticated();
    throw new ApiError(problem);
  }
  if (res.status === 204) return { status: 204, data: undefined as T };
  return { status: res.status, data: (await res.json()) as T };
}

export const put = <T>(path: string, body?: unknown) => request<T>('PUT', path, body);
export const del = <T>(path: string) => request<T>('DELETE', path);
export const get = async <T>(path: string): Promise<T> => (await request<T>('GET', path)).data;
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body);

// Builds "path?a=1&b=2", leaving out empty values.
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export const tenantPath = (tenant: number, rest: string) => `/api/v1/tenants/${tenant}${rest}`;

// ---- API shapes (docs/openapi.yaml) ----

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'partially_succeeded' | 'failed' | 'cancelled';

export interface Run {
  id: number;
  tenant_id: number;
  type: string;
  status: RunStatus;
  active: boolean;
  target_id: string | null;
  initiator_user_id: number | null;
  params: unknown;
  counts: { total: number; processed: number; succeeded: number; failed: number; skipped: number };
  progress: number | null;
  cancel_requested: boolean;
  error: { code: string | null; message: string | null } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  links: { self: string; items: string; events: string; view: string };
  /** In words (lists and the run page): the run's tenant, and what it is about. */
  tenant_name?: string;
  subject?: string;
  source_tenant_name?: string;
  backup_set_name?: string;
}

export interface StartAnswer {
  run: Run;
  reused: boolean;
}

export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

export interface CatalogInfo {
  types: { name: string; title: string; collection: string; assignable: boolean; restore_rank: number }[];
  platforms: string[];
}

export interface RunItem {
  id: number;
  item_ref: string;
  /** Items that are inventory policies ("policy:N"): the policy's name and type. */
  name?: string;
  type?: string;
  type_title?: string;
  outcome: string;
  action: string | null;
  graph_id: string | null;
  error: { code: string | null; message: string | null } | null;
  details: {
    type?: string;
    name?: string;
    diff?: FieldChange[];
    assignments?: { unmapped?: string[]; add?: string[]; remove?: string[] };
    /** Every reference with the id it is written as in the target (null: unmapped). */
    references?: { kind: string; where: string; source_id: string; target_id: string | null }[];
    /** What to know before this item is written (report-only state, no break-glass exclusion, app content). */
    warnings?: string[];
    /** After a write: the fields that still differ on read-back. */
    mismatch?: FieldChange[];
    [k: string]: unknown;
  } | null;
  attempts: number;
  updated_at: string;
}

export interface Membership {
  tenant_id: number;
  tenant_name: string;
  role: 'readonly' | 'operator' | 'owner';
  entra_tenant_id: string | null;
  tags: string[];
}

export type NotifyPreference = 'all' | 'finished' | 'failures';

export interface User {
  id: number;
  email: string;
  display_name: string;
  is_platform_admin: boolean;
}

export interface Me {
  user: User;
  memberships: Membership[];
  auth: 'session' | 'token';
  csrf_token?: string;
  preferences: { notify: NotifyPreference };
}

export interface Notification {
  id: number;
  tenant_id: number | null;
  run_id: number | null;
  level: 'info' | 'success' | 'warning' | 'error';
  title: string;
  body: string;
  action: { label: string; url: string } | null;
  read: boolean;
  read_at: string | null;
  created_at: string;
}

export interface Policy {
  id: number;
  type: string;
  graph_id: string;
  display_name: string;
  platform: string | null;
  odata_type: string | null;
  last_modified_at: string | null;
  gone: boolean;
  synced_at: string;
  last_snapshot: { version: number; captured_at: string } | null;
}

export interface PolicyVersion {
  id: number;
  version: number;
  content_hash: string;
  run_id: number | null;
  captured_at: string;
  payload?: unknown;
  assignments?: unknown;
}

export interface BackupSet {
  id: number;
  name: string;
  description: string;
  run_id: number | null;
  created_by: number | null;
  created_at: string;
  item_count: number;
  expected_count: number;
  status: 'in_progress' | 'complete' | 'incomplete';
  pinned: boolean; // legal hold: retention never deletes it
  baseline: boolean; // drift detection compares the tenant with it
  derived_from: number | null; // made by accepting drift: a copy of that baseline
}

export interface DriftFinding {
  id: number;
  type: string;
  graph_id: string;
  display_name: string;
  kind: 'added' | 'removed' | 'changed';
  status: 'open' | 'accepted' | 'reverted' | 'resolved';
  baseline_set_id: number | null;
  baseline_item_id: number | null;
  diff: FieldChange[];
  actor: string;
  actor_detail: string;
  changed_at: string | null;
  first_run_id: number;
  last_run_id: number;
  first_seen_at: string;
  last_seen_at: string;
  closed_at: string | null;
  close_note: string | null;
  revert_run_id: number | null;
  accepted_set_id: number | null;
}

/** "12 items", or "180 of 200 items (incomplete)" when the set is not complete. */
export function setItems(s: BackupSet): string {
  if (s.status === 'complete') return `${s.item_count} items`;
  const held = `${s.item_count} of ${s.expected_count} items`;
  return s.status === 'in_progress' ? `${held} (in progress)` : `${held} (incomplete)`;
}

export interface BackupItem {
  id: number;
  policy_id: number;
  policy_version_id: number;
  type: string;
  graph_id: string;
  display_name: string;
  content_hash: string;
  captured_at: string;
  assignments: unknown;
}

export interface Group {
  id: string;
  display_name: string;
  gone: boolean;
}

/** A referenced object of the backup and what it maps to in the target. */
export type RefKind =
  | 'group'
  | 'assignmentFilter'
  | 'scopeTag'
  | 'notificationTemplate'
  | 'user'
  | 'application'
  | 'directoryRole'
  | 'namedLocation'
  | 'mobileApp'
  | 'policy';
export interface MappingRow {
  kind: RefKind;
  source_id: string;
  source_name: string;
  target_id: string | null;
  target_name: string | null;
  suggested: boolean;
  used_by: string[];
  /** The object is itself in the backup set: left unmapped, the restore creates it first. */
  in_backup: boolean;
  /** The target's objects of this kind (all kinds but groups, which come from /groups). */
  candidates?: { id: string; name: string }[];
}

export interface AuditEntry {
  id: number;
  seq: number;
  actor_user_id: number | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  run_id: number | null;
  details: unknown;
  created_at: string;
}

export interface Member {
  tenant_id: number;
  user_id: number;
  email: string;
  role: string;
}

export const RUN_TYPES: Record<string, string> = {
  'inventory.sync': 'Inventory sync',
  'policy.capture_snapshot': 'Capture snapshot',
  'backup_set.create': 'Backup set',
  'schedule.backup': 'Scheduled backup',
  'schedule.retention': 'Retention',
  'drift.detect': 'Drift detection',
  'restore.preview': 'Restore preview',
  'restore.execute': 'Restore',
  'tenant.connection_check': 'Connection check',
};

export const RUN_STATUSES: RunStatus[] = [
  'queued',
  'running',
  'succeeded',
  'partially_succeeded',
  'failed',
  'cancelled',
];

export const runTypeLabel = (t: string) => RUN_TYPES[t] ?? t;

// Every item of a cursor-paged list (200 per request, the API's maximum),
// up to `max` items.
export async function getAll<T>(path: string, max = 5000): Promise<Page<T>> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<T> = await get<Page<T>>(withQuery(path, { cursor, limit: 200 }));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return { items, next_cursor: cursor };
}
