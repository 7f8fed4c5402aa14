import { useLocation } from 'preact-iso';
import { get, RUN_STATUSES, RUN_TYPES, tenantPath, withQuery, type Page, type Run } from '../api';
import { Counts, PagedList, PageTitle, ProgressBar, RunLink, StatusBadge, Table } from '../components/ui';
import { duration, formatTime, useAsync, useCursor } from '../hooks';
import { useSession } from '../session';

export function RunsPage() {
  const session = useSession();
  const tenant = session.tenant!.tenant_id;
  const { query, path, route } = useLocation();
  const status = query.status ?? '';
  const type = query.type ?? '';
  const paging = useCursor(`${tenant}|${status}|${type}`);
  const runs = useAsync(
    () =>
      get<Page<Run>>(
        withQuery(tenantPath(tenant, '/runs'), { status, type, cursor: paging.cursor, limit: 25 }),
      ),
    [tenant, status, type, paging.cursor],
  );
  const setFilter = (name: string, value: string) =>
    route(withQuery(path, { status, type, [name]: value }), true);

  return (
    <section>
      <PageTitle
        actions={
          <button type="button" class="secondary outline" onClick={runs.reload}>
            Refresh
          </button>
        }
      >
        Runs · {session.tenant!.tenant_name}
      </PageTitle>
      <div class="filters" role="group" aria-label="Filters">
        <label>
          Status
          <select value={status} onChange={(e) => setFilter('status', (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={type} onChange={(e) => setFilter('type', (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {Object.entries(RUN_TYPES).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <PagedList
        value={runs}
        paging={paging}
        loading="Loading runs…"
        empty={
          status || type
            ? 'No runs match these filters.'
            : 'No runs yet. Sync the inventory or capture a snapshot on the Policies page.'
        }
      >
        {(items) => (
          <Table testId="runs-table" head={['Run', 'Status', 'Progress', 'Created', 'Duration']}>
            {items.map((r) => (
                      <tr key={r.id} data-testid="run-row">
                        <td>
                          <RunLink run={r} />
                        </td>
                        <td>
                          <StatusBadge status={r.status} />
                        </td>
                        <td>
                          <ProgressBar run={r} />
                          <Counts run={r} />
                        </td>
                        <td>{formatTime(r.created_at)}</td>
                        <td>{duration(r.started_at, r.finished_at)}</td>
                      </tr>
                    ))}
          </Table>
        )}
      </PagedList>
    </section>
  );
}
