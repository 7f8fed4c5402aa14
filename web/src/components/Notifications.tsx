// The notifications bell: unread count, a panel with "View run" links and
// mark-as-read, kept live by /api/v1/notifications/stream.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, post, put, type Notification, type NotifyPreference, type Page } from '../api';
import { useEventStream } from '../hooks';
import { useSession, useToasts } from '../session';
import { When } from './ui';

const PREFERENCES: [NotifyPreference, string][] = [
  ['all', 'Every run I start (queued and finished)'],
  ['finished', 'When my runs finish'],
  ['failures', 'Only failures and partial successes'],
];

export function Preference() {
  const session = useSession();
  const toasts = useToasts();
  const [value, setValue] = useState<NotifyPreference>(session.me.preferences?.notify ?? 'all');
  const change = async (v: NotifyPreference) => {
    const old = value;
    setValue(v);
    try {
      await put("/api/v1/me/preferences", { notify: v });
      if (session.me.preferences) session.me.preferences.notify = v;
    } catch (e) {
      setValue(old);
      toasts.show({ kind: 'error', text: (e as ApiError).message });
    }
  };
  return (
    <label class="preference">
      Notify me about
      <select value={value} onChange={(e) => void change((e.target as HTMLSelectElement).value as NotifyPreference)}>
        {PREFERENCES.map(([k, label]) => (
          <option key={k} value={k}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

export function viewRunHref(n: Notification): string | null {
  if (!n.action?.url) return null;
  return n.tenant_id ? `${n.action.url}?tenant=${n.tenant_id}` : n.action.url;
}

export function NotificationsBell() {
  const toasts = useToasts();
  const [items, setItems] = useState<Notification[]>([]);
  const [unread, setUnread] = useState(0);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const panel = useRef<HTMLDivElement>(null);
  const streamSynced = useRef(false);

  const load = async () => {
    try {
      const page = await get<Page<Notification> & { unread_count: number }>('/api/v1/notifications?limit=30');
      setItems(page.items);
      setUnread(page.unread_count);
      setError(null);
    } catch (e) {
      setError(e as ApiError);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  useEventStream('/api/v1/notifications/stream', {
    // One entry per run: a run's newer notification replaces its older one.
    notification: (n: Notification) =>
      setItems((list) =>
        list.some((x) => x.id === n.id)
          ? list
          : [n, ...list.filter((x) => n.run_id === null || x.run_id !== n.run_id)].slice(0, 50),
      ),
    unread: (d: { unread_count: number }) => {
      // The stream starts at the newest notification; load the list again
      // once it is open, so nothing written in between is missed.
      if (!streamSynced.current) {
        streamSynced.current = true;
        void load();
      }
      setUnread(d.unread_count);
    },
  });

  // Escape closes the panel and gives focus back to the bell. A layout effect,
  // so the key works from the moment the panel is on screen: with a plain
  // effect an Escape pressed right after opening could arrive first (a browser
  // test caught that once).
  useLayoutEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        document.getElementById('bell')?.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    panel.current?.querySelector<HTMLElement>('button, a')?.focus();
    return () => document.removeEventListener('keydown', onKey);
  }, [open]);

  const markRead = async (n: Notification) => {
    try {
      await post(`/api/v1/notifications/${n.id}/read`);
      setItems((list) => list.map((x) => (x.id === n.id ? { ...x, read: true } : x)));
      setUnread((u) => Math.max(0, u - (n.read ? 0 : 1)));
    } catch (e) {
      toasts.show({ kind: 'error', text: (e as ApiError).message });
    }
  };
  const markAll = async () => {
    try {
      await post('/api/v1/notifications/read-all');
      setItems((list) => list.map((x) => ({ ...x, read: true })));
      setUnread(0);
    } catch (e) {
      toasts.show({ kind: 'error', text: (e as ApiError).message });
    }
  };

  return (
    <div class="bell">
      <button
        id="bell"
        type="button"
        class="secondary outline"
        aria-expanded={open}
        aria-controls="notifications-panel"
        aria-label={`Notifications, ${unread} unread`}
        onClick={() => setOpen((o) => !o)}
      >
        <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" class="icon">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z"
          />
        </svg>{' '}
        <span class="count" data-testid="unread-count">
          {unread}
        </span>
      </button>
      {open && (
        <div id="notifications-panel" class="panel" role="dialog" aria-label="Notifications" ref={panel}>
          <div class="panel-head">
            <strong>Notifications</strong>
            <button type="button" class="secondary outline small" onClick={markAll} disabled={unread === 0}>
              Mark all read
            </button>
          </div>
          <Preference />
          {error && <p role="alert">{error.message}</p>}
          {items.length === 0 ? (
            <p class="empty">No notifications yet. Runs you start will report here.</p>
          ) : (
            <ul>
              {items.map((n) => {
                const href = viewRunHref(n);
                return (
                  <li key={n.id} class={n.read ? 'read' : `unread level-${n.level}`} data-testid="notification">
                    <div>
                      <strong>{n.title}</strong>
                      <p>{n.body}</p>
                      <small class="muted">
                        <When at={n.created_at} />
                      </small>
                    </div>
                    <div class="row-actions">
                      {href && (
                        <a href={href} onClick={() => setOpen(false)}>
                          {n.action?.label ?? 'View run'}
                        </a>
                      )}
                      {!n.read && (
                        <button type="button" class="secondary outline small" onClick={() => markRead(n)}>
                          Mark read
                        </button>
                      )}
                    </div>
                  </li>
                );
              })}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
