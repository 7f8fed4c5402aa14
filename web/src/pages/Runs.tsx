import { useLocation } from 'preact-iso';
import { get, RUN_STATUSES, RUN_TYPES, tenantPath, withQuery, type Page, type Run } from '../api';
import { Counts, FilterSelect, PagedList, PageTitle, ProgressBar, RunLink, StatusBadge, Table } from '../components/ui';
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
        <FilterSelect
          label="Status"
          value={status}
          onChange={(v) => setFilter('status', v)}
          options={RUN_STATUSES.map((s) => [s, s.replace('_', ' ')])}
        />
        <FilterSelect
          label="Type"
          value={type}
          onChange={(v) => setFilter('type', v)}
          options={Object.entries(RUN_TYPES)}
        />
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
