// Who is signed in, which tenant is selected, and the toasts. One context for
// the whole app; pages read it with useSession() / useToasts().
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, get, post, setCsrfToken, setUnauthenticatedHandler, type Me, type Membership } from './api';

const TENANT_KEY = 'tenantatlas.tenant';
const SCOPE_KEY = 'tenantatlas.scope'; // "all" when the All tenants scope is chosen
const RECENT_KEY = 'tenantatlas.recent';
const PINNED_KEY = 'tenantatlas.pinned';

function loadIds(key: string): number[] {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => Number.isInteger(x)) : [];
  } catch {
    return [];
  }
}

export interface Session {
  me: Me;
  /** The selected tenant (kept while the All tenants scope is on, for tenant pages). */
  tenant: Membership | null;
  /** The All tenants scope: cross-tenant pages show every tenant. */
  allTenants: boolean;
  setTenant: (id: number) => void;
  setAllTenants: () => void;
  recent: number[];
  pinned: number[];
  togglePin: (id: number) => void;
  membership: (id: number) => Membership | undefined;
  canOperate: (tenantId?: number) => boolean;
  tenantName: (id: number | null | undefined) => string;
  signOut: () => Promise<void>;
  refresh: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

function pickTenant(me: Me): number | null {
  const saved = Number(localStorage.getItem(TENANT_KEY));
  if (saved && me.memberships.some((m) => m.tenant_id === saved)) return saved;
  return me.memberships[0]?.tenant_id ?? null;
}

export type AuthState =
  | { kind: 'loading' }
  | { kind: 'signed-out'; reason?: string }
  | { kind: 'signed-in'; me: Me }
  | { kind: 'error'; error: ApiError };

export function useAuth() {
  const [state, setState] = useState<AuthState>({ kind: 'loading' });
  const load = useCallback(async () => {
    try {
      const me = await get<Me>('/api/v1/me');
      setCsrfToken(me.csrf_token ?? '');
      setState({ kind: 'signed-in', me });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setState({ kind: 'signed-out' });
      else setState({ kind: 'error', error: e as ApiError });
    }
  }, []);
  useEffect(() => {
    setUnauthenticatedHandler(() =>
      setState({ kind: 'signed-out', reason: 'Your session ended. Sign in again.' }),
    );
    void load();
  }, [load]);
  return { state, load, setState };
}

export function SessionProvider(props: {
  me: Me;
  onSignedOut: () => void;
  reload: () => Promise<void>;
  children: ComponentChildren;
}) {
  const { me } = props;
  const [tenantId, setTenantId] = useState<number | null>(() => pickTenant(me));
  const [allTenants, setAll] = useState(() => localStorage.getItem(SCOPE_KEY) === 'all');
  const [recent, setRecent] = useState<number[]>(() => loadIds(RECENT_KEY));
  const [pinned, setPinned] = useState<number[]>(() => loadIds(PINNED_KEY));
  const setTenant = useCallback((id: number) => {
    localStorage.setItem(TENANT_KEY, String(id));
    localStorage.removeItem(SCOPE_KEY);
    setTenantId(id);
    setAll(false);
    setRecent((r) => {
      const next = [id, ...r.filter((x) => x !== id)].slice(0, 8);
      localStorage.setItem(RECENT_KEY, JSON.stringify(next));
      return next;
    });
  }, []);
  const setAllTenants = useCallback(() => {
    localStorage.setItem(SCOPE_KEY, 'all');
    setAll(true);
  }, []);
  const togglePin = useCallback((id: number) => {
    setPinned((p) => {
      const next = p.includes(id) ? p.filter((x) => x !== id) : [...p, id];
      localStorage.setItem(PINNED_KEY, JSON.stringify(next));
      return next;
    });
  }, []);
  const value = useMemo<Session>(() => {
    const membership = (id: number) => me.memberships.find((m) => m.tenant_id === id);
    return {
      me,
      tenant: tenantId === null ? null : (membership(tenantId) ?? null),
      allTenants,
      setTenant,
      setAllTenants,
      recent,
      pinned,
      togglePin,
      membership,
      canOperate: (id?: number) => {
        const m = membership(id ?? tenantId ?? -1);
        return !!m && (m.role === 'operator' || m.role === 'owner');
      },
      tenantName: (id) => (id == null ? '—' : (membership(id)?.tenant_name ?? `tenant ${id}`)),
      signOut: async () => {
        try {
          await post('/api/v1/auth/logout');
        } finally {
          setCsrfToken('');
          props.onSignedOut();
        }
      },
      refresh: props.reload,
    };
  }, [me, tenantId, allTenants, recent, pinned, setTenant, setAllTenants, togglePin, props.onSignedOut, props.reload]);
  return <SessionContext.Provider value={value}>{props.children}</SessionContext.Provider>;
}

// ---- toasts ----

export interface Toast {
  id: number;
  kind: 'info' | 'success' | 'error';
  text: string;
  link?: { href: string; label: string };
}

interface ToastApi {
  show: (t: Omit<Toast, 'id'>) => void;
}

const ToastContext = createContext<ToastApi>({ show: () => {} });
export const useToasts = () => useContext(ToastContext);

// Calls the API, says how it went in a toast (an error names its field) and,
// when it worked, reloads what changed. Resolves to whether it worked.
export function useAction() {
  const toasts = useToasts();
  return async (call: () => Promise<unknown>, done: string, reload?: () => void): Promise<boolean> => {
    try {
      await call();
      toasts.show({ kind: 'success', text: done });
      reload?.();
      return true;
    } catch (e) {
      const err = e as ApiError;
      toasts.show({ kind: 'error', text: err.problem?.field ? `${err.problem.field}: ${err.message}` : err.message });
      return false;
    }
  };
}

export function ToastProvider(props: { children: ComponentChildren; render: (toasts: Toast[], dismiss: (id: number) => void) => ComponentChildren }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const api = useMemo<ToastApi>(
    () => ({
      show: (t) => {
        const id = next.current++;
        setToasts((ts) => [...ts.slice(-4), { ...t, id }]);
        setTimeout(() => dismiss(id), t.kind === 'error' ? 15000 : 8000);
      },
    }),
    [dismiss],
  );
  return (
    <ToastContext.Provider value={api}>
      {props.children}
      {props.render(toasts, dismiss)}
    </ToastContext.Provider>
  );
}
