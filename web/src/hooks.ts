import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, tenantPath, type Member, type Run, type RunStatus } from './api';

export type Async<T> =
  | { state: 'loading'; data?: T }
  | { state: 'ok'; data: T }
  | { state: 'error'; error: ApiError; data?: T };

function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError({ status: 0, title: 'Error', detail: String(e) });
}

// Loads `fn` whenever `deps` change; `reload()` loads again and keeps the old
// data visible meanwhile. A response for old deps never overwrites newer data,
// and the render in which `deps` change already says 'loading': data loaded for
// the old deps is never shown as the new deps' answer (not even for the one
// render before the effect runs, which a fast click or a test could act on).
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): Async<T> & { reload: () => void } {
  // `from` is the loader (one per deps) the value belongs to.
  const [value, setValue] = useState<{ from?: unknown; v: Async<T> }>({ v: { state: 'loading' } });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    const self = run;
    setValue((s) => ({ from: self, v: { state: 'loading', data: s.from === self ? s.v.data : undefined } }));
    fn().then(
      (data) => mine === generation.current && setValue({ from: self, v: { state: 'ok', data } }),
      (e) =>
        mine === generation.current &&
        setValue((s) => ({
          from: self,
          v: { state: 'error', error: asApiError(e), data: s.from === self ? s.v.data : undefined },
        })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    run();
  }, [run]);
  const current: Async<T> = value.from === run ? value.v : { state: 'loading' };
  return { ...current, reload: run };
}

// A server-sent event stream (same origin, so the session cookie goes along).
// `handlers` maps event names to callbacks; the latest handlers are used
// without reopening the stream. A null url closes it.
export function useEventStream(url: string | null, handlers: Record<string, (data: any) => void>): boolean {
  const latest = useRef(handlers);
  latest.current = handlers;
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!url) return;
    const es = new EventSource(url);
    const names = Object.keys(latest.current);
    const listeners = names.map((name) => {
      const fn = (ev: MessageEvent) => {
        let data: unknown = null;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (name === 'end') es.close();
        latest.current[name]?.(data);
      };
      es.addEventListener(name, fn as EventListener);
      return [name, fn] as const;
    });
    es.onopen = () => setOpen(true);
    es.onerror = () => setOpen(es.readyState === EventSource.OPEN);
    return () => {
      for (const [name, fn] of listeners) es.removeEventListener(name, fn as EventListener);
      es.close();
      setOpen(false);
    };
  }, [url]);
  return open;
}

export interface Paging {
  cursor: string | null;
  page: number;
  next: (cursor: string) => void;
  prev: () => void;
}

// Cursor paging: a stack of cursors so "Previous" works too.
export function useCursor(resetKey: string): Paging {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  useEffect(() => setStack([null]), [resetKey]);
  const cursor = stack[stack.length - 1];
  return {
    cursor,
    page: stack.length,
    next: (c: string) => setStack((s) => [...s, c]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
  };
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", else the date; future times "in 5 min". */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  const a = Math.abs(s);
  const say = (n: number, unit: string) => (s >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  if (a < 45) return s >= 0 ? 'just now' : 'in a moment';
  if (a < 3600) return say(Math.max(1, Math.round(a / 60)), 'min');
  if (a < 86400) return say(Math.round(a / 3600), 'h');
  if (a < 7 * 86400) {
    const d = Math.round(a / 86400);
    return say(d, d === 1 ? 'day' : 'days');
  }
  return new Date(t).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

export function duration(from: string | null, to: string | null): string {
  if (!from) return '—';
  const ms = (to ? new Date(to).getTime() : Date.now()) - new Date(from).getTime();
  if (ms < 1000) return `${Math.max(0, ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

// "Who is user 7?": the tenant's members by id, for initiators and actors.
export function useWho(tenant: number): (userId: number | null) => string {
  const members = useAsync(() => get<{ items: Member[] }>(tenantPath(tenant, '/members')), [tenant]);
  return (uid) =>
    uid == null ? 'system' : (members.data?.items.find((m) => m.user_id === uid)?.email ?? `user ${uid}`);
}

// A run kept current by its event stream while it is active. `version` grows
// with every update, so lists that depend on the run (its items) can reload.
export function useLiveRun(initial: Run | null) {
  const [run, setRun] = useState<Run | null>(initial);
  const [version, setVersion] = useState(0);
  useEffect(() => setRun(initial), [initial?.id]);
  const path = initial ? tenantPath(initial.tenant_id, `/runs/${initial.id}`) : null;
  const lastEvent = useRef(Date.now());
  const live = useEventStream(initial?.active ? `${path}/events` : null, {
    run: (r: Run) => {
      lastEvent.current = Date.now();
      // The stream's run has no words; keep those the page loaded.
      setRun((old) => ({ ...old, ...r }));
      setVersion((v) => v + 1);
    },
    // The stream's last run event is the ended run; the end event says so too
    // (its status), should that run event have been lost.
    end: (e: { status?: RunStatus }) => {
      if (e?.status) setRun((old) => (old ? { ...old, status: e.status!, active: false } : old));
      setVersion((v) => v + 1);
    },
    error: () => {},
  });
  // A stream can go quiet (a buffering proxy, a dropped connection that has
  // not noticed yet): while the run is active and nothing arrived for 5 s,
  // read it once, so the page never waits on the stream alone.
  const active = !!run?.active;
  useEffect(() => {
    if (!active || !path) return;
    const timer = setInterval(() => {
      if (Date.now() - lastEvent.current < 5000) return;
      lastEvent.current = Date.now();
      get<Run>(path).then(
        (r) => {
          // Not updated_at alone: a run can end in the millisecond of its last item.
          setRun((old) =>
            old && old.updated_at === r.updated_at && old.status === r.status && old.active === r.active ? old : r,
          );
          if (!r.active) setVersion((v) => v + 1);
        },
        () => {},
      );
    }, 1000);
    return () => clearInterval(timer);
  }, [active, path]);
  return { run, setRun, version, live };
}
