// Who is signed in, which tenant is selected, and the toasts. One context for
// the whole app; pages read it with useSession() / useToasts().
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, get, post, setCsrfToken, setUnauthenticatedHandler, type Me, type Membership } from './api';

const TENANT_KEY = 'tenantatlas.tenant';

export interface Session {
  me: Me;
  tenant: Membership | null;
  setTenant: (id: number) => void;
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
  const setTenant = useCallback((id: number) => {
    localStorage.setItem(TENANT_KEY, String(id));
    setTenantId(id);
  }, []);
  const value = useMemo<Session>(() => {
    const membership = (id: number) => me.memberships.find((m) => m.tenant_id === id);
    return {
      me,
      tenant: tenantId === null ? null : (membership(tenantId) ?? null),
      setTenant,
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
  }, [me, tenantId, setTenant, props.onSignedOut, props.reload]);
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
