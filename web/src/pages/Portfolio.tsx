// The MSP's morning screen: every tenant with its last successful backup and
// how old it is, the next scheduled backup, failed runs in the last 24 h,
// credential health and what needs attention. Sorted and filtered by the
// server, 50 at a time, so it stays quick at thousands of tenants.
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError, get, post, put, withQuery } from '../api';
import { Empty, PageTitle, Pager, ProblemView, Show, Table, When } from '../components/ui';
import { useAsync, useCursor } from '../hooks';
import { useSession } from '../session';

interface Row {
  tenant_id: number;
  name: string;
  tags: string[];
  last_backup: { at: string; age_seconds: number; backup_set_id: number } | null;
  next_backup: { at: string; schedule: string } | null;
  failed_runs_24h: number;
  credentials: 'missing' | 'expired' | 'failing' | 'expiring' | 'unchecked' | 'ok';
  credential_expires_at: string | null;
  attention: string[];
}

type Sort = 'name' | 'last_backup' | 'failed_runs' | 'next_backup' | 'credentials';

const CREDENTIALS: Record<Row['credentials'], string> = {
  ok: 'ok',
  unchecked: 'not checked yet',
  missing: 'missing',
  failing: 'check failed',
  expired: 'secret expired',
  expiring: 'secret expiring',
};

/** "3 h", "2 days": how old a backup is. */
function age(seconds: number): string {
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h`;
  const d = Math.round(seconds / 86400);
  return `${d} day${d === 1 ? '' : 's'}`;
}

type Cloud = 'global' | 'usgov' | 'usgovdod' | 'china';

// Add a tenant, either way: the customer's admin consents to the MSP's own
// multi-tenant app (a link to send them), or the tenant gets its own app
// registration (its credentials are set on its Tenant page).
function AddTenant(props: { onAdded: () => void }) {
  const { route } = useLocation();
  const app = useAsync(() => get<{ client_id: string; credential_kind: string }>('/api/v1/platform/app').catch(() => null), []);
  const [name, setName] = useState('');
  const [cloud, setCloud] = useState<Cloud>('global');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [link, setLink] = useState<{ consent_url: string; expires_at: string } | null>(null);
  const [clientId, setClientId] = useState('');
  const [secret, setSecret] = useState('');
  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await what();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const consent = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const r = await post<{ consent_url: string; expires_at: string }>('/api/v1/onboarding', { ...(name.trim() ? { name: name.trim() } : {}), cloud });
      setLink(r.data);
    });
  };
  const ownApp = () =>
    void run(async () => {
      const r = await post<{ id: number }>('/api/v1/tenants', { name: name.trim() });
      props.onAdded();
      route(`/tenant?tenant=${r.data.id}`);
    });
  const configure = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await put('/api/v1/platform/app', { client_id: clientId.trim(), ...(secret ? { client_secret: secret } : {}) });
      setSecret('');
      app.reload();
    });
  };
  return (
    <details class="card">
      <summary>Add a tenant</summary>
      <form onSubmit={consent} aria-label="Add a tenant" class="stack">
        <label>
          Name <small class="muted">(optional with admin consent: the directory's name is used)</small>
          <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Cloud
          <select name="cloud" value={cloud} onChange={(e) => setCloud((e.target as HTMLSelectElement).value as Cloud)}>
            <option value="global">Global (commercial, GCC)</option>
            <option value="usgov">US Government L4 (GCC High)</option>
            <option value="usgovdod">US Government L5 (DoD)</option>
            <option value="china">China (operated by 21Vianet)</option>
          </select>
        </label>
        <ProblemView error={error} />
        <div class="row">
          <button type="submit" disabled={busy || !app.data} aria-busy={busy}>
            Get an admin-consent link
          </button>
          <button type="button" class="secondary" disabled={busy || !name.trim()} onClick={ownApp}>
            Add with its own app registration
          </button>
        </div>
        {link && (
          <p data-testid="consent-link" class="ok">
            Send this link to the customer's Global Administrator (good once, until {link.expires_at.slice(0, 16).replace('T', ' ')} UTC). After consent
            the tenant appears here and its connection is checked: <a href={link.consent_url}>{link.consent_url}</a>
          </p>
        )}
      </form>
      {app.data === null && (
        <form onSubmit={configure} aria-label="MSP app" class="stack">
          <p class="muted">
            Admin consent needs the MSP's own multi-tenant app registration (redirect URI: this server's <code>/api/v1/onboarding/callback</code>).
            Without a secret, TenantAtlas makes a certificate to upload to it.
          </p>
          <label>
            MSP app client id
            <input name="msp_client_id" required value={clientId} onInput={(e) => setClientId((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Client secret <small class="muted">(optional)</small>
            <input name="msp_client_secret" type="password" autocomplete="new-password" value={secret} onInput={(e) => setSecret((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" disabled={busy}>
            Save the MSP app
          </button>
        </form>
      )}
    </details>
  );
}

interface ImportRow {
  line: number;
  name: string;
  status: 'created' | 'exists' | 'failed';
  tenant_id: number | null;
  error?: { field: string; message: string };
}

// Platform admins add many tenants from a CSV file: each row's result, a bad
// row naming its column; the good rows are created whatever the bad ones say.
function ImportTenants(props: { onImported: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [result, setResult] = useState<{ created: number; exists: number; failed: number; rows: ImportRow[] } | null>(null);
  const upload = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const r = await post<{ created: number; exists: number; failed: number; rows: ImportRow[] }>('/api/v1/tenants/import', {
        csv: await file.text(),
      });
      setResult(r.data);
      props.onImported();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="card">
      <summary>Import tenants from CSV</summary>
      <form onSubmit={upload} aria-label="Import tenants" class="stack">
        <p class="muted">
          Columns: <code>name</code>, <code>entra_tenant_id</code>, <code>cloud</code> (global, usgov, usgovdod, china), <code>tags</code> (separated by
          ";"). A name that exists is left as it is, so importing a file twice is safe. Set each tenant's credentials on its Tenant page.
        </p>
        <label>
          CSV file
          <input type="file" name="csv" accept=".csv,text/csv" required onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
        </label>
        <ProblemView error={error} />
        <button type="submit" disabled={busy || !file} aria-busy={busy}>
          Import
        </button>
      </form>
      {result && (
        <div data-testid="import-result">
          <p>
            {result.created} created, {result.exists} already there, {result.failed} failed.
          </p>
          <Table testId="import-rows" label="Import results" head={['Line', 'Name', 'Result']}>
            {result.rows.map((r) => (
              <tr key={r.line}>
                <td>{r.line}</td>
                <td>{r.name}</td>
                <td>{r.status === 'failed' ? <span class="bad">{r.error?.message}</span> : r.status === 'created' ? 'created' : 'already there'}</td>
              </tr>
            ))}
          </Table>
        </div>
      )}
    </details>
  );
}

export function PortfolioPage() {
  const session = useSession();
  const [q, setQ] = useState('');
  const [attention, setAttention] = useState(false);
  const [sort, setSort] = useState<Sort>('name');
  const [desc, setDesc] = useState(false);
  const paging = useCursor(`${q}|${attention}|${sort}|${desc}`);
  const rows = useAsync(
    () =>
      get<{ items: Row[]; total: number; next_cursor: string | null }>(
        withQuery('/api/v1/portfolio', {
          q: q.trim() || undefined,
          attention: attention ? 'true' : undefined,
          sort,
          order: desc ? 'desc' : 'asc',
          cursor: paging.cursor,
          limit: 50,
        }),
      ),
    [q, attention, sort, desc, paging.cursor],
  );
  const header = (key: Sort, label: string) => (
    <button
      type="button"
      class="link"
      aria-label={`Sort by ${label}${sort === key ? (desc ? ', descending' : ', ascending') : ''}`}
      onClick={() => {
        if (sort === key) setDesc(!desc);
        else {
          setSort(key);
          setDesc(false);
        }
      }}
    >
      {label}
      {sort === key ? (desc ? ' ▼' : ' ▲') : ''}
    </button>
  );
  return (
    <section>
      <PageTitle>Portfolio</PageTitle>
      {session.me.user.is_platform_admin && (
        <AddTenant
          onAdded={() => {
            void session.refresh();
          }}
        />
      )}
      {session.me.user.is_platform_admin && (
        <ImportTenants
          onImported={() => {
            rows.reload();
            void session.refresh();
          }}
        />
      )}
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter tenants">
        <label>
          Find tenants
          <input type="search" name="q" value={q} placeholder="name or tag" onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        </label>
        <label class="inline">
          <input type="checkbox" checked={attention} onChange={(e) => setAttention((e.target as HTMLInputElement).checked)} />
          Only tenants that need attention
        </label>
      </form>
      <Show value={rows} loading="Loading tenants…">
        {(d) =>
          d.items.length === 0 ? (
            <Empty>{attention ? 'Nothing needs attention.' : 'No tenants match.'}</Empty>
          ) : (
            <>
              <p class="muted" data-testid="portfolio-total">
                {d.total} tenant{d.total === 1 ? '' : 's'}
              </p>
              <Table
                testId="portfolio-table"
                label="Tenants"
                head={[
                  header('name', 'Tenant'),
                  header('last_backup', 'Last successful backup'),
                  header('next_backup', 'Next backup'),
                  header('failed_runs', 'Failed runs (24 h)'),
                  header('credentials', 'Credentials'),
                  'Needs attention',
                ]}
              >
                {d.items.map((r) => (
                  <tr key={r.tenant_id} data-testid="portfolio-row">
                    <td>
                      <button type="button" class="link" onClick={() => session.setTenant(r.tenant_id)}>
                        {r.name}
                      </button>
                      {r.tags.map((t) => (
                        <span class="badge" key={t}>
                          {t}
                        </span>
                      ))}
                    </td>
                    <td>
                      {r.last_backup ? (
                        <>
                          <When at={r.last_backup.at} /> <span class="muted">({age(r.last_backup.age_seconds)} old)</span>
                        </>
                      ) : (
                        'never'
                      )}
                    </td>
                    <td>
                      {r.next_backup ? (
                        <>
                          <When at={r.next_backup.at} /> <span class="muted">({r.next_backup.schedule})</span>
                        </>
                      ) : (
                        'not scheduled'
                      )}
                    </td>
                    <td>{r.failed_runs_24h > 0 ? <a href={`/runs?tenant=${r.tenant_id}`}>{r.failed_runs_24h}</a> : '0'}</td>
                    <td>
                      {CREDENTIALS[r.credentials]}
                      {r.credential_expires_at && (r.credentials === 'expired' || r.credentials === 'expiring') && (
                        <small class="muted"> ({r.credential_expires_at.slice(0, 10)})</small>
                      )}
                    </td>
                    <td>{r.attention.length ? r.attention.join('; ') : '—'}</td>
                  </tr>
                ))}
              </Table>
              <Pager page={paging.page} nextCursor={d.next_cursor} onNext={paging.next} onPrev={paging.prev} />
            </>
          )
        }
      </Show>
    </section>
  );
}
