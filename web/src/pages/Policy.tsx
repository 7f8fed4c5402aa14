// One policy: its captured versions and a side-by-side diff of any two.
import { useRoute } from 'preact-iso';
import { useState } from 'preact/hooks';
import { get, tenantPath, withQuery, type Page, type Policy, type PolicyVersion } from '../api';
import { Empty, ErrorPage, Loading, PageTitle, ProblemView, RunIdLink, Show, Switch, Table, When } from '../components/ui';
import { useAsync } from '../hooks';
import { useSession } from '../session';
import { useStart } from './Policies';
import { show, sideBySide } from './diff';

export function PolicyPage() {
  const session = useSession();
  const tenant = session.tenant!.tenant_id;
  const id = Number(useRoute().params.id);
  const start = useStart();
  const policy = useAsync(() => get<Policy>(tenantPath(tenant, `/policies/${id}`)), [tenant, id]);
  const versions = useAsync(
    () => get<Page<PolicyVersion>>(withQuery(tenantPath(tenant, `/policies/${id}/versions`), { limit: 100 })),
    [tenant, id],
  );
  // Until the user picks, compare the two newest versions.
  const [pickedLeft, setLeft] = useState<number | null>(null);
  const [pickedRight, setRight] = useState<number | null>(null);
  const newest = versions.data?.items ?? [];
  const right = pickedRight ?? newest[0]?.version ?? null;
  const left = pickedLeft ?? (newest[1] ?? newest[0])?.version ?? null;

  if (policy.state === 'error' && (policy.error.status === 403 || policy.error.status === 404))
    return <ErrorPage status={policy.error.status} detail={policy.error.problem.detail} />;

  return (
    <section>
      <Show value={policy} loading="Loading policy…">
        {(p) => (
          <PageTitle
            actions={
              session.canOperate() && (
                <button
                  type="button"
                  onClick={() =>
                    void start(tenantPath(tenant, `/policies/${p.id}/capture`), `Snapshot of "${p.display_name}"`).then(
                      versions.reload,
                    )
                  }
                >
                  Capture snapshot
                </button>
              )
            }
          >
            {p.display_name}
            <small class="muted block">
              {p.type} · {p.platform ?? 'any platform'} · Graph id <code>{p.graph_id}</code>
            </small>
          </PageTitle>
        )}
      </Show>
      <h2>Versions</h2>
      <Show value={versions} loading="Loading versions…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No snapshots yet. Capture one to start the history.</Empty>
          ) : (
            <>
              <Table testId="versions-table" head={['Version', 'Captured', 'Content hash', 'Run', 'Compare']}>
                {page.items.map((v) => (
                      <tr key={v.id}>
                        <td>v{v.version}</td>
                        <td>
                          <When at={v.captured_at} />
                        </td>
                        <td>
                          <code>{v.content_hash.slice(0, 12)}</code>
                        </td>
                        <td>
                          <RunIdLink runId={v.run_id} tenant={tenant} />
                        </td>
                        <td class="row-actions">
                          <label class="inline">
                            <input
                              type="radio"
                              name="left"
                              checked={left === v.version}
                              onChange={() => setLeft(v.version)}
                              aria-label={`Compare from v${v.version}`}
                            />
                            from
                          </label>
                          <label class="inline">
                            <input
                              type="radio"
                              name="right"
                              checked={right === v.version}
                              onChange={() => setRight(v.version)}
                              aria-label={`Compare to v${v.version}`}
                            />
                            to
                          </label>
                        </td>
                      </tr>
                    ))}
              </Table>
              {left !== null && right !== null && <VersionDiff tenant={tenant} policy={id} left={left} right={right} />}
            </>
          )
        }
      </Show>
    </section>
  );
}

function VersionDiff(props: { tenant: number; policy: number; left: number; right: number }) {
  const { tenant, policy, left, right } = props;
  const [changedOnly, setChangedOnly] = useState(true);
  const pair = useAsync(
    () =>
      Promise.all(
        [left, right].map((v) => get<PolicyVersion>(tenantPath(tenant, `/policies/${policy}/versions/${v}`))),
      ),
    [tenant, policy, left, right],
  );
  if (pair.state === 'error') return <ProblemView error={pair.error} onRetry={pair.reload} />;
  if (!pair.data) return <Loading label="Loading versions to compare…" />;
  const [a, b] = pair.data;
  const rows = sideBySide(
    { payload: a.payload, assignments: a.assignments },
    { payload: b.payload, assignments: b.assignments },
  );
  const changed = rows.filter((r) => r.changed).length;
  const shown = changedOnly ? rows.filter((r) => r.changed) : rows;
  return (
    <article aria-label="Version diff">
      <header class="page-title">
        <h3>
          v{a.version} ↔ v{b.version}: {changed === 0 ? 'identical' : `${changed} field${changed === 1 ? '' : 's'} differ`}
        </h3>
        <Switch label="Changed fields only" checked={changedOnly} onChange={setChangedOnly} />
      </header>
      <p class="muted small-print">Ids, timestamps and version counters that Graph sets are not compared.</p>
      {shown.length === 0 ? (
        <Empty>{left === right ? 'Pick two different versions to compare.' : 'The two versions have the same content.'}</Empty>
      ) : (
        <Table testId="version-diff" class="diff side-by-side" head={['Field', `v${a.version}`, `v${b.version}`]}>
          {shown.map((r) => (
                <tr key={r.path} class={r.changed ? 'changed' : ''}>
                  <td>
                    <code>{r.path}</code>
                  </td>
                  <td class="before">{show(r.left)}</td>
                  <td class="after">{show(r.right)}</td>
                </tr>
              ))}
        </Table>
      )}
    </article>
  );
}
