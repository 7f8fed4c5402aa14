// Step 4: the preview run (read-only), followed live, with its per-item diff.
import { useMemo, useState } from 'preact/hooks';
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

export function Preview(props: {
  target: number;
  body: () => unknown;
  caState: 'report_only' | 'as_backed_up';
  onCaState: (v: 'report_only' | 'as_backed_up') => void;
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
  const unmapped = list.filter((i) => i.error?.code === 'unmapped_reference').length;
  return (
    <div class="card" data-testid="preview">
      <p>
        A preview reads the target tenant and compares every item; it changes nothing. It runs like any other run.
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
                  <span key={k} class="summary-chip">
                    <StatusBadge status={k} /> {n}
                  </span>
                ))}
                {unmapped > 0 && (
                  <strong class="bad" data-testid="preview-unmapped">
                    {' '}
                    {unmapped} item{unmapped === 1 ? ' has' : 's have'} unmapped references (see each item).
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
