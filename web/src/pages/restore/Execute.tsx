// Step 5: the restore run, started only after typing the target tenant's name.
import { useState } from 'preact/hooks';
import { ApiError, tenantPath, type Run } from '../../api';
import { ProblemView } from '../../components/ui';
import { useStart } from '../Policies';

export function Execute(props: {
  target: number;
  targetName: string;
  caState: 'report_only' | 'as_backed_up';
  body: () => unknown;
  outcomes: Record<string, number>;
  onBack: () => void;
  onStarted: (r: Run) => void;
}) {
  const start = useStart();
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const ok = typed.trim() === props.targetName;
  const n = (k: string) => {
    const c = props.outcomes[k] ?? 0;
    return `${c} ${c === 1 ? 'object' : 'objects'}`;
  };
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
      <p data-testid="execute-consequences">
        This restore <strong>creates {n('would_create')}</strong>, <strong>overwrites {n('would_update')}</strong> and leaves{' '}
        {n('unchanged')} unchanged in <strong>{props.targetName}</strong>
        {(props.outcomes.failed ?? 0) + (props.outcomes.conflict ?? 0) > 0
          ? `; ${(props.outcomes.failed ?? 0) + (props.outcomes.conflict ?? 0)} the preview could not write (unmapped or conflicting) are not written`
          : ''}
        . Assignments are written with each object. {props.targetName}'s policy list shows the result after its next
        inventory sync (the run's page offers one).
      </p>
      <p data-testid="ca-state-chosen">
        Conditional access policies:{' '}
        <strong>
          {props.caState === 'report_only'
            ? 'new ones are created in report-only state'
            : 'as backed up (an enabled policy is enforced at once)'}
        </strong>{' '}
        (chosen before the preview).
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
