// Step 4: the preview run (read-only), followed live, with its per-item diff.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { getAll, tenantPath, type Run, type RunItem } from '../../api';
import { Counts, Empty, ProgressBar, runHref, Show, StatusBadge } from '../../components/ui';
import { useAsync, useLiveRun } from '../../hooks';
import { ItemsTable } from '../Run';
import { useStart } from '../Policies';

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

const ORDER = ['failed', 'conflict', 'would_create', 'would_update', 'skipped', 'unchanged'];
const rank = (outcome: string) => {
  const i = ORDER.indexOf(outcome);
  return i < 0 ? ORDER.length : i;
};

export function Preview(props: {
  target: number;
  body: () => unknown;
  caState: 'report_only' | 'as_backed_up';
  onCaState: (v: 'report_only' | 'as_backed_up') => void;
  run: Run | null;
  onRun: (r: Run) => void;
  sourceName: string;
  targetName: string;
  onOutcomes: (counts: Record<string, number>) => void;
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
  const list = useMemo(() => items.data?.items ?? [], [items.data]);
  const [only, setOnly] = useState('');
  const counts = useMemo(() => {
    const by: Record<string, number> = {};
    for (const i of list) by[i.outcome] = (by[i.outcome] ?? 0) + 1;
    return by;
  }, [list]);
  useEffect(() => {
    if (items.data) props.onOutcomes(counts);
  }, [counts]);
  const summary = Object.entries(counts).sort((a, b) => rank(a[0]) - rank(b[0]));
  // What needs a look first: failures and conflicts, creates, updates; unchanged last.
  const sorted = useMemo(
    () =>
      list
        .filter((i) => !only || i.outcome === only)
        .sort((a, b) => rank(a.outcome) - rank(b.outcome) || (a.details?.name ?? '').localeCompare(b.details?.name ?? '')),
    [list, only],
  );
  const unmapped = list.filter((i) => i.error?.code === 'unmapped_reference').length;
  return (
    <div class="card" data-testid="preview">
      <p data-testid="preview-what">
        Preview of restoring <strong>{props.sourceName}</strong>'s items into <strong>{props.targetName}</strong>. It reads{' '}
        {props.targetName} and compares every item; it changes nothing.
      </p>
      <fieldset disabled={!!props.run && props.run.active} data-testid="ca-state">
        <legend>Conditional access policies</legend>
        <label>
          <input
            type="radio"
            name="ca-state"
            checked={props.caState === 'report_only'}
            onChange={() => props.onCaState('report_only')}
          />
          Create new ones in report-only state (recommended: nobody is locked out; enable them after checking their
          sign-in impact)
        </label>
        <label>
          <input
            type="radio"
            name="ca-state"
            checked={props.caState === 'as_backed_up'}
            onChange={() => props.onCaState('as_backed_up')}
          />
          As backed up (an enabled policy is enforced at once)
        </label>
      </fieldset>
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
                  <button
                    key={k}
                    type="button"
                    class={`summary-chip secondary outline small`}
                    aria-pressed={only === k}
                    onClick={() => setOnly((o) => (o === k ? '' : k))}
                    title={only === k ? 'Show every outcome' : `Show only ${k.replace('_', ' ')}`}
                  >
                    <StatusBadge status={k} /> {n}
                  </button>
                ))}
                {only && (
                  <button type="button" class="link" onClick={() => setOnly('')}>
                    show all
                  </button>
                )}
                {unmapped > 0 && (
                  <strong class="bad" data-testid="preview-unmapped">
                    {' '}
                    {unmapped} item{unmapped === 1 ? ' has' : 's have'} unmapped references (see each item).
                  </strong>
                )}
              </p>
              {list.length === 0 ? <Empty>The preview produced no items.</Empty> : <ItemsTable items={sorted} />}
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
