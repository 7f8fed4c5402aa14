// The selected tenant's administration: its app credentials (the secret is
// never shown back), the connection check, tags, and members with their
// roles. Each control appears only for the role the API requires for it
// (credentials, tags, members: owner; the connection check: operator).
import { useEffect, useState } from 'preact/hooks';
import { ApiError, del, get, getAll, post, put, tenantPath, withQuery, type Member, type Page, type Run, type RunItem } from '../api';
import { ActionsHeader, Counts, Empty, PageTitle, ProblemView, RunLink, Show, StatusBadge, Table, When } from '../components/ui';
import { useAsync, useLiveRun } from '../hooks';
import { useAction, useSession, useToasts } from '../session';
import { useStart } from './Policies';

interface TenantInfo {
  id: number;
  name: string;
  entra_tenant_id: string | null;
  client_id: string | null;
  has_credentials: boolean;
  credential_expires_at: string | null;
  credential_expiry_source: 'entered' | 'graph' | null;
  credential_expiry: 'expired' | 'expiring' | 'valid' | 'unknown' | null;
  cloud: Cloud;
  credential_kind: 'secret' | 'certificate' | null;
  certificate_thumbprint: string | null;
  tags: string[];
  retention: TenantRetention | null;
  created_at: string;
  role: string | null;
}

interface TenantRetention {
  keep_last: number | null;
  keep_days: number | null;
  gfs_daily: number | null;
  gfs_weekly: number | null;
  gfs_monthly: number | null;
  time_zone: string;
}

function retentionSentence(r: TenantRetention | null): string {
  if (!r) return 'No tenant rule: each schedule’s own retention applies, and manual sets are kept.';
  const parts = [
    r.keep_last && `the newest ${r.keep_last}`,
    r.keep_days && `those younger than ${r.keep_days} days`,
    r.gfs_daily && `${r.gfs_daily} daily`,
    r.gfs_weekly && `${r.gfs_weekly} weekly`,
    r.gfs_monthly && `${r.gfs_monthly} monthly`,
  ].filter(Boolean);
  return `Keeps ${parts.join(', ')} (${r.time_zone}).`;
}

// The tenant's own retention rule over all its backup sets.
function Retention(props: { tenant: TenantInfo; owner: boolean; onSaved: () => void }) {
  const r = props.tenant.retention;
  const [last, setLast] = useState(r?.keep_last != null ? String(r.keep_last) : '');
  const [days, setDays] = useState(r?.keep_days != null ? String(r.keep_days) : '');
  const [zone, setZone] = useState(r?.time_zone ?? 'UTC');
  const [error, setError] = useState<ApiError | null>(null);
  const act = useAction();
  if (!props.owner) return <p>{retentionSentence(r)}</p>;
  const num = (v: string) => (v.trim() === '' ? null : Number(v));
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const rule = last.trim() === '' && days.trim() === '' ? null : { keep_last: num(last), keep_days: num(days), time_zone: zone.trim() };
    try {
      await put(tenantPath(props.tenant.id, '/retention'), { retention: rule });
      props.onSaved();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <>
      <p data-testid="tenant-retention">{retentionSentence(r)}</p>
      <form class="filters" onSubmit={save} aria-label="Retention">
        <label>
          Keep the newest
          <input name="keep_last" type="number" min={1} max={10000} value={last} onInput={(e) => setLast((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Keep those younger than (days)
          <input name="keep_days" type="number" min={1} max={10000} value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Time zone
          <input name="time_zone" value={zone} onInput={(e) => setZone((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="secondary">
          Save retention
        </button>
        {r && (
          <button type="button" class="secondary outline" onClick={() => void act(() => post(tenantPath(props.tenant.id, '/retention/apply')), 'Retention queued: the Runs page shows what it kept and deleted.')}>
            Apply now
          </button>
        )}
        <ProblemView error={error} />
      </form>
    </>
  );
}

type Cloud = 'global' | 'usgov' | 'usgovdod' | 'china';
const CLOUDS: [Cloud, string][] = [
  ['global', 'Global (commercial, GCC)'],
  ['usgov', 'US Government L4 (GCC High)'],
  ['usgovdod', 'US Government L5 (DoD)'],
  ['china', 'China (operated by 21Vianet)'],
];

// The app registration's cloud, directory and client id: both kinds of
// credentials ask for them.
function useAppFields(t: TenantInfo) {
  const [cloud, setCloud] = useState<Cloud>(t.cloud ?? 'global');
  const [entra, setEntra] = useState(t.entra_tenant_id ?? '');
  const [client, setClient] = useState(t.client_id ?? '');
  const fields = (
    <>
      <label>
        Cloud
        <select name="cloud" value={cloud} onChange={(e) => setCloud((e.target as HTMLSelectElement).value as Cloud)}>
          {CLOUDS.map(([value, title]) => (
            <option key={value} value={value}>
              {title}
            </option>
          ))}
        </select>
      </label>
      <label>
        Entra tenant id
        <input name="entra_tenant_id" required value={entra} placeholder="GUID or contoso.onmicrosoft.com" onInput={(e) => setEntra((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Application (client) id
        <input name="client_id" required value={client} onInput={(e) => setClient((e.target as HTMLInputElement).value)} />
      </label>
    </>
  );
  return { cloud, entra_tenant_id: entra.trim(), client_id: client.trim(), fields };
}

function Credentials(props: { tenant: TenantInfo; onSaved: () => void }) {
  const toasts = useToasts();
  const app = useAppFields(props.tenant);
  const [secret, setSecret] = useState('');
  const [expires, setExpires] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await put(tenantPath(props.tenant.id, '/credentials'), {
        entra_tenant_id: app.entra_tenant_id,
        client_id: app.client_id,
        client_secret: secret,
        cloud: app.cloud,
        ...(expires ? { client_secret_expires_at: expires } : {}),
      });
      setSecret('');
      setExpires('');
      toasts.show({ kind: 'success', text: `Credentials of ${props.tenant.name} saved. Check the connection next.` });
      props.onSaved();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={save} aria-label="App credentials" class="stack">
      {app.fields}
      <label>
        Client secret {props.tenant.has_credentials && <small class="muted">(one is stored; enter a new one to replace it)</small>}
        <input name="client_secret" type="password" required autocomplete="new-password" value={secret} onInput={(e) => setSecret((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Secret expires <small class="muted">(optional: the "Expires" date Entra shows; the connection check reads it itself when the app may read its registration)</small>
        <input name="client_secret_expires_at" type="date" value={expires} onInput={(e) => setExpires((e.target as HTMLInputElement).value)} />
      </label>
      <ProblemView error={error} />
      <button type="submit" disabled={busy} aria-busy={busy}>
        Save credentials
      </button>
    </form>
  );
}

// Certificate credentials: TenantAtlas makes the key pair (the private key is
// sealed and never shown) and shows the certificate to upload to the app.
function Certificate(props: { tenant: TenantInfo; onSaved: () => void }) {
  const app = useAppFields(props.tenant);
  const [days, setDays] = useState('365');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [issued, setIssued] = useState<{ pem: string; thumbprint: string; not_after: string } | null>(null);
  const make = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await post<{ certificate: { pem: string; thumbprint: string; not_after: string } }>(
        tenantPath(props.tenant.id, '/credentials/certificate'),
        { entra_tenant_id: app.entra_tenant_id, client_id: app.client_id, cloud: app.cloud, valid_days: Number(days) },
      );
      setIssued(r.data.certificate);
      props.onSaved();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={make} aria-label="Certificate credentials" class="stack">
      <p class="muted">
        Instead of a secret: TenantAtlas makes an RSA key pair, seals the private key with the master key and shows the certificate. Upload it to the
        app in Entra (Certificates &amp; secrets, Certificates), then check the connection. Making a new one replaces the stored credentials.
      </p>
      {app.fields}
      <label>
        Valid for (days)
        <input name="valid_days" type="number" min={1} max={730} required value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
      </label>
      <ProblemView error={error} />
      <button type="submit" disabled={busy} aria-busy={busy}>
        Make a certificate
      </button>
      {issued && (
        <div data-testid="issued-certificate">
          <p class="ok">
            Certificate made (thumbprint <code>{issued.thumbprint}</code>, valid until {issued.not_after.slice(0, 10)}). Upload it to the app in Entra:{' '}
            <a href={`/api/v1/tenants/${props.tenant.id}/credentials/certificate`} download>
              download the .cer file
            </a>
          </p>
          <pre class="pem">{issued.pem}</pre>
        </div>
      )}
    </form>
  );
}

// When the client secret ends, and what that means now.
function SecretExpiry(props: { tenant: TenantInfo }) {
  const t = props.tenant;
  if (!t.credential_expires_at)
    return <span class="muted">unknown: enter it with the secret, or grant Application.Read.All and check the connection</span>;
  const day = t.credential_expires_at.slice(0, 10);
  const cert = t.credential_kind === 'certificate';
  const source = t.credential_expiry_source === 'graph' ? 'read from Entra' : cert ? 'the certificate\'s end' : 'as entered';
  const renew = cert ? 'make a new certificate here and upload it to Entra' : 'create a new secret in Entra and set it here';
  if (t.credential_expiry === 'expired')
    return <strong class="bad">expired on {day}: {cert ? 'make a new certificate' : 'set a new secret'} ({source})</strong>;
  if (t.credential_expiry === 'expiring')
    return <strong class="warn">{day}, within 30 days: {renew} ({source})</strong>;
  return (
    <span>
      {day} <span class="muted">({source})</span>
    </span>
  );
}

function ConnectionCheck(props: { tenant: TenantInfo; onChecked: () => void }) {
  const session = useSession();
  const start = useStart();
  const latest = useAsync(
    () => get<Page<Run>>(withQuery('/api/v1/runs', { tenant: props.tenant.id, type: 'tenant.connection_check', limit: 1 })),
    [props.tenant.id],
  );
  const [started, setStarted] = useState<Run | null>(null);
  const { run } = useLiveRun(started ?? latest.data?.items[0] ?? null);
  const ended = !!run && !run.active;
  const items = useAsync(
    () => (run && ended ? getAll<RunItem>(`${tenantPath(run.tenant_id, `/runs/${run.id}`)}/items`) : Promise.resolve(null)),
    [run?.id, ended],
  );
  const problems = (items.data?.items ?? []).filter((i) => i.outcome === 'failed');
  // The secret's expiry could not be read: not a failure, but say how to fix it.
  const expiry = (items.data?.items ?? []).find((i) => i.item_ref === 'credential:expiry' && i.outcome === 'skipped');
  // What the token's roles do not grant, with the object types each would open.
  const grant = ((items.data?.items ?? []).find((i) => i.item_ref === 'permissions')?.details?.grant ?? []) as {
    permission: string;
    for: 'read' | 'write';
    types: string[];
  }[];
  // A check started here may have read the secret's expiry: show it.
  const onChecked = props.onChecked;
  useEffect(() => {
    if (started && ended) onChecked();
  }, [started?.id, ended]);
  const check = async () => {
    const s = await start(tenantPath(props.tenant.id, '/connection-check'), `Connection check of ${props.tenant.name}`);
    if (s) setStarted(s.run);
  };
  return (
    <div data-testid="connection-check">
      {session.canOperate(props.tenant.id) && (
        <button type="button" onClick={() => void check()} disabled={!!run?.active} aria-busy={!!run?.active}>
          Check the connection
        </button>
      )}
      {!run ? (
        <p class="muted">Not checked yet.</p>
      ) : (
        <div>
          <p class="run-inline">
            Last check: <RunLink run={run} /> <StatusBadge status={run.status} /> <Counts run={run} />{' '}
            <When at={run.finished_at ?? run.created_at} />
          </p>
          {ended && run.status === 'succeeded' && <p class="ok">TenantAtlas gets a token and can read every object type.</p>}
          {expiry?.error && <p class="muted" data-testid="expiry-note">Secret expiry: {expiry.error.message}</p>}
          {grant.length > 0 && (
            <div data-testid="permissions-to-grant">
              <p>
                <strong>Permissions to grant</strong> <span class="muted">(Entra: the app's API permissions, Microsoft Graph, application permissions; then grant admin consent)</span>
              </p>
              <ul>
                {grant.map((g) => (
                  <li key={g.permission}>
                    <code>{g.permission}</code>: {g.for === 'read' ? 'to back up' : 'to restore'} {g.types.join(', ')}
                  </li>
                ))}
              </ul>
            </div>
          )}
          {problems.length > 0 && (
            <ul data-testid="connection-problems">
              {problems.map((i) => (
                <li key={i.id}>
                  <strong>{i.item_ref === 'token' ? 'Token' : (i.details?.name as string | undefined) ?? i.item_ref}:</strong> {i.error?.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

function Tags(props: { tenant: TenantInfo; owner: boolean; onSaved: () => void }) {
  const [text, setText] = useState(props.tenant.tags.join(', '));
  const [error, setError] = useState<ApiError | null>(null);
  const toasts = useToasts();
  if (!props.owner)
    return <p>{props.tenant.tags.length ? props.tenant.tags.map((t) => <span key={t} class="badge">{t}</span>) : <span class="muted">No tags.</span>}</p>;
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const tags = text.split(',').map((t) => t.trim()).filter(Boolean);
      await put(tenantPath(props.tenant.id, '/tags'), { tags });
      toasts.show({ kind: 'success', text: 'Tags saved.' });
      props.onSaved();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <form class="filters" onSubmit={save} aria-label="Tags">
      <label>
        Tags, separated by commas
        <input name="tags" value={text} placeholder="dental, eu, gold" onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" class="secondary">
        Save tags
      </button>
      <ProblemView error={error} />
    </form>
  );
}

function Members(props: { tenant: TenantInfo; owner: boolean }) {
  const toasts = useToasts();
  const session = useSession();
  const members = useAsync(() => get<{ items: Member[] }>(tenantPath(props.tenant.id, '/members')), [props.tenant.id]);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('operator');
  const [error, setError] = useState<ApiError | null>(null);
  const setMember = async (mail: string, r: string) => {
    setError(null);
    try {
      await post(tenantPath(props.tenant.id, '/members'), { email: mail, role: r });
      toasts.show({ kind: 'success', text: `${mail} is now ${r} of ${props.tenant.name}.` });
      setEmail('');
      members.reload();
      if (mail === session.me.user.email) void session.refresh();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const remove = async (m: Member) => {
    if (!window.confirm(`Remove ${m.email} from ${props.tenant.name}?`)) return;
    try {
      await del(tenantPath(props.tenant.id, `/members/${m.user_id}`));
      members.reload();
    } catch (err) {
      toasts.show({ kind: 'error', text: (err as ApiError).message });
    }
  };
  return (
    <>
      <Show value={members} loading="Loading members…">
        {(d) =>
          d.items.length === 0 ? (
            <Empty>No members.</Empty>
          ) : (
            <Table testId="members-table" label="Members" head={['Email', 'Role', ...(props.owner ? [<ActionsHeader key="a" />] : [])]}>
              {d.items.map((m) => (
                <tr key={m.user_id}>
                  <td>{m.email}</td>
                  <td>
                    {props.owner ? (
                      <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => void setMember(m.email, (e.target as HTMLSelectElement).value)}>
                        <option value="readonly">readonly</option>
                        <option value="operator">operator</option>
                        <option value="owner">owner</option>
                      </select>
                    ) : (
                      m.role
                    )}
                  </td>
                  {props.owner && (
                    <td>
                      <button type="button" class="secondary outline small" onClick={() => void remove(m)}>
                        Remove {m.email}
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </Table>
          )
        }
      </Show>
      {props.owner && (
        <form class="filters" aria-label="Add a member" onSubmit={(e) => { e.preventDefault(); void setMember(email.trim(), role); }}>
          <label>
            Email of an existing user
            <input name="member-email" type="email" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
              <option value="readonly">readonly</option>
              <option value="operator">operator</option>
              <option value="owner">owner</option>
            </select>
          </label>
          <button type="submit" class="secondary">
            Add member
          </button>
        </form>
      )}
      <ProblemView error={error} />
    </>
  );
}

export function TenantPage() {
  const session = useSession();
  const id = session.tenant!.tenant_id;
  const tenant = useAsync(() => get<TenantInfo>(tenantPath(id, '')), [id]);
  const owner = session.tenant!.role === 'owner';
  return (
    <section>
      <PageTitle>Tenant · {session.tenant!.tenant_name}</PageTitle>
      <Show value={tenant} loading="Loading the tenant…">
        {(t) => (
          <>
            <article class="card" aria-labelledby="conn-h">
              <h2 id="conn-h">Connection</h2>
              <dl class="facts">
                <dt>Entra tenant id</dt>
                <dd>{t.entra_tenant_id ?? <span class="muted">not set</span>}</dd>
                <dt>Application (client) id</dt>
                <dd>{t.client_id ?? <span class="muted">not set</span>}</dd>
                <dt>Cloud</dt>
                <dd data-testid="tenant-cloud">{CLOUDS.find(([c]) => c === t.cloud)?.[1] ?? t.cloud}</dd>
                <dt>{t.credential_kind === 'certificate' ? 'Certificate' : 'Client secret'}</dt>
                <dd data-testid="credential-kind">
                  {!t.has_credentials ? (
                    <strong class="bad">none: syncs and backups cannot run</strong>
                  ) : t.credential_kind === 'certificate' ? (
                    <span>
                      thumbprint <code>{t.certificate_thumbprint}</code>; private key sealed, never shown;{' '}
                      <a href={`/api/v1/tenants/${t.id}/credentials/certificate`} download>
                        download the certificate
                      </a>
                    </span>
                  ) : (
                    'stored, sealed; never shown'
                  )}
                </dd>
                {t.has_credentials && (
                  <>
                    <dt>{t.credential_kind === 'certificate' ? 'Certificate expires' : 'Secret expires'}</dt>
                    <dd data-testid="secret-expiry">
                      <SecretExpiry tenant={t} />
                    </dd>
                  </>
                )}
              </dl>
              <ConnectionCheck tenant={t} onChecked={tenant.reload} />
            </article>
            {owner ? (
              <article class="card" aria-labelledby="cred-h">
                <h2 id="cred-h">App credentials</h2>
                <p class="muted">
                  The Entra app registration TenantAtlas signs in with (application permissions for Intune read and write,
                  admin-consented). The secret is sealed with the server's master key.
                </p>
                <Credentials tenant={t} onSaved={tenant.reload} />
                <details>
                  <summary>Use a certificate instead of a secret</summary>
                  <Certificate tenant={t} onSaved={tenant.reload} />
                </details>
              </article>
            ) : (
              !t.has_credentials && <p class="problem">This tenant has no app credentials. Ask an owner of {t.name} to set them on this page.</p>
            )}
            <article class="card" aria-labelledby="tags-h">
              <h2 id="tags-h">Tags</h2>
              <p class="muted">Tags find this tenant in the tenant picker.</p>
              <Tags tenant={t} owner={owner} onSaved={() => { tenant.reload(); void session.refresh(); }} />
            </article>
            <article class="card" aria-labelledby="retention-h">
              <h2 id="retention-h">Retention</h2>
              <p class="muted">
                A rule over every backup set of this tenant, manual and scheduled. A set is deleted only when no rule that applies to it keeps it
                (its schedule's or this one); pinned sets, the drift baseline and the newest successful backup are always kept. GFS rules: the API.
              </p>
              <Retention tenant={t} owner={owner} onSaved={tenant.reload} />
            </article>
            <article class="card" aria-labelledby="members-h">
              <h2 id="members-h">Members and roles</h2>
              <p class="muted">readonly: sees everything; operator: also syncs, backs up and restores; owner: also manages credentials and members.</p>
              <Members tenant={t} owner={owner} />
            </article>
          </>
        )}
      </Show>
    </section>
  );
}
