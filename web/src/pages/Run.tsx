import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import {
  ApiError,
  get,
  getAll,
  post,
  runTypeLabel,
  tenantPath,
  withQuery,
  type AuditEntry,
  type Group,
  type MappingRow,
  type Page,
  type Run,
  type RunItem,
} from '../api';
import {
  AuditTable,
  Counts,
  Empty,
  ErrorPage,
  Loading,
  PagedList,
  PageTitle,
  ProblemView,
  ProgressBar,
  Show,
  StatusBadge,
  Switch,
  Table,
  When,
  nextStep,
} from '../components/ui';
import { useStart } from './Policies';
import { duration, useAsync, useCursor, useLiveRun, useWho } from '../hooks';
import { useSession, useToasts } from '../session';
import { DiffTable } from './diff';

type Found = { run: Run } | { error: ApiError };

// Finds the run: in the tenant the link names (or the selected one), then in
// the user's other tenants. Every request is an ordinary tenant-scoped API
// call, so a run of a tenant the user is not in ends in the API's 403.
async function findRun(id: number, first: number, others: number[]): Promise<Found> {
  let denied: ApiError | null = null;
  for (const t of [first, ...others.filter((o) => o !== first)]) {
    try {
      return { run: await get<Run>(tenantPath(t, `/runs/${id}`)) };
    } catch (e) {
      const err = e as ApiError;
      if (err.status !== 403) return { error: err };
      denied ??= err;
    }
  }
  return { error: denied! };
}

export function RunPage() {
  const session = useSession();
  const { params } = useRoute();
  const { query } = useLocation();
  const id = Number(params.id);
  const wanted = Number(query.tenant) || 0; // 0: the selected tenant first
  const [found, setFound] = useState<Found | null>(null);

  useEffect(() => {
    setFound(null);
    if (!Number.isInteger(id) || id <= 0) {
      setFound({ error: new ApiError({ status: 404, title: 'Not Found', detail: `run: "${params.id}" is not a run id` }) });
      return;
    }
    const others = session.me.memberships.map((m) => m.tenant_id);
    void findRun(id, wanted || session.tenant!.tenant_id, others).then(setFound);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, wanted]);

  if (!found) return <Loading label="Loading run…" />;
  if ('error' in found) {
    const s = found.error.status;
    if (s === 403 || s === 404) return <ErrorPage status={s} detail={found.error.problem.detail} />;
    return <ProblemView error={found.error} />;
  }
  return <RunDetail initial={found.run} key={found.run.id} />;
}

function RunDetail(props: { initial: Run }) {
  const session = useSession();
  const toasts = useToasts();
  const followed = useLiveRun(props.initial);
  const run = followed.run ?? props.initial;
  const { setRun, version, live } = followed;
  const tenant = run.tenant_id;
  const base = tenantPath(tenant, `/runs/${run.id}`);
  const [failedOnly, setFailedOnly] = useState(false);
  const paging = useCursor(String(failedOnly));

  const items = useAsync(
    () =>
      get<Page<RunItem>>(
        withQuery(`${base}/items`, { status: failedOnly ? 'failed' : '', cursor: paging.cursor, limit: 50 }),
      ),
    [base, failedOnly, paging.cursor, version],
  );
  const audit = useAsync(
    () => get<Page<AuditEntry>>(withQuery(tenantPath(tenant, '/audit'), { run_id: run.id, limit: 50 })),
    [tenant, run.id, run.active],
  );
  const who = useWho(tenant);

  const [cancelling, setCancelling] = useState(false);
  const cancel = async () => {
    setCancelling(true);
    try {
      const res = await post<Run>(`${base}/cancel`);
      setRun(res.data);
      toasts.show({ kind: 'info', text: `Cancel requested for run #${run.id}.` });
    } catch (e) {
      toasts.show({ kind: 'error', text: (e as ApiError).message });
    } finally {
      setCancelling(false);
    }
  };

  return (
    <section>
      <PageTitle
        actions={
          run.active &&
          session.canOperate(tenant) && (
            <button type="button" class="secondary" onClick={cancel} disabled={cancelling || run.cancel_requested}>
              {run.cancel_requested ? 'Cancel requested' : 'Cancel run'}
            </button>
          )
        }
      >
        Run #{run.id} · {runTypeLabel(run.type)}
        {run.subject ? ` · ${run.subject}` : ''}
      </PageTitle>
      {session.tenant && session.tenant.tenant_id !== tenant && (
        <p class="notice" data-testid="other-tenant">
          This run belongs to <strong>{run.tenant_name ?? session.tenantName(tenant)}</strong>; you are working in{' '}
          {session.allTenants ? 'all tenants' : session.tenant.tenant_name}.{' '}
          <button type="button" class="link" onClick={() => session.setTenant(tenant)}>
            Switch to {run.tenant_name ?? session.tenantName(tenant)}
          </button>
        </p>
      )}
      <article class="run-summary" aria-label="Run summary">
        <dl>
          <div>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={run.status} /> {run.active && <small class="muted">{live ? 'live' : 'connecting…'}</small>}
            </dd>
          </div>
          <div>
            <dt>{run.type.startsWith('restore.') ? 'Target tenant' : 'Tenant'}</dt>
            <dd>{run.tenant_name ?? session.tenantName(tenant)}</dd>
          </div>
          {run.type.startsWith('restore.') && (
            <>
              <div>
                <dt>Source tenant</dt>
                <dd data-testid="run-source">{run.source_tenant_name ?? '—'}</dd>
              </div>
              <div>
                <dt>Backup set</dt>
                <dd data-testid="run-backup-set">
                  {run.backup_set_name ?? '—'}
                </dd>
              </div>
            </>
          )}
          <div>
            <dt>Initiator</dt>
            <dd>{who(run.initiator_user_id)}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              <When at={run.created_at} />
            </dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>
              <When at={run.started_at} />
            </dd>
          </div>
          <div>
            <dt>Finished</dt>
            <dd>
              <When at={run.finished_at} />
            </dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{duration(run.started_at, run.finished_at)}</dd>
          </div>
        </dl>
        <ProgressBar run={run} label="Run progress" />
        <Counts run={run} />
        {run.error && (run.error.code || run.error.message) && (
          <div role="alert" class="problem">
            <strong>{run.error.message ?? run.error.code}</strong>
            {nextStep(run.error.code, run.error.message) && <p>{nextStep(run.error.code, run.error.message)}</p>}
            {run.error.code && <p class="muted small-print">code {run.error.code}</p>}
          </div>
        )}
      </article>
      {run.type === 'restore.execute' && <RestoreContext run={run} />}

      <h2>Items</h2>
      <Switch label="Failed only" checked={failedOnly} onChange={setFailedOnly} />
      <PagedList
        value={items}
        paging={paging}
        loading="Loading items…"
        empty={
          failedOnly
            ? 'No failed items.'
            : run.active
              ? 'No items yet; they appear as the run works.'
              : 'This run recorded no items.'
        }
      >
        {(list) => <ItemsTable items={list} />}
      </PagedList>

      <h2>Audit</h2>
      <Show value={audit} loading="Loading audit entries…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No audit entries for this run.</Empty>
          ) : (
            <AuditTable testId="run-audit" entries={page.items} who={who} tenantName={session.tenantName} />
          )
        }
      </Show>
    </section>
  );
}

// A restore's context: the references it mapped (by name where the target's
// inventory knows them) and what its target's policy list shows afterwards.
function RestoreContext(props: { run: Run }) {
  const session = useSession();
  const start = useStart();
  const { run } = props;
  const params = (run.params ?? {}) as { group_mapping?: Record<string, string>; source_tenant_id?: number; backup_set_id?: number };
  const mapping = Object.entries(params.group_mapping ?? {});
  const names = useAsync(async () => {
    const out = new Map<string, string>();
    if (mapping.length === 0) return out;
    try {
      const rows = await get<{ items: MappingRow[] }>(
        withQuery(tenantPath(run.tenant_id, '/restores/group-mapping'), {
          source_tenant_id: params.source_tenant_id,
          backup_set_id: params.backup_set_id,
        }),
      );
      for (const r of rows.items) {
        out.set(`s:${r.source_id}`, r.source_name);
        if (r.target_id && r.target_name) out.set(`t:${r.target_id}`, r.target_name);
        for (const c of r.candidates ?? []) out.set(`t:${c.id}`, c.name);
      }
      const groups = await getAll<Group>(tenantPath(run.tenant_id, '/groups'));
      for (const g of groups.items) out.set(`t:${g.id}`, g.display_name);
    } catch {
      // names are a help: without the operator role here, ids are shown
    }
    return out;
  }, [run.id]);
  const name = (key: string, id: string) => names.data?.get(key) ?? id;
  const target = run.tenant_name ?? session.tenantName(run.tenant_id);
  return (
    <article class="card" aria-labelledby="restore-context-h" data-testid="restore-context">
      <h2 id="restore-context-h">What this restore used</h2>
      <p>
        Backup set <strong>{run.backup_set_name ?? `#${params.backup_set_id}`}</strong> of{' '}
        <strong>{run.source_tenant_name ?? '—'}</strong>, restored into <strong>{target}</strong>.
      </p>
      {mapping.length === 0 ? (
        <p class="muted">No references were mapped by hand (same tenant, or every reference kept its id).</p>
      ) : (
        <Table testId="run-mapping" label="Mapping" head={['In the backup', `In ${target}`]}>
          {mapping.map(([from, to]) => (
            <tr key={from} data-testid="run-mapping-row">
              <td>{name(`s:${from}`, from)}</td>
              <td>{name(`t:${to}`, to)}</td>
            </tr>
          ))}
        </Table>
      )}
      {!run.active && (
        <p class="notice" data-testid="inventory-notice">
          {target}'s policy list shows what this restore wrote after its next inventory sync.{' '}
          {session.canOperate(run.tenant_id) && (
            <button type="button" class="secondary small" onClick={() => void start(tenantPath(run.tenant_id, '/policies/sync'), `Inventory sync of ${target}`)}>
              Sync {target} now
            </button>
          )}
        </p>
      )}
    </article>
  );
}

export function ItemsTable(props: { items: RunItem[] }) {
  return (
    <Table testId="items-table" head={['Item', 'Outcome', 'Action', 'Graph id', 'Error']}>
          {props.items.map((it) => {
            const diff = it.details?.diff ?? [];
            const unmapped = it.details?.assignments?.unmapped ?? [];
            const refs = (it.details?.references ?? []).filter((r) => r.target_id !== r.source_id);
            const warnings = it.details?.warnings ?? [];
            return (
              <tr key={it.id} data-testid="item-row" data-outcome={it.outcome}>
                <td>
                  {it.name ?? it.details?.name ?? it.item_ref}
                  {(it.type_title ?? it.details?.type) && <small class="muted block">{it.type_title ?? it.details?.type}</small>}
                  {warnings.length > 0 && (
                    <ul class="warnings" data-testid="item-warnings">
                      {warnings.map((w) => (
                        <li key={w}>
                          <span class="badge warn">warning</span> {w}
                        </li>
                      ))}
                    </ul>
                  )}
                  {diff.length > 0 && (
                    <details>
                      <summary>{diff.length} field change{diff.length === 1 ? '' : 's'}</summary>
                      <DiffTable changes={diff} />
                    </details>
                  )}
                  {refs.length > 0 && (
                    <details data-testid="item-references">
                      <summary>
                        {refs.length} reference{refs.length === 1 ? '' : 's'} mapped
                      </summary>
                      <ul>
                        {refs.map((r) => (
                          <li key={r.where}>
                            {r.kind} <code>{r.source_id}</code> → {r.target_id ? <code>{r.target_id}</code> : <strong class="bad">not mapped</strong>}{' '}
                            <small class="muted">at {r.where}</small>
                          </li>
                        ))}
                      </ul>
                    </details>
                  )}
                </td>
                <td>
                  <StatusBadge status={it.outcome} />
                  {unmapped.length > 0 && (
                    <span class="badge warn" data-testid="unmapped" title={unmapped.join(', ')}>
                      unmapped references: {unmapped.length}
                    </span>
                  )}
                </td>
                <td>{it.action ?? '—'}</td>
                <td>
                  <code>{it.graph_id ?? '—'}</code>
                </td>
                <td>
                  {it.error ? (
                    <span class="bad">
                      {it.error.message ?? it.error.code}
                      {nextStep(it.error.code, it.error.message) && (
                        <small class="block">{nextStep(it.error.code, it.error.message)}</small>
                      )}
                      {it.error.code && <small class="muted block">code {it.error.code}</small>}
                    </span>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            );
          })}
    </Table>
  );
}
