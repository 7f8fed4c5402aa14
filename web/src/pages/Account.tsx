// The signed-in user's own account: notification preference and API tokens
// (created here, the secret shown once; revoked here). The API permits each
// user exactly their own tokens, and so does this page.
import { useState } from 'preact/hooks';
import { ApiError, del, get, post } from '../api';
import { Preference } from '../components/Notifications';
import { ActionsHeader, Empty, PageTitle, ProblemView, Show, Table, When } from '../components/ui';
import { useAsync } from '../hooks';
import { useAction, useSession, useToasts } from '../session';

interface Token {
  id: number;
  name: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export function AccountPage() {
  const session = useSession();
  const toasts = useToasts();
  const act = useAction();
  const tokens = useAsync(() => get<{ items: Token[] }>('/api/v1/tokens'), []);
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [error, setError] = useState<ApiError | null>(null);
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { name: name.trim() };
      if (days) body.expires_in_days = Number(days);
      const r = await post<{ token: Token; secret: string }>('/api/v1/tokens', body);
      setSecret({ name: r.data.token.name, value: r.data.secret });
      setName('');
      tokens.reload();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const revoke = (t: Token) => {
    if (!window.confirm(`Revoke the token “${t.name}”? Scripts using it stop working at once.`)) return;
    void act(() => del(`/api/v1/tokens/${t.id}`), `Token “${t.name}” revoked.`, tokens.reload);
  };

  return (
    <section>
      <PageTitle>Your account</PageTitle>
      <p>
        Signed in as <strong>{session.me.user.email}</strong>
        {session.me.user.is_platform_admin ? ' (platform administrator)' : ''}, member of{' '}
        {session.me.memberships.length} tenant{session.me.memberships.length === 1 ? '' : 's'}.
      </p>
      <article class="card" aria-labelledby="notify-h">
        <h2 id="notify-h">Notifications</h2>
        <p class="muted">Each run you start has one notification, updated as it moves on.</p>
        <Preference />
      </article>
      <article class="card" aria-labelledby="tokens-h">
        <h2 id="tokens-h">API tokens</h2>
        <p class="muted">
          A token acts as you in scripts and the CLI (<code>Authorization: Bearer …</code>), with your roles in each
          tenant. Its secret is shown once, when it is created.
        </p>
        {secret && (
          <div class="card" role="status" data-testid="new-token">
            <p>
              Copy the secret of <strong>{secret.name}</strong> now; it is not shown again:
            </p>
            <code class="details" data-testid="token-secret">
              {secret.value}
            </code>
            <div class="row-actions">
              <button
                type="button"
                class="secondary outline small"
                onClick={() => void navigator.clipboard?.writeText(secret.value).then(() => toasts.show({ kind: 'info', text: 'Copied.' }))}
              >
                Copy
              </button>
              <button type="button" class="secondary outline small" onClick={() => setSecret(null)}>
                Done
              </button>
            </div>
          </div>
        )}
        <form class="filters" onSubmit={create} aria-label="New API token">
          <label>
            Token name
            <input name="token-name" required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} placeholder="e.g. nightly export" />
          </label>
          <label>
            Expires after
            <select value={days} onChange={(e) => setDays((e.target as HTMLSelectElement).value)}>
              <option value="30">30 days</option>
              <option value="90">90 days</option>
              <option value="365">1 year</option>
              <option value="">never</option>
            </select>
          </label>
          <button type="submit" disabled={busy || !name.trim()} aria-busy={busy}>
            Create token
          </button>
        </form>
        <ProblemView error={error} />
        <Show value={tokens} loading="Loading tokens…">
          {(d) =>
            d.items.length === 0 ? (
              <Empty>You have no API tokens.</Empty>
            ) : (
              <Table testId="tokens-table" label="API tokens" head={['Name', 'Created', 'Last used', 'Expires', 'State', <ActionsHeader key="a" />]}>
                {d.items.map((t) => (
                  <tr key={t.id}>
                    <td>{t.name}</td>
                    <td>
                      <When at={t.created_at} />
                    </td>
                    <td>{t.last_used_at ? <When at={t.last_used_at} /> : 'never'}</td>
                    <td>{t.expires_at ? <When at={t.expires_at} /> : 'never'}</td>
                    <td>{t.revoked_at ? 'revoked' : t.expires_at && new Date(t.expires_at) < new Date() ? 'expired' : 'active'}</td>
                    <td>
                      {!t.revoked_at && (
                        <button type="button" class="secondary outline small" onClick={() => void revoke(t)}>
                          Revoke {t.name}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </Table>
            )
          }
        </Show>
      </article>
    </section>
  );
}
