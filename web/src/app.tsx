import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useCallback } from 'preact/hooks';
import { ActiveRuns } from './components/ActiveRuns';
import { NotificationsBell } from './components/Notifications';
import { ErrorPage, Loading, ProblemView } from './components/ui';
import { AuditPage } from './pages/Audit';
import { BackupSetPage, BackupSetsPage } from './pages/BackupSets';
import { LoginPage } from './pages/Login';
import { PoliciesPage } from './pages/Policies';
import { PolicyPage } from './pages/Policy';
import { RestoreWizard } from './pages/restore/Wizard';
import { RunPage } from './pages/Run';
import { RunsPage } from './pages/Runs';
import { SessionProvider, ToastProvider, useAuth, useSession, type Toast } from './session';

const NAV = [
  ['/policies', 'Policies'],
  ['/backup-sets', 'Backup sets'],
  ['/restore', 'Restore'],
  ['/runs', 'Runs'],
  ['/audit', 'Audit log'],
] as const;

function TenantSwitcher() {
  const session = useSession();
  const { path, route } = useLocation();
  const ms = session.me.memberships;
  if (ms.length === 0) return null;
  return (
    <label class="tenant-switcher">
      <span class="visually-hidden">Tenant</span>
      <select
        aria-label="Tenant"
        value={session.tenant?.tenant_id ?? ''}
        onChange={(e) => {
          session.setTenant(Number((e.target as HTMLSelectElement).value));
          // A record page belongs to the old tenant: go to its section's list.
          const section = NAV.find(([p]) => path.startsWith(p));
          if (section && path !== section[0]) route(section[0]);
        }}
      >
        {ms.map((m) => (
          <option key={m.tenant_id} value={m.tenant_id}>
            {m.tenant_name} ({m.role})
          </option>
        ))}
      </select>
    </label>
  );
}

function Header() {
  const session = useSession();
  const { path } = useLocation();
  const canRestore = session.me.memberships.some((m) => m.role !== 'readonly');
  return (
    <header class="app-header">
      <nav class="top">
        <a href="/policies" class="brand">
          TenantAtlas
        </a>
        <ul class="sections">
          {NAV.filter(([href]) => href !== '/restore' || canRestore).map(([href, label]) => (
            <li key={href}>
              <a href={href} aria-current={path.startsWith(href) ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
        <div class="right">
          <TenantSwitcher />
          <NotificationsBell />
          <span class="user" title={session.me.user.email}>
            {session.me.user.display_name || session.me.user.email}
          </span>
          <button type="button" class="secondary outline" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </nav>
      <ActiveRuns />
    </header>
  );
}

function Toasts(props: { toasts: Toast[]; dismiss: (id: number) => void }) {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {props.toasts.map((t) => (
        <div key={t.id} class={`toast ${t.kind}`} data-testid="toast">
          <span>{t.text}</span>
          {t.link && <a href={t.link.href}>{t.link.label}</a>}
          <button type="button" class="close" aria-label="Dismiss" onClick={() => props.dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

function NoTenant() {
  return (
    <section>
      <h1>No tenants yet</h1>
      <p>
        You are not a member of any tenant. Ask a tenant owner to add you, or a platform administrator to
        create a tenant (<code>tenantatlas tenant add</code>).
      </p>
    </section>
  );
}

function SignedIn() {
  const session = useSession();
  return (
    <>
      <Header />
      <main class="container-fluid">
        {session.tenant === null ? (
          <NoTenant />
        ) : (
          <Router>
            <Route path="/" component={PoliciesPage} />
            <Route path="/login" component={PoliciesPage} />
            <Route path="/policies" component={PoliciesPage} />
            <Route path="/policies/:id" component={PolicyPage} />
            <Route path="/backup-sets" component={BackupSetsPage} />
            <Route path="/backup-sets/:id" component={BackupSetPage} />
            <Route path="/restore" component={RestoreWizard} />
            <Route path="/runs" component={RunsPage} />
            <Route path="/runs/:id" component={RunPage} />
            <Route path="/audit" component={AuditPage} />
            <Route default component={() => <ErrorPage status={404} detail="There is no page at this address." />} />
          </Router>
        )}
      </main>
    </>
  );
}

function Root() {
  const { state, load, setState } = useAuth();
  const signedOut = useCallback(() => setState({ kind: 'signed-out' }), [setState]);
  if (state.kind === 'loading') return <main class="container"><Loading label="Starting…" /></main>;
  if (state.kind === 'error')
    return (
      <main class="container">
        <ProblemView error={state.error} onRetry={() => void load()} />
      </main>
    );
  if (state.kind === 'signed-out') return <LoginPage reason={state.reason} onSignedIn={load} />;
  return (
    <SessionProvider me={state.me} onSignedOut={signedOut} reload={load}>
      <SignedIn />
    </SessionProvider>
  );
}

export function App() {
  return (
    <LocationProvider>
      <ToastProvider render={(toasts, dismiss) => <Toasts toasts={toasts} dismiss={dismiss} />}>
        <Root />
      </ToastProvider>
    </LocationProvider>
  );
}
