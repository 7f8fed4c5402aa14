// Small shared pieces: loading / empty / error states, status badges,
// progress bars, pagers and run links.
import type { ComponentChildren } from 'preact';
import { ApiError, runTypeLabel, type AuditEntry, type Page, type Run } from '../api';
import { formatTime, relativeTime, type Async, type Paging } from '../hooks';

export function Loading(props: { label?: string }) {
  return (
    <p aria-busy="true" class="muted">
      {props.label ?? 'Loading…'}
    </p>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

/** What to do next about an error code (a run's, an item's) and its message; null when nothing useful. */
export function nextStep(code: string | null | undefined, message?: string | null): string | null {
  const c = code ?? '';
  const m = message ?? '';
  if (/credentials/i.test(m) && (c === 'FailedPrecondition' || c === 'no_credentials'))
    return "Set the tenant's app credentials on its Tenant page, then run this again.";
  if (c === 'token_refused' || c === 'InvalidAuthenticationToken' || c === 'graph_401' || c === 'Unauthenticated' || /AADSTS/.test(m))
    return "Microsoft refused the app's sign-in. Check the Entra tenant id, client id and secret (it may have expired) on the Tenant page, then check the connection there.";
  if (c === 'graph_403' || c === 'Forbidden' || c === 'missing_permission' || c === 'Authorization_RequestDenied')
    return 'The app lacks a Microsoft Graph permission. Run the connection check on the Tenant page: it names the permission to grant.';
  if (c === 'graph_429' || c === 'TooManyRequests')
    return 'Microsoft Graph is throttling this tenant. TenantAtlas waits and retries by itself; if this run still failed, start it again later.';
  if (/^graph_(5\d\d|unreachable|timeout|connection_lost)$/.test(c) || c === 'Unavailable' || c === 'ServiceUnavailable')
    return 'Microsoft Graph did not answer in time. Run this again in a few minutes; nothing was half-written.';
  if (c === 'unmapped_reference')
    return "Map the missing reference in the restore's mapping step, then preview again.";
  if (c === 'restore_mismatch')
    return "The object read back differs from the backup. Open the item's differences, then run a preview to see the target's state.";
  if (c === 'cancelled_mid_write') return 'Run a restore preview to see whether the write reached the target.';
  if (c === 'cancelled' || c === 'no_token') return null;
  return null;
}

function problemAdvice(status: number): string | null {
  if (status === 0) return 'Check your network and that TenantAtlas is running, then retry.';
  if (status === 401) return 'Your session ended: sign in again.';
  if (status === 403) return 'You do not have the role this needs here. A tenant owner can change your role on the Tenant page.';
  if (status === 404) return 'It may have been deleted, or the link is wrong.';
  if (status === 409) return 'Something changed meanwhile: reload the page and try again.';
  if (status === 429) return 'Wait a moment, then try again.';
  if (status === 507) return 'The server is out of disk space: an administrator must free some.';
  if (status >= 500) return 'The server could not do this just now. Retry; if it keeps failing, an administrator can find the reason in the server log.';
  return null;
}

// An RFC 9457 problem in words: what happened, what to do next, and the field
// to fix when the server named one (the status code stays as a detail).
export function ProblemView(props: { error: ApiError | null | undefined; onRetry?: () => void }) {
  const e = props.error;
  if (!e) return null;
  const p = e.problem;
  const advice = p.field ? null : problemAdvice(p.status);
  return (
    <div role="alert" class="problem">
      <strong>{p.detail}</strong>
      {advice && <p>{advice}</p>}
      <p class="muted small-print">{p.status ? `HTTP ${p.status} ${p.title}` : p.title}</p>
      {p.field && (
        <p>
          Field: <code data-testid="problem-field">{p.field}</code>
        </p>
      )}
      {props.onRetry && (
        <button type="button" class="secondary outline small" onClick={props.onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

// Renders the three states of an async value; `children` gets the data.
export function Show<T>(props: {
  value: Async<T> & { reload?: () => void };
  loading?: string;
  children: (data: T) => ComponentChildren;
}) {
  const v = props.value;
  if (v.state === 'error')
    return (
      <>
        <ProblemView error={v.error} onRetry={props.value.reload} />
        {v.data !== undefined && props.children(v.data)}
      </>
    );
  if (v.data === undefined) return <Loading label={props.loading} />;
  return <>{props.children(v.data)}</>;
}

/** A relative time ("5 min ago") with the exact time on hover and for screen readers. */
export function When(props: { at: string | null | undefined }) {
  if (!props.at) return <>—</>;
  const exact = formatTime(props.at);
  return (
    <time dateTime={props.at} title={exact}>
      {relativeTime(props.at)}
    </time>
  );
}

export function StatusBadge(props: { status: string }) {
  return (
    <span class={`badge status-${props.status}`} data-testid="status">
      {props.status.replace('_', ' ')}
    </span>
  );
}

export function ProgressBar(props: { run: Run; label?: string }) {
  const { counts, progress, status } = props.run;
  const label = props.label ?? `Run ${props.run.id} progress`;
  const done = status !== 'queued' && status !== 'running';
  if (progress === null && !done) return <progress aria-label={label} />;
  const value = done && counts.total === 0 ? 1 : (progress ?? 1);
  return <progress aria-label={label} value={Math.round(value * 100)} max={100} />;
}

export function Counts(props: { run: Run }) {
  const c = props.run.counts;
  return (
    <span class="counts" data-testid="counts">
      {c.processed}/{c.total || '?'} · <span class="ok">{c.succeeded} ok</span>
      {c.failed > 0 && <span class="bad"> · {c.failed} failed</span>}
      {c.skipped > 0 && <span> · {c.skipped} skipped</span>}
    </span>
  );
}

export function runHref(run: { id: number; tenant_id: number }): string {
  return `/runs/${run.id}?tenant=${run.tenant_id}`;
}

// A table cell's link to the run that produced a record, or a dash.
export function RunIdLink(props: { runId?: number | null; tenant: number }) {
  if (!props.runId) return <>—</>;
  return <a href={runHref({ id: props.runId, tenant_id: props.tenant })}>#{props.runId}</a>;
}

// A list filter: a labelled select whose first option ("any") is the empty value.
export function FilterSelect(props: {
  label: string;
  value: string;
  options: [value: string, text: string][];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {props.label}
      <select value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">any</option>
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

export function RunLink(props: { run: Run }) {
  return (
    <a href={runHref(props.run)}>
      #{props.run.id} {runTypeLabel(props.run.type)}
    </a>
  );
}

export function Pager(props: {
  page: number;
  nextCursor: string | null | undefined;
  onNext: (cursor: string) => void;
  onPrev: () => void;
}) {
  if (props.page <= 1 && !props.nextCursor) return null;
  return (
    <nav aria-label="Pages" class="pager">
      <button type="button" class="secondary outline small" disabled={props.page <= 1} onClick={props.onPrev}>
        ← Previous
      </button>
      <span>Page {props.page}</span>
      <button
        type="button"
        class="secondary outline small"
        disabled={!props.nextCursor}
        onClick={() => props.nextCursor && props.onNext(props.nextCursor)}
      >
        Next →
      </button>
    </nav>
  );
}

export function PageTitle(props: { children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <div class="page-title">
      <h1>{props.children}</h1>
      {props.actions && <div class="actions">{props.actions}</div>}
    </div>
  );
}

export function ErrorPage(props: { status: number; detail: string }) {
  const title = props.status === 403 ? 'Access denied' : props.status === 404 ? 'Not found' : 'Error';
  return (
    <section class="error-page" data-testid={`error-${props.status}`}>
      <h1>
        {props.status} · {title}
      </h1>
      <p>{props.detail}</p>
      <p>
        <a href="/runs">Back to runs</a>
      </p>
    </section>
  );
}

// A table that scrolls sideways inside its box on narrow screens. The box is
// a labelled region in the tab order, so a keyboard can scroll it too.
export function Table(props: {
  testId: string;
  head: ComponentChildren[];
  children: ComponentChildren;
  class?: string;
  label?: string; // the region's name; defaults to the test id in words
}) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={props.label ?? props.testId.replace(/-/g, ' ')}>
      <table class={props.class ?? 'striped'} data-testid={props.testId}>
        <thead>
          <tr>
            {props.head.map((h, i) => (
              <th key={i} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

export const ActionsHeader = () => <span class="visually-hidden">Actions</span>;

// A cursor-paged list: loading and error states, the empty message, the
// items (rendered by `children`) and the pager.
export function PagedList<T>(props: {
  value: Async<Page<T>> & { reload?: () => void };
  paging: Paging;
  loading: string;
  empty: ComponentChildren;
  children: (items: T[]) => ComponentChildren;
}) {
  return (
    <Show value={props.value} loading={props.loading}>
      {(page: Page<T>) =>
        page.items.length === 0 ? (
          <Empty>{props.empty}</Empty>
        ) : (
          <>
            {props.children(page.items)}
            <Pager
              page={props.paging.page}
              nextCursor={page.next_cursor}
              onNext={props.paging.next}
              onPrev={props.paging.prev}
            />
          </>
        )
      }
    </Show>
  );
}

/** An audit entry as a sentence ("ops@msp started a Backup set run (#12)"). */
export function auditSentence(
  a: AuditEntry,
  who: (userId: number | null) => string,
  tenantName: (id: number | null | undefined) => string,
): string {
  const d = (a.details ?? {}) as Record<string, any>;
  const actor = who(a.actor_user_id);
  const run = a.run_id ? ` (run #${a.run_id})` : '';
  const user = a.target_type === 'user' && a.target_id ? who(Number(a.target_id)) : 'a user';
  switch (a.action) {
    case 'run.queued':
      return `${actor} started a ${runTypeLabel(d.type ?? 'run').toLowerCase()}${run}.`;
    case 'run.finished': {
      const counts = d.failed || d.skipped ? `: ${d.succeeded ?? 0} succeeded, ${d.failed ?? 0} failed, ${d.skipped ?? 0} skipped` : '';
      return `${runTypeLabel(d.type ?? 'run')}${run} ${String(d.status ?? 'ended').replace('_', ' ')}${counts}.`;
    }
    case 'run.cancel_requested':
      return `${actor} asked to cancel${run || ' a run'}.`;
    case 'restore.into_other_tenant':
      return `${actor} restored backup set #${d.backup_set} of this tenant into ${tenantName(d.target_tenant)}${run}.`;
    case 'member.set':
      return d.previous_role
        ? `${actor} changed ${user}'s role from ${d.previous_role} to ${d.role}.`
        : `${actor} added ${user} as ${d.role}.`;
    case 'member.removed':
      return `${actor} removed ${user} (${d.role}).`;
    case 'tenant.created':
      return `${actor} created the tenant ${d.name ?? ''}.`;
    case 'tenant.credentials_set':
      return `${actor} set the app credentials (client id ${d.client_id ?? '?'}; the secret is never recorded).`;
    case 'tenant.tags_set':
      return `${actor} set the tags to ${(d.tags ?? []).join(', ') || 'none'}.`;
    default:
      return `${actor}: ${a.action}${a.target_type ? ` on ${a.target_type} ${a.target_id ?? ''}` : ''}${run}.`;
  }
}

// The audit entries of a tenant (or of one run): each a sentence, with the
// recorded details one click away.
export function AuditTable(props: {
  entries: AuditEntry[];
  who: (userId: number | null) => string;
  tenantName: (id: number | null | undefined) => string;
  runLinks?: number; // the tenant, to link each entry's run
  testId: string;
}) {
  const head = ['#', 'When', 'What happened', 'Action', ...(props.runLinks ? ['Run'] : [])];
  return (
    <Table testId={props.testId} label="Audit entries" head={head}>
      {props.entries.map((a) => (
        <tr key={a.id}>
          <td>{a.seq}</td>
          <td>
            <When at={a.created_at} />
          </td>
          <td>
            {auditSentence(a, props.who, props.tenantName)}
            <details>
              <summary>Details</summary>
              <code class="details">{JSON.stringify(a.details, null, 1)}</code>
            </details>
          </td>
          <td>
            <code>{a.action}</code>
          </td>
          {props.runLinks && (
            <td>
              <RunIdLink runId={a.run_id} tenant={props.runLinks} />
            </td>
          )}
        </tr>
      ))}
    </Table>
  );
}

export function Switch(props: { label: string; checked: boolean; onChange: (on: boolean) => void }) {
  return (
    <label class="inline">
      <input
        type="checkbox"
        role="switch"
        checked={props.checked}
        onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
      />
      {props.label}
    </label>
  );
}
