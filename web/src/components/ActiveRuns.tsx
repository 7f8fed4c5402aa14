// The global progress widget: queued and running runs across every tenant the
// user belongs to, live over /api/v1/runs/active/stream.
import { useState } from 'preact/hooks';
import { runTypeLabel, type Run } from '../api';
import { useEventStream } from '../hooks';
import { useSession } from '../session';
import { Counts, ProgressBar, runHref, StatusBadge } from './ui';

export function ActiveRuns() {
  const session = useSession();
  const [runs, setRuns] = useState<Run[] | null>(null);
  const live = useEventStream('/api/v1/runs/active/stream', {
    active: (data: { items: Run[] }) => setRuns(data.items),
  });
  return (
    <section class="active-runs" aria-label="Active runs" aria-live="polite" data-testid="active-runs">
      <span class="label">
        Active runs
        <span class={live ? 'dot live' : 'dot'} title={live ? 'live' : 'connecting'} aria-hidden="true" />
      </span>
      {runs === null ? (
        <span class="muted">connecting…</span>
      ) : runs.length === 0 ? (
        <span class="muted">none</span>
      ) : (
        <ul>
          {runs.slice(0, 6).map((r) => (
            <li key={r.id} data-testid="active-run">
              <a href={runHref(r)}>
                #{r.id} {runTypeLabel(r.type)}
                {r.subject ? ` · ${r.subject}` : ''}
              </a>
              <span class="tenant">{r.tenant_name ?? session.tenantName(r.tenant_id)}</span>
              <StatusBadge status={r.status} />
              <ProgressBar run={r} />
              <Counts run={r} />
            </li>
          ))}
          {runs.length > 6 && (
            <li>
              <a href="/runs?tenant=all" data-testid="more-active-runs">
                and {runs.length - 6} more: see every tenant's runs
              </a>
            </li>
          )}
        </ul>
      )}
    </section>
  );
}
