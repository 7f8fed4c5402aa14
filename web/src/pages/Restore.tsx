// The restore wizard: backup set and items -> target tenant -> group mapping
// -> preview (a run) -> execute (a run), confirmed by typing the target
// tenant's name. Source is the selected tenant.
import { useLocation } from 'preact-iso';
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  ApiError,
  get,
  getAll,
  setItems,
  tenantPath,
  withQuery,
  type BackupItem,
  type BackupSet,
  type Group,
  type MappingRow,
  type Page,
  type Run,
  type RunItem,
} from '../api';
import { Counts, Empty, Loading, PageTitle, ProblemView, ProgressBar, runHref, Show, StatusBadge, Table } from '../components/ui';
import { useAsync, useLiveRun } from '../hooks';
import { useSession } from '../session';
import { ItemsTable } from './Run';
import { useStart } from './Policies';

const STEPS = ['Backup set & items', 'Target tenant', 'Group mapping', 'Preview', 'Execute'] as const;

export function RestoreWizard() {
  const session = useSession();
  const { query, route } = useLocation();
  const source = session.tenant!.tenant_id;
  const [step, setStep] = useState(0);
  const [setId, setSetId] = useState<number | null>(Number(query.set) || null);
  const [itemIds, setItemIds] = useState<Set<number> | null>(null); // null: all
  const [target, setTarget] = useState<number | null>(null);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [preview, setPreview] = useState<Run | null>(null);
  const targets = session.me.memberships.filter((m) => m.role !== 'readonly');

  // Going back invalidates what later steps computed.
  const goto = (s: number) => {
    if (s <= 2) setPreview(null);
    setStep(s);
  };
  useEffect(() => {
    setStep(0);
    setPreview(null);
  }, [source]);

  if (targets.length === 0)
    return (
      <section>
        <PageTitle>Restore</PageTitle>
        <Empty>Restoring needs the operator or owner role in a target tenant; you have read-only access.</Empty>
      </section>
    );

  const body = () => ({
    backup_set_id: setId,
    source_tenant_id: source,
    ...(itemIds ? { item_ids: [...itemIds] } : {}),
    group_mapping: mapping,
  });

  return (
    <section>
      <PageTitle>Restore from {session.tenant!.tenant_name}</PageTitle>
      <ol class="stepper" aria-label="Restore steps">
        {STEPS.map((label, i) => (
          <li key={label} aria-current={i === step ? 'step' : undefined} class={i < step ? 'done' : ''}>
            {i < step ? (
              <button type="button" class="link" onClick={() => goto(i)}>
                {i + 1}. {label}
              </button>
            ) : (
              <span>
                {i + 1}. {label}
              </span>
            )}
          </li>
        ))}
      </ol>
      {step === 0 && (
        <ChooseSet
          tenant={source}
          setId={setId}
          itemIds={itemIds}
          onChange={(s, items) => {
            setSetId(s);
            setItemIds(items);
          }}
          onNext={() => goto(1)}
        />
      )}
      {step === 1 && (
        <fieldset class="card">
          <legend>Restore into which tenant?</legend>
          {targets.map((m) => (
            <label key={m.tenant_id}>
              <input
                type="radio"
                name="target"
                checked={target === m.tenant_id}
                onChange={() => {
                  setTarget(m.tenant_id);
                  setMapping({});
                }}
              />
              <span>
                {m.tenant_name} <small class="muted">({m.role}{m.tenant_id === source ? ', same tenant' : ''})</small>
              </span>
            </label>
          ))}
          <div class="row-actions">
            <button type="button" class="secondary outline" onClick={() => goto(0)}>
              Back
            </button>
            <button type="button" disabled={target === null} onClick={() => goto(2)}>
              Next: group mapping
            </button>
          </div>
        </fieldset>
      )}
      {step === 2 && target !== null && setId !== null && (
        <GroupMapping
          source={source}
          target={target}
          setId={setId}
          mapping={mapping}
          onChange={setMapping}
          onBack={() => goto(1)}
          onNext={() => goto(3)}
        />
      )}
      {step === 3 && target !== null && (
        <Preview
          target={target}
          body={body}
          run={preview}
          onRun={setPreview}
          onBack={() => goto(2)}
          onNext={() => goto(4)}
        />
      )}
      {step === 4 && target !== null && (
        <Execute
          targetName={session.tenantName(target)}
          target={target}
          body={body}
          onBack={() => goto(3)}
          onStarted={(run) => route(runHref(run))}
        />
      )}
    </section>
  );
}

function ChooseSet(props: {
  tenant: number;
  setId: number | null;
  itemIds: Set<number> | null;
  onChange: (set: number | null, items: Set<number> | null) => void;
  onNext: () => void;
}) {
  const sets = useAsync(
    () => getAll<BackupSet>(tenantPath(props.tenant, '/backup-sets'), 1000),
    [props.tenant],
  );
  const items = useAsync(
    () =>
      props.setId
        ? getAll<BackupItem>(tenantPath(props.tenant, `/backup-sets/${props.setId}/items`))
        : Promise.resolve({ items: [], next_cursor: null } as Page<BackupItem>),
    [props.tenant, props.setId],
  );
  const all = items.data?.items ?? [];
  const chosen = (id: number) => props.itemIds === null || props.itemIds.has(id);
  const toggle = (id: number) => {
    const s = new Set(props.itemIds ?? all.map((i) => i.id));
    if (s.has(id)) s.delete(id);
    else s.add(id);
    props.onChange(props.setId, s.size === all.length ? null : s);
  };
  const count = props.itemIds === null ? all.length : props.itemIds.size;
  return (
    <div class="card">
      <Show value={sets} loading="Loading backup sets…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>
              This tenant has no backup sets yet. <a href="/backup-sets">Create one</a> first.
            </Empty>
          ) : (
            <label>
              Backup set
              <select
                name="backup_set"
                value={props.setId ?? ''}
                onChange={(e) => props.onChange(Number((e.target as HTMLSelectElement).value) || null, null)}
              >
                <option value="">Choose a backup set…</option>
                {page.items.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name} ({setItems(s)})
                  </option>
                ))}
              </select>
            </label>
          )
        }
      </Show>
      {props.setId && (
        <Show value={items} loading="Loading items…">
          {() => (
            <fieldset class="checklist" aria-label="Items to restore">
              <legend>
                Items ({count} of {all.length} selected){' '}
                <button type="button" class="link" onClick={() => props.onChange(props.setId, null)}>
                  all
                </button>{' '}
                <button type="button" class="link" onClick={() => props.onChange(props.setId, new Set())}>
                  none
                </button>
              </legend>
              {all.map((it) => (
                <label key={it.id}>
                  <input type="checkbox" checked={chosen(it.id)} onChange={() => toggle(it.id)} />
                  <span>
                    {it.display_name} <small class="muted">{it.type}</small>
                  </span>
                </label>
              ))}
            </fieldset>
          )}
        </Show>
      )}
      <div class="row-actions">
        <button type="button" disabled={!props.setId || count === 0} onClick={props.onNext}>
          Next: target tenant
        </button>
      </div>
    </div>
  );
}

function GroupMapping(props: {
  source: number;
  target: number;
  setId: number;
  mapping: Record<string, string>;
  onChange: (m: Record<string, string>) => void;
  onBack: () => void;
  onNext: () => void;
}) {
  const rows = useAsync(
    () =>
      get<{ items: MappingRow[] }>(
        withQuery(tenantPath(props.target, '/restores/group-mapping'), {
          backup_set: props.setId,
          source_tenant: props.source,
        }),
      ),
    [props.source, props.target, props.setId],
  );
  const groups = useAsync(
    () => getAll<Group>(tenantPath(props.target, '/groups')),
    [props.target],
  );
  // Pre-fill with the suggestions (matched by display name) once.
  useEffect(() => {
    if (!rows.data || Object.keys(props.mapping).length > 0) return;
    const m: Record<string, string> = {};
    for (const r of rows.data.items) if (r.suggested && r.target_group_id) m[r.source_group_id] = r.target_group_id;
    props.onChange(m);
  }, [rows.data]);

  if (rows.state === 'error') return <ProblemView error={rows.error} onRetry={rows.reload} />;
  if (!rows.data || !groups.data) return <Loading label="Loading group mapping…" />;
  const live = groups.data.items.filter((g) => !g.gone);
  const unmapped = rows.data.items.filter((r) => !props.mapping[r.source_group_id]).length;
  return (
    <div class="card">
      {rows.data.items.length === 0 ? (
        <Empty>The chosen items have no group assignments; nothing to map.</Empty>
      ) : (
        <>
          <p>
            Each source group needs a group in the target tenant. Suggestions match by display name and are marked{' '}
            <span class="badge suggested">suggested</span>.{' '}
            {unmapped > 0 && (
              <strong class="bad" data-testid="unmapped-count">
                {unmapped} group{unmapped === 1 ? '' : 's'} unmapped: items assigned to them fail in preview and are not written.
              </strong>
            )}
          </p>
          <Table testId="mapping-table" class="" head={['Source group', 'Target group', 'Mapping']}>
            {rows.data.items.map((r) => {
                  const value = props.mapping[r.source_group_id] ?? '';
                  const isSuggestion = r.suggested && value === r.target_group_id;
                  return (
                    <tr key={r.source_group_id} data-testid="mapping-row">
                      <td>
                        {r.source_name || '(unknown name)'} <small class="muted block">{r.source_group_id}</small>
                      </td>
                      <td>
                        <select
                          aria-label={`Target group for ${r.source_name || r.source_group_id}`}
                          value={value}
                          onChange={(e) => {
                            const v = (e.target as HTMLSelectElement).value;
                            const m = { ...props.mapping };
                            if (v) m[r.source_group_id] = v;
                            else delete m[r.source_group_id];
                            props.onChange(m);
                          }}
                        >
                          <option value="">— not mapped —</option>
                          {live.map((g) => (
                            <option key={g.id} value={g.id}>
                              {g.display_name}
                            </option>
                          ))}
                        </select>
                      </td>
                      <td>
                        {isSuggestion ? (
                          <span class="badge suggested" data-testid="suggested">
                            suggested
                          </span>
                        ) : value ? (
                          <span class="badge">chosen</span>
                        ) : (
                          <span class="badge warn" data-testid="unmapped">
                            unmapped
                          </span>
                        )}
                      </td>
                    </tr>
                  );
                })}
          </Table>
        </>
      )}
      <div class="row-actions">
        <button type="button" class="secondary outline" onClick={props.onBack}>
          Back
        </button>
        <button type="button" onClick={props.onNext}>
          Next: preview
        </button>
      </div>
    </div>
  );
}

// Follows a run live and then loads all its items (preview results).
function useRunResult(initial: Run | null) {
  const { run } = useLiveRun(initial);
  const ended = !!run && !run.active;
  const items = useAsync(
    () =>
      ended
        ? getAll<RunItem>(`${tenantPath(run!.tenant_id, `/runs/${run!.id}`)}/items`)
        : Promise.resolve(null),
    [run?.id, ended],
  );
  return { run, items };
}

function Preview(props: {
  target: number;
  body: () => unknown;
  run: Run | null;
  onRun: (r: Run) => void;
  onBack: () => void;
  onNext: () => void;
}) {
  const start = useStart();
  const [busy, setBusy] = useState(false);
  const { run, items } = useRunResult(props.run);
  const begin = async () => {
    setBusy(true);
    const s = await start(tenantPath(props.target, '/restores/preview'), 'Restore preview', props.body());
    setBusy(false);
    if (s) props.onRun(s.run);
  };
  const list = items.data?.items ?? [];
  const summary = useMemo(() => {
    const by: Record<string, number> = {};
    for (const i of list) by[i.outcome] = (by[i.outcome] ?? 0) + 1;
    return Object.entries(by);
  }, [list]);
  const unmapped = list.filter((i) => i.error?.code === 'unmapped_group').length;
  return (
    <div class="card" data-testid="preview">
      <p>
        A preview reads the target tenant and compares every item; it changes nothing. It runs like any other run.
      </p>
      {!props.run && (
        <button type="button" onClick={begin} disabled={busy} aria-busy={busy}>
          Run preview
        </button>
      )}
      {run && (
        <div class="run-inline">
          <a href={runHref(run)}>Run #{run.id}</a> <StatusBadge status={run.status} /> <ProgressBar run={run} />{' '}
          <Counts run={run} />
        </div>
      )}
      {run && !run.active && (
        <Show value={items} loading="Loading preview results…">
          {() => (
            <>
              <p data-testid="preview-summary">
                {summary.map(([k, n]) => (
                  <span key={k} class="summary-chip">
                    <StatusBadge status={k} /> {n}
                  </span>
                ))}
                {unmapped > 0 && (
                  <strong class="bad" data-testid="preview-unmapped">
                    {' '}
                    {unmapped} item{unmapped === 1 ? ' has' : 's have'} unmapped groups.
                  </strong>
                )}
              </p>
              {list.length === 0 ? <Empty>The preview produced no items.</Empty> : <ItemsTable items={list} />}
            </>
          )}
        </Show>
      )}
      <div class="row-actions">
        <button type="button" class="secondary outline" onClick={props.onBack}>
          Back
        </button>
        {run && !run.active && (
          <button type="button" onClick={begin} class="secondary" disabled={busy}>
            Preview again
          </button>
        )}
        <button type="button" disabled={!run || run.active || run.status === 'failed'} onClick={props.onNext}>
          Next: execute
        </button>
      </div>
    </div>
  );
}

function Execute(props: {
  target: number;
  targetName: string;
  body: () => unknown;
  onBack: () => void;
  onStarted: (r: Run) => void;
}) {
  const start = useStart();
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const ok = typed.trim() === props.targetName;
  const go = async (e: Event) => {
    e.preventDefault();
    if (!ok) {
      setError(
        new ApiError({
          status: 400,
          title: 'Confirmation',
          detail: `type the target tenant's name exactly: ${props.targetName}`,
          field: 'confirm',
        }),
      );
      return;
    }
    setBusy(true);
    const s = await start(tenantPath(props.target, '/restores/execute'), `Restore into ${props.targetName}`, props.body());
    setBusy(false);
    if (s) props.onStarted(s.run);
  };
  return (
    <form class="card danger" onSubmit={go} aria-label="Execute restore">
      <p>
        This writes the chosen policies and their assignments into <strong>{props.targetName}</strong>. Items the preview
        marked unmapped or conflicting are not written.
      </p>
      <label>
        Type <strong>{props.targetName}</strong> to confirm
        <input
          name="confirm"
          autocomplete="off"
          value={typed}
          aria-invalid={typed !== '' && !ok ? 'true' : undefined}
          onInput={(e) => {
            setTyped((e.target as HTMLInputElement).value);
            setError(null);
          }}
        />
      </label>
      <ProblemView error={error} />
      <div class="row-actions">
        <button type="button" class="secondary outline" onClick={props.onBack}>
          Back
        </button>
        <button type="submit" class="contrast" disabled={!ok || busy} aria-busy={busy}>
          Execute restore
        </button>
      </div>
    </form>
  );
}
