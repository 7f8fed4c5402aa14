import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { get, tenantPath, withQuery, type AuditEntry, type Member, type Page } from '../api';
import { Empty, PageTitle, Pager, Show } from '../components/ui';
import { formatTime, useAsync, useCursor } from '../hooks';
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
  const members = useAsync(() => get<{ items: Member[] }>(tenantPath(tenant, '/members')), [tenant]);
  const who = (uid: number | null) =>
    uid == null ? 'system' : (members.data?.items.find((m) => m.user_id === uid)?.email ?? `user ${uid}`);

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
      <Show value={entries} loading="Loading audit log…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No audit entries{action || runId ? ' match these filters' : ' yet'}.</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table class="striped" data-testid="audit-table">
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">Time</th>
                      <th scope="col">Actor</th>
                      <th scope="col">Action</th>
                      <th scope="col">Target</th>
                      <th scope="col">Run</th>
                      <th scope="col">Details</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((a) => (
                      <tr key={a.id}>
                        <td>{a.seq}</td>
                        <td>{formatTime(a.created_at)}</td>
                        <td>{who(a.actor_user_id)}</td>
                        <td>
                          <code>{a.action}</code>
                        </td>
                        <td>{a.target_type ? `${a.target_type} ${a.target_id ?? ''}` : '—'}</td>
                        <td>{a.run_id ? <a href={`/runs/${a.run_id}?tenant=${tenant}`}>#{a.run_id}</a> : '—'}</td>
                        <td>
                          <code class="details">{JSON.stringify(a.details)}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager page={paging.page} nextCursor={page.next_cursor} onNext={paging.next} onPrev={paging.prev} />
            </>
          )
        }
      </Show>
    </section>
  );
}
