import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { get, tenantPath, withQuery, type AuditEntry, type Page } from '../api';
import { AuditTable, PagedList, PageTitle } from '../components/ui';
import { useAsync, useCursor, useWho } from '../hooks';
import { useSession } from '../session';

// The actions the server records for a tenant (a free-text filter also works).
const AUDIT_ACTIONS = [
  'run.queued',
  'run.started',
  'run.finished',
  'run.cancel_requested',
  'member.set',
  'member.removed',
  'tenant.created',
  'tenant.credentials_set',
  'tenant.tags_set',
  'restore.into_other_tenant',
];

export function AuditPage() {
  const session = useSession();
  const tenant = session.tenant!.tenant_id;
  const { query, path, route } = useLocation();
  const action = query.action ?? '';
  const runId = query.run_id ?? '';
  const [actionInput, setActionInput] = useState(action);
  const [runInput, setRunInput] = useState(runId);
  const paging = useCursor(`${tenant}|${action}|${runId}`);
  const entries = useAsync(
    () =>
      get<Page<AuditEntry>>(
        withQuery(tenantPath(tenant, '/audit'), { action, run_id: runId, cursor: paging.cursor, limit: 50 }),
      ),
    [tenant, action, runId, paging.cursor],
  );
  const who = useWho(tenant);

  return (
    <section>
      <PageTitle>Audit log · {session.tenant!.tenant_name}</PageTitle>
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          route(withQuery(path, { action: actionInput.trim(), run_id: runInput.trim() }), true);
        }}
      >
        <label>
          Action
          <input
            name="action"
            placeholder="e.g. run.queued"
            value={actionInput}
            list="audit-actions"
            onInput={(e) => setActionInput((e.target as HTMLInputElement).value)}
          />
          <datalist id="audit-actions">
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label>
          Run id
          <input
            name="run_id"
            inputMode="numeric"
            value={runInput}
            onInput={(e) => setRunInput((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Apply</button>
        {(action || runId) && (
          <button
            type="button"
            class="secondary outline"
            onClick={() => {
              setActionInput('');
              setRunInput('');
              route(path, true);
            }}
          >
            Clear
          </button>
        )}
      </form>
      <PagedList
        value={entries}
        paging={paging}
        loading="Loading audit log…"
        empty={`No audit entries${action || runId ? ' match these filters' : ' yet'}.`}
      >
        {(items) => <AuditTable testId="audit-table" entries={items} who={who} tenantName={session.tenantName} runLinks={tenant} />}
      </PagedList>
    </section>
  );
}
