import { useEffect, useState } from 'preact/hooks';
import {
  ApiError,
  get,
  post,
  tenantPath,
  withQuery,
  type CatalogInfo,
  type Page,
  type Policy,
  type StartAnswer,
} from '../api';
import { ActionsHeader, FilterSelect, PagedList, PageTitle, runHref, Table, When } from '../components/ui';
import { useAsync, useCursor } from '../hooks';
import { useSession, useToasts } from '../session';

// Starts a run and shows a toast that links to it; a reused run (a double
// click, or a run already queued) says so.
export function useStart() {
  const toasts = useToasts();
  return async (path: string, what: string, body?: unknown): Promise<StartAnswer | null> => {
    try {
      const res = await post<StartAnswer>(path, body);
      const { run, reused } = res.data;
      toasts.show({
        kind: reused ? 'info' : 'success',
        text: reused ? `${what} is already queued or running (run #${run.id}).` : `${what} queued as run #${run.id}.`,
        link: { href: runHref(run), label: `View run #${run.id}` },
      });
      return res.data;
    } catch (e) {
      const err = e as ApiError;
      toasts.show({ kind: 'error', text: err.problem.field ? `${err.problem.field}: ${err.message}` : err.message });
      return null;
    }
  };
}

export function PoliciesPage() {
  const session = useSession();
  const tenant = session.tenant!.tenant_id;
  const canOperate = session.canOperate();
  const start = useStart();
  const info = useAsync(() => get<{ has_credentials: boolean }>(tenantPath(tenant, '')), [tenant]);
  const [type, setType] = useState('');
  const [platform, setPlatform] = useState('');
  const [typed, setTyped] = useState('');
  const [q, setQ] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setQ(typed.trim()), 250); // search once typing pauses
    return () => clearTimeout(t);
  }, [typed]);
  const paging = useCursor(`${tenant}|${type}|${platform}|${q}`);
  const policies = useAsync(
    () =>
      get<Page<Policy>>(
        withQuery(tenantPath(tenant, '/policies'), { type, platform, q, cursor: paging.cursor, limit: 50 }),
      ),
    [tenant, type, platform, q, paging.cursor],
  );
  // Every type and platform TenantAtlas knows, not only those on this page.
  const catalog = useAsync(() => get<CatalogInfo>('/api/v1/catalog'), []);
  const types = (catalog.data?.types ?? [])
    .map((t): [string, string] => [t.name, t.title])
    .sort((a, b) => a[1].localeCompare(b[1]));
  const filtered = type !== '' || platform !== '' || q !== '';
  const titles = Object.fromEntries(types);

  return (
    <section>
      <PageTitle
        actions={
          canOperate && (
            <button
              type="button"
              onClick={() => void start(tenantPath(tenant, '/policies/sync'), 'Inventory sync').then(policies.reload)}
            >
              Sync inventory
            </button>
          )
        }
      >
        Policies · {session.tenant!.tenant_name}
      </PageTitle>
      <div class="filters" role="group" aria-label="Filters">
        <label>
          Search
          <input
            type="search"
            name="q"
            placeholder="Part of a name"
            value={typed}
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
          />
        </label>
        <FilterSelect label="Type" value={type} onChange={setType} options={types} />
        <FilterSelect
          label="Platform"
          value={platform}
          onChange={setPlatform}
          options={(catalog.data?.platforms ?? []).map((p) => [p, p])}
        />
      </div>
      <PagedList
        value={policies}
        paging={paging}
        loading="Loading policies…"
        empty={
          filtered ? (
            <>No policy matches these filters.</>
          ) : (
            <>
              No policies yet.{' '}
              {info.data && !info.data.has_credentials ? (
                <>
                  {session.tenant!.tenant_name} has no app credentials yet, so nothing can be read from Microsoft Graph.{' '}
                  {session.tenant!.role === 'owner' ? (
                    <a href="/tenant">Set them on the Tenant page</a>
                  ) : (
                    'Ask an owner of this tenant to set them on the Tenant page.'
                  )}
                </>
              ) : canOperate ? (
                'Use "Sync inventory" to read them from Microsoft Graph.'
              ) : (
                'An operator can sync the inventory.'
              )}
            </>
          )
        }
      >
        {(items) => (
          <Table testId="policies-table" head={['Name', 'Type', 'Platform', 'Last snapshot', <ActionsHeader />]}>
            {items.map((p) => (
                      <tr key={p.id} data-testid="policy-row">
                        <td>
                          <a href={`/policies/${p.id}`}>{p.display_name}</a>
                          {p.gone && <span class="badge warn">deleted in Intune</span>}
                        </td>
                        <td>{titles[p.type] ?? p.type}</td>
                        <td>{p.platform ?? '—'}</td>
                        <td>
                          {p.last_snapshot ? (
                            <>
                              v{p.last_snapshot.version} · <When at={p.last_snapshot.captured_at} />
                            </>
                          ) : (
                            'never'
                          )}
                        </td>
                        <td class="row-actions">
                          <a href={`/policies/${p.id}`}>Versions</a>
                          {canOperate && (
                            <button
                              type="button"
                              class="small"
                              aria-label={`Capture snapshot of ${p.display_name}`}
                              onClick={() =>
                                void start(tenantPath(tenant, `/policies/${p.id}/capture`), `Snapshot of "${p.display_name}"`)
                              }
                            >
                              Capture snapshot
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
          </Table>
        )}
      </PagedList>
    </section>
  );
}
