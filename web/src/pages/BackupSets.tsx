import { useRoute } from 'preact-iso';
import { useState } from 'preact/hooks';
import { get, getAll, put, setItems, tenantPath, withQuery, type BackupItem, type BackupSet, type Page, type Policy } from '../api';
import { ActionsHeader, ErrorPage, PagedList, PageTitle, RunIdLink, Show, Table, When } from '../components/ui';
import { useAsync, useCursor } from '../hooks';
import { useAction, useSession } from '../session';
import { useStart } from './Policies';

export function BackupSetsPage() {
  const session = useSession();
  const tenant = session.tenant!.tenant_id;
  const paging = useCursor(String(tenant));
  const [creating, setCreating] = useState(false);
  const owner = session.tenant!.role === 'owner';
  // Legal hold: a pinned set survives every retention rule.
  const act = useAction();
  const pin = (s: BackupSet) =>
    act(
      () => put(tenantPath(tenant, `/backup-sets/${s.id}/pin`), { pinned: !s.pinned }),
      s.pinned ? `“${s.name}” unpinned: retention may delete it again.` : `“${s.name}” pinned: retention keeps it.`,
      sets.reload,
    );
  // Drift is compared with the pinned baseline (else the newest complete set).
  const baseline = (s: BackupSet) =>
    act(
      () => put(tenantPath(tenant, `/backup-sets/${s.id}/baseline`), { baseline: !s.baseline }),
      s.baseline ? `“${s.name}” is no longer the drift baseline: drift is compared with the newest complete set.` : `Drift is compared with “${s.name}” from now on.`,
      sets.reload,
    );
  const sets = useAsync(
    () => get<Page<BackupSet>>(withQuery(tenantPath(tenant, '/backup-sets'), { cursor: paging.cursor, limit: 25 })),
    [tenant, paging.cursor],
  );
  return (
    <section>
      <PageTitle
        actions={
          session.canOperate() &&
          !creating && (
            <button type="button" onClick={() => setCreating(true)}>
              New backup set
            </button>
          )
        }
      >
        Backup sets · {session.tenant!.tenant_name}
      </PageTitle>
      {creating && <CreateBackupSet tenant={tenant} onDone={() => (setCreating(false), sets.reload())} />}
      <PagedList
        value={sets}
        paging={paging}
        loading="Loading backup sets…"
        empty="No backup sets yet. A backup set captures every selected policy at one moment."
      >
        {(items) => (
          <Table testId="backup-sets-table" head={['Name', 'Items', 'Created', 'Run', <ActionsHeader />]}>
            {items.map((s) => (
                      <tr key={s.id}>
                        <td>
                          <a href={`/backup-sets/${s.id}`}>{s.name}</a>
                          {s.pinned && (
                            <span class="badge" title="Legal hold: retention never deletes this set">
                              {' '}
                              pinned
                            </span>
                          )}
                          {s.baseline && (
                            <span class="badge" title="Drift detection compares the tenant with this set">
                              {' '}
                              baseline
                            </span>
                          )}
                          {s.derived_from !== null && (
                            <small class="muted"> · accepted drift on set #{s.derived_from}</small>
                          )}
                        </td>
                        <td>{setItems(s)}</td>
                        <td>
                          <When at={s.created_at} />
                        </td>
                        <td>
                          <RunIdLink runId={s.run_id} tenant={tenant} />
                        </td>
                        <td class="row-actions">
                          {session.me.memberships.some((m) => m.role !== 'readonly') && (
                            <a href={`/restore?set=${s.id}`}>Restore…</a>
                          )}
                          {owner && (
                            <button type="button" class="secondary outline small" onClick={() => void pin(s)}>
                              {s.pinned ? `Unpin ${s.name}` : `Pin ${s.name}`}
                            </button>
                          )}
                          {session.canOperate() && (s.baseline || s.status === 'complete') && (
                            <button type="button" class="secondary outline small" onClick={() => void baseline(s)}>
                              {s.baseline ? `Stop using ${s.name} as baseline` : `Use ${s.name} as drift baseline`}
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

function CreateBackupSet(props: { tenant: number; onDone: () => void }) {
  const start = useStart();
  const [name, setName] = useState(`Backup ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`);
  const [scope, setScope] = useState<'all' | 'some'>('all');
  const [chosen, setChosen] = useState<Set<number>>(new Set());
  const [busy, setBusy] = useState(false);
  const policies = useAsync(
    () => getAll<Policy>(tenantPath(props.tenant, '/policies')),
    [props.tenant],
  );
  const invalid = name.trim() === '' ? 'name: enter a name' : scope === 'some' && chosen.size === 0 ? 'policy_ids: choose at least one policy' : '';
  const submit = async (e: Event) => {
    e.preventDefault();
    if (invalid) return;
    setBusy(true);
    const body = scope === 'all' ? { name: name.trim() } : { name: name.trim(), policy_ids: [...chosen] };
    const started = await start(tenantPath(props.tenant, '/backup-sets'), `Backup set "${name.trim()}"`, body);
    setBusy(false);
    if (started) props.onDone();
  };
  const toggle = (id: number) =>
    setChosen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  return (
    <article aria-label="New backup set">
      <form onSubmit={submit}>
        <label>
          Name
          <input
            name="name"
            maxLength={200}
            required
            value={name}
            aria-invalid={name.trim() === '' ? 'true' : undefined}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </label>
        <fieldset>
          <legend>Policies</legend>
          <label class="inline">
            <input type="radio" name="scope" checked={scope === 'all'} onChange={() => setScope('all')} />
            All policies
          </label>
          <label class="inline">
            <input type="radio" name="scope" checked={scope === 'some'} onChange={() => setScope('some')} />
            A selection
          </label>
        </fieldset>
        {scope === 'some' && (
          <Show value={policies} loading="Loading policies…">
            {(page) => (
              <fieldset class="checklist" aria-label="Choose policies">
                {page.items.map((p) => (
                  <label key={p.id}>
                    <input type="checkbox" checked={chosen.has(p.id)} onChange={() => toggle(p.id)} />
                    <span>
                      {p.display_name} <small class="muted">{p.type}</small>
                    </span>
                  </label>
                ))}
              </fieldset>
            )}
          </Show>
        )}
        {invalid && <small class="muted">{invalid}</small>}
        <div class="row-actions">
          <button type="submit" disabled={busy || !!invalid} aria-busy={busy}>
            Create backup set
          </button>
          <button type="button" class="secondary outline" onClick={props.onDone}>
            Cancel
          </button>
        </div>
      </form>
    </article>
  );
}

export function BackupSetPage() {
  const session = useSession();
  const tenant = session.tenant!.tenant_id;
  const id = Number(useRoute().params.id);
  const paging = useCursor(`${tenant}|${id}`);
  const set = useAsync(() => get<BackupSet>(tenantPath(tenant, `/backup-sets/${id}`)), [tenant, id]);
  const items = useAsync(
    () =>
      get<Page<BackupItem>>(
        withQuery(tenantPath(tenant, `/backup-sets/${id}/items`), { cursor: paging.cursor, limit: 50 }),
      ),
    [tenant, id, paging.cursor],
  );
  if (set.state === 'error' && (set.error.status === 403 || set.error.status === 404))
    return <ErrorPage status={set.error.status} detail={set.error.problem.detail} />;
  return (
    <section>
      <Show value={set} loading="Loading backup set…">
        {(s) => (
          <PageTitle
            actions={
              <>
                <span class="download" data-testid="document-download">
                  Documentation:{' '}
                  {(['html', 'md', 'csv'] as const).map((f) => (
                    <a
                      key={f}
                      role="button"
                      class="secondary outline small"
                      href={tenantPath(tenant, `/backup-sets/${s.id}/document?format=${f}`)}
                      download={`backup-set-${s.id}.${f}`}
                      aria-label={`Download the documentation of ${s.name} as ${f.toUpperCase()}`}
                    >
                      {f.toUpperCase()}
                    </a>
                  ))}
                </span>
                {session.canOperate() && (
                  <a role="button" href={`/restore?set=${s.id}`}>
                    Restore…
                  </a>
                )}
              </>
            }
          >
            {s.name}
            <small class="muted block">
              {setItems(s)} · <When at={s.created_at} />
            </small>
          </PageTitle>
        )}
      </Show>
      <PagedList value={items} paging={paging} loading="Loading items…" empty="This backup set has no items.">
        {(list) => (
          <Table testId="backup-items-table" head={['Policy', 'Type', 'Graph id', 'Assignments', 'Captured']}>
            {list.map((it) => (
                      <tr key={it.id}>
                        <td>
                          <a href={`/policies/${it.policy_id}`}>{it.display_name}</a>
                        </td>
                        <td>{it.type}</td>
                        <td>
                          <code>{it.graph_id}</code>
                        </td>
                        <td>{Array.isArray(it.assignments) ? it.assignments.length : 0}</td>
                        <td>
                          <When at={it.captured_at} />
                        </td>
                      </tr>
                    ))}
          </Table>
        )}
      </PagedList>
    </section>
  );
}
