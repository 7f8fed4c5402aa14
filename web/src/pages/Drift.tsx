// Drift: what changed in the tenant since its baseline (a backup set pinned
// as baseline, else the newest complete one), found by drift detection runs.
// Each finding names who changed the object and when, from Intune's audit
// log, or says why that is unknown. Accept makes the live state the baseline;
// revert starts the restore preview of the object from the baseline and opens
// the restore wizard on it.
import { Fragment } from 'preact';
import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { get, post, tenantPath, withQuery, type DriftFinding } from '../api';
import { ActionsHeader, FilterSelect, PagedList, PageTitle, runHref, Table, When } from '../components/ui';
import { useAsync, useCursor } from '../hooks';
import { useAction, useSession } from '../session';
import { DiffTable } from './diff';
import { useStart } from './Policies';

const KINDS = { added: 'Added', removed: 'Removed', changed: 'Changed' } as const;
const STATUSES: [string, string][] = [
  ['open', 'Open'],
  ['accepted', 'Accepted'],
  ['reverted', 'Reverted'],
  ['resolved', 'Resolved'],
];

export function DriftPage() {
  const session = useSession();
  const { route } = useLocation();
  const tenant = session.tenant!.tenant_id;
  const [status, setStatus] = useState('open');
  const [open, setOpen] = useState<number | null>(null);
  const paging = useCursor(`${tenant}|${status}`);
  const act = useAction();
  const start = useStart();
  const operate = session.canOperate();
  const findings = useAsync(
    () =>
      get<{ items: DriftFinding[]; next_cursor: string | null; open_count: number }>(
        withQuery(tenantPath(tenant, '/drift-findings'), { status: status || 'all', cursor: paging.cursor, limit: 50 }),
      ),
    [tenant, status, paging.cursor],
  );
  const detect = async () => {
    if (await start(tenantPath(tenant, '/drift/detect'), 'Drift detection')) findings.reload();
  };
  const accept = (f: DriftFinding) => {
    const what = f.kind === 'removed' ? `the deletion of “${f.display_name}”` : `the live “${f.display_name}”`;
    if (!window.confirm(`Accept ${what} as the new baseline? Drift is compared with it from now on.`)) return;
    void act(() => post(tenantPath(tenant, `/drift-findings/${f.id}/accept`)), `Accepted: ${what} is part of the baseline now.`, findings.reload);
  };
  const revert = async (f: DriftFinding) => {
    const started = await start(tenantPath(tenant, `/drift-findings/${f.id}/revert`), `Restore preview of “${f.display_name}”`);
    if (started && f.baseline_set_id && f.baseline_item_id)
      route(`/restore?set=${f.baseline_set_id}&items=${f.baseline_item_id}`);
  };

  return (
    <section>
      <PageTitle
        actions={
          operate && (
            <button type="button" onClick={() => void detect()}>
              Detect drift now
            </button>
          )
        }
      >
        Drift · {session.tenant!.tenant_name}
      </PageTitle>
      <p class="muted">
        Compared with the backup set pinned as baseline, or else the newest complete backup.{' '}
        {findings.data && <span data-testid="open-count">{findings.data.open_count} open.</span>}
      </p>
      <div class="filters">
        <FilterSelect label="Status" value={status} options={STATUSES} onChange={setStatus} />
      </div>
      <PagedList
        value={findings}
        paging={paging}
        loading="Loading drift findings…"
        empty={status === 'open' ? 'No open drift: the tenant matches its baseline as of the last drift detection.' : 'No findings with this status.'}
      >
        {(items) => (
          <Table testId="drift-table" label="Drift findings" head={['Object', 'Change', 'Who', 'When', 'Status', <ActionsHeader key="a" />]}>
            {items.map((f) => (
              <Fragment key={f.id}>
                <tr>
                  <td>
                    <button type="button" class="link" aria-expanded={open === f.id} onClick={() => setOpen(open === f.id ? null : f.id)}>
                      {f.display_name}
                    </button>{' '}
                    <small class="muted">{f.type}</small>
                  </td>
                  <td>
                    {KINDS[f.kind]}
                    {f.kind === 'changed' && <small class="muted"> ({f.diff.length === 1 ? '1 field' : `${f.diff.length} fields`})</small>}
                  </td>
                  <td title={f.actor_detail}>{f.actor}</td>
                  <td>
                    <When at={f.changed_at ?? f.first_seen_at} />
                  </td>
                  <td>
                    {f.status}
                    {f.revert_run_id !== null && f.status === 'open' && (
                      <small class="muted">
                        {' '}
                        · revert <a href={runHref({ id: f.revert_run_id, tenant_id: tenant })}>#{f.revert_run_id}</a>
                      </small>
                    )}
                  </td>
                  <td class="row-actions">
                    {operate && f.status === 'open' && (
                      <>
                        <button type="button" class="secondary outline small" onClick={() => accept(f)}>
                          Accept {f.display_name}
                        </button>
                        {f.kind !== 'added' && (
                          <button type="button" class="secondary outline small" onClick={() => void revert(f)}>
                            Revert {f.display_name}…
                          </button>
                        )}
                      </>
                    )}
                  </td>
                </tr>
                {open === f.id && (
                  <tr>
                    <td colSpan={6}>
                      <FindingDetail f={f} tenant={tenant} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </Table>
        )}
      </PagedList>
    </section>
  );
}

function FindingDetail(props: { f: DriftFinding; tenant: number }) {
  const { f } = props;
  return (
    <div class="finding-detail" data-testid="finding-detail">
      <p>
        {f.actor === 'unknown' ? 'Who: unknown. ' : `${f.actor}: `}
        {f.actor_detail}
      </p>
      {f.kind === 'changed' && f.diff.length > 0 && (
        <DiffTable changes={f.diff} labels={['Baseline', 'Live now']} />
      )}
      {f.kind === 'added' && <p>Not in the baseline: it was created after it. Accept it, or delete it in Intune.</p>}
      {f.kind === 'removed' && <p>In the baseline, gone from Intune. Revert restores it from the baseline.</p>}
      <p class="muted">
        First seen <When at={f.first_seen_at} /> (run <a href={runHref({ id: f.first_run_id, tenant_id: props.tenant })}>#{f.first_run_id}</a>), last seen{' '}
        <When at={f.last_seen_at} /> (run <a href={runHref({ id: f.last_run_id, tenant_id: props.tenant })}>#{f.last_run_id}</a>).
        {f.baseline_set_id !== null && (
          <>
            {' '}
            Baseline: <a href={`/backup-sets/${f.baseline_set_id}`}>set #{f.baseline_set_id}</a>.
          </>
        )}
        {f.close_note && <> Closed: {f.close_note}.</>}
        {f.accepted_set_id !== null && (
          <>
            {' '}
            New baseline: <a href={`/backup-sets/${f.accepted_set_id}`}>set #{f.accepted_set_id}</a>.
          </>
        )}
      </p>
    </div>
  );
}
