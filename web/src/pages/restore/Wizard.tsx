// The restore wizard: backup set and items -> target tenant -> reference mapping
// -> preview (a run) -> execute (a run), confirmed by typing the target
// tenant's name. Source is the selected tenant. Each step is its own file.
import { useLocation } from 'preact-iso';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Run } from '../../api';
import { Empty, PageTitle, runHref } from '../../components/ui';
import { TenantSearch } from '../../components/TenantPicker';
import { useSession } from '../../session';
import { ChooseSet } from './ChooseSet';
import { GroupMapping } from './GroupMapping';
import { Preview } from './Preview';
import { Execute } from './Execute';

const STEPS = ['Backup set & items', 'Target tenant', 'Mapping', 'Preview', 'Execute'] as const;

export function RestoreWizard() {
  const session = useSession();
  const { query, route } = useLocation();
  const source = session.tenant!.tenant_id;
  const [step, setStep] = useState(0);
  const [setId, setSetId] = useState<number | null>(Number(query.set) || null);
  // ?items=1,2 preselects items of ?set= (a drift revert opens the wizard so).
  const [itemIds, setItemIds] = useState<Set<number> | null>(
    () => new Set(String(query.items ?? '').split(',').map(Number).filter((n) => n > 0)),
  ); // null: all
  const [target, setTarget] = useState<number | null>(null);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [preview, setPreview] = useState<Run | null>(null);
  const [caState, setCaState] = useState<'report_only' | 'as_backed_up'>('report_only');
  const [outcomes, setOutcomes] = useState<Record<string, number>>({});
  // Each step's heading takes the focus (and is announced) when the step opens.
  const heading = useRef<HTMLHeadingElement>(null);
  const moved = useRef(false);
  useEffect(() => {
    if (moved.current) heading.current?.focus();
    moved.current = true;
  }, [step]);
  const targets = session.me.memberships.filter((m) => m.role !== 'readonly');

  // Going back invalidates what later steps computed.
  const goto = (s: number) => {
    if (s <= 2) setPreview(null);
    setStep(s);
  };
  // Another source tenant starts over (not the first render: ?items= stays).
  const shownSource = useRef(source);
  useEffect(() => {
    if (shownSource.current === source) return;
    shownSource.current = source;
    setStep(0);
    setPreview(null);
    setItemIds(new Set());
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
    conditional_access_state: caState,
  });

  return (
    <section>
      <PageTitle>Restore from {session.tenant!.tenant_name}</PageTitle>
      <h2 class="step-heading" tabIndex={-1} ref={heading} aria-live="polite" data-testid="step-heading">
        Step {step + 1} of {STEPS.length}: {STEPS[step]}
        {target !== null && step > 1 && (
          <small class="muted">
            {' '}
            · from {session.tenant!.tenant_name} into {session.tenantName(target)}
          </small>
        )}
      </h2>
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
        <div class="card">
          {target !== null && (
            <p data-testid="chosen-target">
              Restore into <strong>{session.tenantName(target)}</strong>
              {target === source ? ' (the same tenant: an in-place restore)' : ''}.
            </p>
          )}
          <TenantSearch
            tenants={targets}
            label="Target tenant"
            testId="target-search"
            selected={target}
            onPick={(m) => {
              if (!m) return;
              setTarget(m.tenant_id);
              setMapping({});
            }}
          />
          <div class="row-actions">
            <button type="button" class="secondary outline" onClick={() => goto(0)}>
              Back
            </button>
            <button type="button" disabled={target === null} onClick={() => goto(2)}>
              Next: mapping
            </button>
          </div>
        </div>
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
          caState={caState}
          onCaState={(v) => {
            setCaState(v);
            setPreview(null); // the preview shows what this choice does
          }}
          target={target}
          body={body}
          run={preview}
          onRun={setPreview}
          sourceName={session.tenant!.tenant_name}
          targetName={session.tenantName(target)}
          onOutcomes={setOutcomes}
          onBack={() => goto(2)}
          onNext={() => goto(4)}
        />
      )}
      {step === 4 && target !== null && (
        <Execute
          caState={caState}
          targetName={session.tenantName(target)}
          target={target}
          body={body}
          outcomes={outcomes}
          onBack={() => goto(3)}
          onStarted={(run) => route(runHref(run))}
        />
      )}
    </section>
  );
}
