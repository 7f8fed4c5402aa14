// Every tenant's runs on one page: filtered by tenant, type, status and time.
// The tenant filter starts at the selected tenant (or every tenant in the All
// tenants scope); the list comes from GET /api/v1/runs.
import { useLocation } from 'preact-iso';
import { get, RUN_STATUSES, RUN_TYPES, withQuery, type Page, type Run } from '../api';
import { Counts, FilterSelect, PagedList, PageTitle, ProgressBar, RunLink, StatusBadge, Table, When } from '../components/ui';
import { duration, useAsync, useCursor } from '../hooks';
import { useSession } from '../session';

const SINCE: [string, string, number][] = [
  ['1h', 'the last hour', 3600e3],
  ['24h', 'the last 24 hours', 86400e3],
  ['7d', 'the last 7 days', 7 * 86400e3],
  ['30d', 'the last 30 days', 30 * 86400e3],
];

/** The API's `since` for a "within" choice: whole minutes, so a page's URL stays stable while it is open. */
function sinceParam(within: string): string | undefined {
  const ms = SINCE.find(([k]) => k === within)?.[2];
  if (!ms) return undefined;
  const t = Math.floor((Date.now() - ms) / 60e3) * 60e3;
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function RunsPage() {
  const session = useSession();
  const { query, path, route } = useLocation();
  const status = query.status ?? '';
  const type = query.type ?? '';
  const within = query.within ?? '';
  // ?tenant=all: every tenant; absent: the scope (the selected tenant, or all).
  const tenant =
    query.tenant ?? (session.allTenants || !session.tenant ? 'all' : String(session.tenant.tenant_id));
  const paging = useCursor(`${tenant}|${status}|${type}|${within}`);
  const runs = useAsync(
    () =>
      get<Page<Run>>(
        withQuery('/api/v1/runs', {
          tenant: tenant === 'all' ? '' : tenant,
          status,
          type,
          since: sinceParam(within),
          cursor: paging.cursor,
          limit: 25,
        }),
      ),
    [tenant, status, type, within, paging.cursor],
  );
  const setFilter = (name: string, value: string) =>
    route(withQuery(path, { tenant: query.tenant, status, type, within, [name]: value }), true);
  const tenants = [...session.me.memberships].sort((a, b) => a.tenant_name.localeCompare(b.tenant_name));
  const scopeName = tenant === 'all' ? 'all tenants' : session.tenantName(Number(tenant));
  const filtered = status || type || within;

  return (
    <section>
      <PageTitle
        actions={
          <button type="button" class="secondary outline" onClick={runs.reload}>
            Refresh
          </button>
        }
      >
        Runs · {scopeName}
      </PageTitle>
      <div class="filters" role="group" aria-label="Filters">
        <label>
          Tenant
          <select aria-label="Filter by tenant" value={tenant} onChange={(e) => setFilter('tenant', (e.target as HTMLSelectElement).value)}>
            <option value="all">All tenants ({tenants.length})</option>
            {tenants.map((m) => (
              <option key={m.tenant_id} value={String(m.tenant_id)}>
                {m.tenant_name}
              </option>
            ))}
          </select>
        </label>
        <FilterSelect
          label="Status"
          value={status}
          onChange={(v) => setFilter('status', v)}
          options={RUN_STATUSES.map((s) => [s, s.replace('_', ' ')])}
        />
        <FilterSelect label="Type" value={type} onChange={(v) => setFilter('type', v)} options={Object.entries(RUN_TYPES)} />
        <FilterSelect
          label="Started within"
          value={within}
          onChange={(v) => setFilter('within', v)}
          options={SINCE.map(([k, label]) => [k, label])}
        />
      </div>
      <PagedList
        value={runs}
        paging={paging}
        loading="Loading runs…"
        empty={
          filtered
            ? 'No runs match these filters.'
            : 'No runs yet. Sync the inventory or capture a snapshot on the Policies page.'
        }
      >
        {(items) => (
          <Table testId="runs-table" label="Runs" head={['Run', 'About', 'Tenant', 'Status', 'Progress', 'Created', 'Duration']}>
            {items.map((r) => (
              <tr key={r.id} data-testid="run-row">
                <td>
                  <RunLink run={r} />
                </td>
                <td>{r.subject || '—'}</td>
                <td>{r.tenant_name ?? session.tenantName(r.tenant_id)}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  <ProgressBar run={r} />
                  <Counts run={r} />
                </td>
                <td>
                  <When at={r.created_at} />
                </td>
                <td>{duration(r.started_at, r.finished_at)}</td>
              </tr>
            ))}
          </Table>
        )}
      </PagedList>
    </section>
  );
}
