// Small shared pieces: loading / empty / error states, status badges,
// progress bars, pagers and run links.
import type { ComponentChildren } from 'preact';
import { ApiError, runTypeLabel, type AuditEntry, type Page, type Run } from '../api';
import { formatTime, relativeTime, type Async, type Paging } from '../hooks';

export function Loading(props: { label?: string }) {
  return (
    <p aria-busy="true" class="muted">
      {props.label ?? 'Loading…'}
    </p>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

// An RFC 9457 problem, with the field to fix when the server named one.
export function ProblemView(props: { error: ApiError | null | undefined; onRetry?: () => void }) {
  const e = props.error;
  if (!e) return null;
  const p = e.problem;
  return (
    <div role="alert" class="problem">
      <strong>
        {p.status ? `${p.status} ${p.title}` : p.title}
      </strong>
      <p>{p.detail}</p>
      {p.field && (
        <p>
          Field: <code data-testid="problem-field">{p.field}</code>
        </p>
      )}
      {props.onRetry && (
        <button type="button" class="secondary outline small" onClick={props.onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

// Renders the three states of an async value; `children` gets the data.
export function Show<T>(props: {
  value: Async<T> & { reload?: () => void };
  loading?: string;
  children: (data: T) => ComponentChildren;
}) {
  const v = props.value;
  if (v.state === 'error')
    return (
      <>
        <ProblemView error={v.error} onRetry={props.value.reload} />
        {v.data !== undefined && props.children(v.data)}
      </>
    );
  if (v.data === undefined) return <Loading label={props.loading} />;
  return <>{props.children(v.data)}</>;
}

/** A relative time ("5 min ago") with the exact time on hover and for screen readers. */
export function When(props: { at: string | null | undefined }) {
  if (!props.at) return <>—</>;
  const exact = formatTime(props.at);
  return (
    <time dateTime={props.at} title={exact}>
      {relativeTime(props.at)}
    </time>
  );
}

export function StatusBadge(props: { status: string }) {
  return (
    <span class={`badge status-${props.status}`} data-testid="status">
      {props.status.replace('_', ' ')}
    </span>
  );
}

export function ProgressBar(props: { run: Run; label?: string }) {
  const { counts, progress, status } = props.run;
  const label = props.label ?? `Run ${props.run.id} progress`;
  const done = status !== 'queued' && status !== 'running';
  if (progress === null && !done) return <progress aria-label={label} />;
  const value = done && counts.total === 0 ? 1 : (progress ?? 1);
  return <progress aria-label={label} value={Math.round(value * 100)} max={100} />;
}

export function Counts(props: { run: Run }) {
  const c = props.run.counts;
  return (
    <span class="counts" data-testid="counts">
      {c.processed}/{c.total || '?'} · <span class="ok">{c.succeeded} ok</span>
      {c.failed > 0 && <span class="bad"> · {c.failed} failed</span>}
      {c.skipped > 0 && <span> · {c.skipped} skipped</span>}
    </span>
  );
}

export function runHref(run: { id: number; tenant_id: number }): string {
  return `/runs/${run.id}?tenant=${run.tenant_id}`;
}

// A table cell's link to the run that produced a record, or a dash.
export function RunIdLink(props: { runId?: number | null; tenant: number }) {
  if (!props.runId) return <>—</>;
  return <a href={runHref({ id: props.runId, tenant_id: props.tenant })}>#{props.runId}</a>;
}

// A list filter: a labelled select whose first option ("any") is the empty value.
export function FilterSelect(props: {
  label: string;
  value: string;
  options: [value: string, text: string][];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {props.label}
      <select value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">any</option>
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

export function RunLink(props: { run: Run }) {
  return (
    <a href={runHref(props.run)}>
      #{props.run.id} {runTypeLabel(props.run.type)}
    </a>
  );
}

export function Pager(props: {
  page: number;
  nextCursor: string | null | undefined;
  onNext: (cursor: string) => void;
  onPrev: () => void;
}) {
  if (props.page <= 1 && !props.nextCursor) return null;
  return (
    <nav aria-label="Pages" class="pager">
      <button type="button" class="secondary outline small" disabled={props.page <= 1} onClick={props.onPrev}>
        ← Previous
      </button>
      <span>Page {props.page}</span>
      <button
        type="button"
        class="secondary outline small"
        disabled={!props.nextCursor}
        onClick={() => props.nextCursor && props.onNext(props.nextCursor)}
      >
        Next →
      </button>
    </nav>
  );
}

export function PageTitle(props: { children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <div class="page-title">
      <h1>{props.children}</h1>
      {props.actions && <div class="actions">{props.actions}</div>}
    </div>
  );
}

export function ErrorPage(props: { status: number; detail: string }) {
  const title = props.status === 403 ? 'Access denied' : props.status === 404 ? 'Not found' : 'Error';
  return (
    <section class="error-page" data-testid={`error-${props.status}`}>
      <h1>
        {props.status} · {title}
      </h1>
      <p>{props.detail}</p>
      <p>
        <a href="/runs">Back to runs</a>
      </p>
    </section>
  );
}

// A table that scrolls sideways inside its box on narrow screens. The box is
// a labelled region in the tab order, so a keyboard can scroll it too.
export function Table(props: {
  testId: string;
  head: ComponentChildren[];
  children: ComponentChildren;
  class?: string;
  label?: string; // the region's name; defaults to the test id in words
}) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={props.label ?? props.testId.replace(/-/g, ' ')}>
      <table class={props.class ?? 'striped'} data-testid={props.testId}>
        <thead>
          <tr>
            {props.head.map((h, i) => (
              <th key={i} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

export const ActionsHeader = () => <span class="visually-hidden">Actions</span>;

// A cursor-paged list: loading and error states, the empty message, the
// items (rendered by `children`) and the pager.
export function PagedList<T>(props: {
  value: Async<Page<T>> & { reload?: () => void };
  paging: Paging;
  loading: string;
  empty: ComponentChildren;
  children: (items: T[]) => ComponentChildren;
}) {
  return (
    <Show value={props.value} loading={props.loading}>
      {(page: Page<T>) =>
        page.items.length === 0 ? (
          <Empty>{props.empty}</Empty>
        ) : (
          <>
            {props.children(page.items)}
            <Pager
              page={props.paging.page}
              nextCursor={page.next_cursor}
              onNext={props.paging.next}
              onPrev={props.paging.prev}
            />
          </>
        )
      }
    </Show>
  );
}

// The audit entries of a tenant (or of one run).
export function AuditTable(props: {
  entries: AuditEntry[];
  who: (userId: number | null) => string;
  runLinks?: number; // the tenant, to link each entry's run
  testId: string;
}) {
  const head = ['#', 'Time', 'Actor', 'Action', 'Target', ...(props.runLinks ? ['Run'] : []), 'Details'];
  return (
    <Table testId={props.testId} head={head}>
      {props.entries.map((a) => (
        <tr key={a.id}>
          <td>{a.seq}</td>
          <td>{formatTime(a.created_at)}</td>
          <td>{props.who(a.actor_user_id)}</td>
          <td>
            <code>{a.action}</code>
          </td>
          <td>{a.target_type ? `${a.target_type} ${a.target_id ?? ''}` : '—'}</td>
          {props.runLinks && (
            <td>
              <RunIdLink runId={a.run_id} tenant={props.runLinks} />
            </td>
          )}
          <td>
            <code class="details">{JSON.stringify(a.details)}</code>
          </td>
        </tr>
      ))}
    </Table>
  );
}

export function Switch(props: { label: string; checked: boolean; onChange: (on: boolean) => void }) {
  return (
    <label class="inline">
      <input
        type="checkbox"
        role="switch"
        checked={props.checked}
        onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
      />
      {props.label}
    </label>
  );
}
