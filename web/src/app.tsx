import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useCallback, useEffect, useRef } from 'preact/hooks';
import { ActiveRuns } from './components/ActiveRuns';
import { NotificationsBell } from './components/Notifications';
import { TenantPicker, TenantSearch } from './components/TenantPicker';
import { ErrorPage, Loading, ProblemView } from './components/ui';
import { AccountPage } from './pages/Account';
import { AlertsPage } from './pages/Alerts';
import { AuditPage } from './pages/Audit';
import { BackupSetPage, BackupSetsPage } from './pages/BackupSets';
import { DriftPage } from './pages/Drift';
import { LoginPage } from './pages/Login';
import { PoliciesPage } from './pages/Policies';
import { PortfolioPage } from './pages/Portfolio';
import { PolicyPage } from './pages/Policy';
import { RestoreWizard } from './pages/restore/Wizard';
import { RunPage } from './pages/Run';
import { RunsPage } from './pages/Runs';
import { SchedulesPage } from './pages/Schedules';
import { TenantPage } from './pages/Tenant';
import { SessionProvider, ToastProvider, useAuth, useSession, type Toast } from './session';

const NAV = [
  ['/portfolio', 'Portfolio'],
  ['/policies', 'Policies'],
  ['/backup-sets', 'Backup sets'],
  ['/drift', 'Drift'],
  ['/restore', 'Restore'],
  ['/runs', 'Runs'],
  ['/schedules', 'Schedules'],
  ['/alerts', 'Alerts'],
  ['/audit', 'Audit log'],
  ['/tenant', 'Tenant'],
] as const;

// Pages that show every tenant in the All tenants scope; the others need one tenant.
const CROSS_TENANT = ['/runs', '/account', '/schedules', '/portfolio', '/alerts'];

function Header() {
  const session = useSession();
  const { path } = useLocation();
  const canRestore = session.me.memberships.some((m) => m.role !== 'readonly');
  return (
    <header class="app-header">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <nav class="top" aria-label="Main">
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
          <TenantPicker />
          <NotificationsBell />
          <a href="/account" class="user" title={`${session.me.user.email}: your account, API tokens and notifications`}>
            {session.me.user.display_name || session.me.user.email}
          </a>
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

// In the All tenants scope, a page about one tenant asks which one.
function ChooseTenant() {
  const session = useSession();
  return (
    <section class="card">
      <h1>Which tenant?</h1>
      <p>
        This page shows one tenant at a time. Pick one, or open <a href="/runs">Runs</a> to see every tenant's runs.
      </p>
      <TenantSearch tenants={session.me.memberships} label="Find a tenant" onPick={(m) => m && session.setTenant(m.tenant_id)} />
    </section>
  );
}

function SignedIn() {
  const session = useSession();
  const { path, route } = useLocation();
  // Switching tenants on a record page (a policy, a set, a run) goes to its
  // section's list: the record belongs to the old tenant.
  const shown = useRef(session.tenant?.tenant_id);
  useEffect(() => {
    const id = session.tenant?.tenant_id;
    if (shown.current !== undefined && id !== shown.current) {
      const section = NAV.find(([p]) => path.startsWith(p));
      if (section && path !== section[0]) route(section[0]);
    }
    shown.current = id;
  }, [session.tenant?.tenant_id]);
  const needsTenant = session.allTenants && !CROSS_TENANT.some((p) => path.startsWith(p));
  return (
    <>
      <Header />
      <main class="container-fluid" id="main" tabIndex={-1}>
        {session.tenant === null && !path.startsWith('/account') ? (
          <NoTenant />
        ) : needsTenant ? (
          <ChooseTenant />
        ) : (
          <Router>
            <Route path="/" component={PoliciesPage} />
            <Route path="/login" component={PoliciesPage} />
            <Route path="/policies" component={PoliciesPage} />
            <Route path="/policies/:id" component={PolicyPage} />
            <Route path="/backup-sets" component={BackupSetsPage} />
            <Route path="/backup-sets/:id" component={BackupSetPage} />
            <Route path="/drift" component={DriftPage} />
            <Route path="/restore" component={RestoreWizard} />
            <Route path="/runs" component={RunsPage} />
            <Route path="/runs/:id" component={RunPage} />
            <Route path="/schedules" component={SchedulesPage} />
            <Route path="/portfolio" component={PortfolioPage} />
            <Route path="/alerts" component={AlertsPage} />
            <Route path="/audit" component={AuditPage} />
            <Route path="/tenant" component={TenantPage} />
            <Route path="/account" component={AccountPage} />
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
