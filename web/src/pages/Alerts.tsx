// Alert channels: where TenantAtlas says that a run failed, a backup was
// missed or retention deleted sets. A tenant's owners manage its channels;
// platform admins also manage channels for every tenant. A webhook's signing
// secret is shown once, when the channel is created; a URL is shown by its
// host only (its path is often the receiver's credential).
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, del, get, post, put } from '../api';
import { ActionsHeader, Empty, PageTitle, ProblemView, Show, Switch, Table, When } from '../components/ui';
import { useAsync } from '../hooks';
import { useAction, useSession } from '../session';

interface Channel {
  id: number;
  tenant_id: number | null;
  name: string;
  kind: 'webhook' | 'chat' | 'email';
  target: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  consecutive_failures: number;
}

interface Delivery {
  id: number;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_error: string | null;
  created_at: string;
}

const EVENTS: Record<string, string> = {
  'run.failed': 'A run failed',
  'run.partially_succeeded': 'A run partially succeeded',
  'backup.missed': 'A scheduled backup was missed',
  'backup.overdue': 'A scheduled backup did not succeed (overdue)',
  'retention.deleted': 'Retention deleted backup sets',
  'drift.detected': 'Drift detected (new findings)',
  'credentials.invalid': 'Microsoft refused a tenant’s credentials',
  'credentials.expiring': 'A tenant’s client secret expires within 30 days, 7 days, or has expired',
};

const KINDS = { webhook: 'Webhook (signed)', chat: 'Teams or Slack', email: 'Email' } as const;

export function AlertsPage() {
  const session = useSession();
  const channels = useAsync(() => get<{ items: Channel[] }>('/api/v1/alert-channels'), []);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Channel | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const owned = session.me.memberships.filter((m) => m.role === 'owner');
  const admin = session.me.user.is_platform_admin;
  const scopeName = (c: Channel) => (c.tenant_id === null ? 'Every tenant' : session.tenantName(c.tenant_id));

  const action = useAction();
  const act = (what: () => Promise<unknown>, done: string) => action(what, done, channels.reload);
  return (
    <section>
      <PageTitle
        actions={
          (admin || owned.length > 0) &&
          !creating && (
            <button type="button" onClick={() => setCreating(true)}>
              New alert channel
            </button>
          )
        }
      >
        Alerts
      </PageTitle>
      {creating && (
        <ChannelForm
          onDone={(saved) => {
            setCreating(false);
            if (saved) channels.reload();
          }}
        />
      )}
      {editing && (
        <ChannelForm
          key={editing.id}
          channel={editing}
          onDone={(saved) => {
            setEditing(null);
            if (saved) channels.reload();
          }}
        />
      )}
      <Show value={channels} loading="Loading alert channels…">
        {(d) =>
          d.items.length === 0 ? (
            <Empty>No alert channels yet. Add one to hear about failed runs and missed backups.</Empty>
          ) : (
            <Table testId="channels-table" label="Alert channels" head={['Name', 'For', 'Sends to', 'Events', 'On', <ActionsHeader key="a" />]}>
              {d.items.map((c) => (
                <Fragment key={c.id}>
                  <tr>
                    <td>
                      <button type="button" class="link" aria-expanded={open === c.id} onClick={() => setOpen(open === c.id ? null : c.id)}>
                        {c.name}
                      </button>
                      {c.disabled_reason && (
                        <p class="problem small-print" data-testid="disabled-reason">
                          {c.disabled_reason}
                        </p>
                      )}
                    </td>
                    <td>{scopeName(c)}</td>
                    <td>
                      {KINDS[c.kind]}: <code>{c.target}</code>
                    </td>
                    <td>{c.events.map((e) => EVENTS[e] ?? e).join(', ')}</td>
                    <td>
                      <Switch
                        label={`${c.name} on`}
                        checked={c.enabled}
                        onChange={(on) => void act(() => put(`/api/v1/alert-channels/${c.id}`, { name: c.name, events: c.events, enabled: on }), `“${c.name}” switched ${on ? 'on' : 'off'}.`)}
                      />
                    </td>
                    <td class="row-actions">
                      <button type="button" class="secondary outline small" onClick={() => setEditing(c)}>
                        Edit {c.name}
                      </button>
                      <button type="button" class="secondary outline small" onClick={() => void act(() => post(`/api/v1/alert-channels/${c.id}/test`), `A test alert is on its way to “${c.name}”.`)}>
                        Send a test to {c.name}
                      </button>
                      <button
                        type="button"
                        class="secondary outline small"
                        onClick={() => {
                          if (window.confirm(`Delete the alert channel “${c.name}” and its delivery log?`))
                            void act(() => del(`/api/v1/alert-channels/${c.id}`), `“${c.name}” deleted.`);
                        }}
                      >
                        Delete {c.name}
                      </button>
                    </td>
                  </tr>
                  {open === c.id && (
                    <tr>
                      <td colSpan={6}>
                        <Deliveries channel={c} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </Table>
          )
        }
      </Show>
    </section>
  );
}

function Deliveries(props: { channel: Channel }) {
  const list = useAsync(() => get<{ items: Delivery[] }>(`/api/v1/alert-channels/${props.channel.id}/deliveries?limit=20`), [props.channel.id]);
  return (
    <div class="card" data-testid="deliveries">
      <h3>Deliveries of {props.channel.name}</h3>
      <Show value={list} loading="Loading deliveries…">
        {(d) =>
          d.items.length === 0 ? (
            <Empty>Nothing sent yet.</Empty>
          ) : (
            <Table testId="deliveries-table" label={`Deliveries of ${props.channel.name}`} head={['When', 'Event', 'Status', 'Attempts', 'Last error']}>
              {d.items.map((x) => (
                <tr key={x.id}>
                  <td>
                    <When at={x.created_at} />
                  </td>
                  <td>{EVENTS[x.event] ?? x.event}</td>
                  <td>{x.status}</td>
                  <td>{x.attempts}</td>
                  <td>{x.last_error ?? '—'}</td>
                </tr>
              ))}
            </Table>
          )
        }
      </Show>
    </div>
  );
}

// A new channel, or `channel`'s name, target and events (its kind and tenant
// stay; an empty target keeps the stored one, which is shown masked).
function ChannelForm(props: { channel?: Channel; onDone: (saved: boolean) => void }) {
  const session = useSession();
  const c = props.channel;
  const owned = session.me.memberships.filter((m) => m.role === 'owner');
  const admin = session.me.user.is_platform_admin;
  const [tenant, setTenant] = useState<string>(c ? String(c.tenant_id ?? '') : admin ? '' : String(owned[0]?.tenant_id ?? ''));
  const [name, setName] = useState(c?.name ?? '');
  const [kind, setKind] = useState<keyof typeof KINDS>(c?.kind ?? 'webhook');
  const [target, setTarget] = useState('');
  const [events, setEvents] = useState<Set<string>>(new Set(c?.events ?? ['run.failed', 'backup.missed']));
  const [error, setError] = useState<ApiError | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (c) {
        await put(`/api/v1/alert-channels/${c.id}`, {
          name: name.trim(),
          ...(target.trim() ? { target: target.trim() } : {}),
          events: [...events],
          enabled: c.enabled,
        });
        props.onDone(true);
        return;
      }
      const r = await post<Channel & { secret?: string }>('/api/v1/alert-channels', {
        tenant_id: tenant ? Number(tenant) : null,
        name: name.trim(),
        kind,
        target: target.trim(),
        events: [...events],
      });
      if (r.data.secret) setSecret(r.data.secret);
      else props.onDone(true);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  if (secret)
    return (
      <div class="card" role="status" data-testid="channel-secret">
        <p>
          Give this signing secret to the receiver now; it is not shown again. It verifies the <code>webhook-signature</code>{' '}
          header (Standard Webhooks).
        </p>
        <code class="details" data-testid="signing-secret">
          {secret}
        </code>
        <button type="button" class="secondary outline small" onClick={() => props.onDone(true)}>
          Done
        </button>
      </div>
    );
  const toggle = (ev: string) =>
    setEvents((s) => {
      const n = new Set(s);
      if (n.has(ev)) n.delete(ev);
      else n.add(ev);
      return n;
    });
  return (
    <article aria-label={c ? `Edit ${c.name}` : 'New alert channel'}>
      <form onSubmit={submit}>
        <div class="grid">
          <label>
            Name
            <input name="channel-name" required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            For
            <select value={tenant} disabled={!!c} onChange={(e) => setTenant((e.target as HTMLSelectElement).value)}>
              {admin && <option value="">Every tenant</option>}
              {owned.map((m) => (
                <option key={m.tenant_id} value={String(m.tenant_id)}>
                  {m.tenant_name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div class="grid">
          <label>
            Kind
            <select value={kind} disabled={!!c} onChange={(e) => setKind((e.target as HTMLSelectElement).value as keyof typeof KINDS)}>
              {Object.entries(KINDS).map(([k, l]) => (
                <option key={k} value={k}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <label>
            {kind === 'email' ? 'Email addresses (comma-separated)' : 'URL'}
            <input
              name="target"
              required={!c}
              placeholder={c ? `unchanged: ${c.target}` : undefined}
              value={target}
              onInput={(e) => setTarget((e.target as HTMLInputElement).value)}
            />
          </label>
        </div>
        <fieldset>
          <legend>Send when</legend>
          {Object.entries(EVENTS).map(([ev, label]) => (
            <label class="inline" key={ev}>
              <input type="checkbox" checked={events.has(ev)} onChange={() => toggle(ev)} />
              {label}
            </label>
          ))}
        </fieldset>
        <ProblemView error={error} />
        <div class="row-actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            {c ? 'Save channel' : 'Create channel'}
          </button>
          <button type="button" class="secondary outline" onClick={() => props.onDone(false)}>
            Cancel
          </button>
        </div>
      </form>
    </article>
  );
}
