// Scheduled backups across tenants: the schedules the user may see, each
// with its next fire times, retention and recent slots; a form that shows
// the next 5 fire times while the cron expression is typed. A schedule over
// every tenant or a tag is a platform admin's; one over listed tenants needs
// the operator or owner role in each (the API enforces both).
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, del, get, post, put, withQuery, type Membership } from '../api';
import { ActionsHeader, Empty, PageTitle, ProblemView, runHref, Show, Switch, Table, When } from '../components/ui';
import { useAsync } from '../hooks';
import { useAction, useSession, useToasts } from '../session';

interface FireTime {
  at: string;
  local: string;
  label: string;
}

interface Retention {
  keep_last: number | null;
  keep_days: number | null;
  gfs_daily: number | null;
  gfs_weekly: number | null;
  gfs_monthly: number | null;
}

const OPERATIONS: Record<string, string> = {
  backup: 'Backup',
  drift: 'Drift detection',
  backup_and_drift: 'Backup, then drift detection',
};

export interface Schedule {
  id: number;
  name: string;
  cron: string;
  time_zone: string;
  tenant_ids: number[] | null;
  tag: string | null;
  operation: string;
  jitter_seconds: number;
  enabled: boolean;
  retention: Retention;
  targets: number;
  next: FireTime[];
}

interface Slot {
  slot_at: string;
  state: 'firing' | 'fired';
  decided_by: string;
  tenants: number;
  missed_count: number;
  fires: { tenant_id: number; run_id: number; reused: boolean }[];
}

const PRESETS = [
  ['30 2 * * *', 'Every night at 02:30'],
  ['0 * * * *', 'Every hour'],
  ['0 3 * * 0', 'Sundays at 03:00'],
  ['0 1 1 * *', 'The 1st of each month at 01:00'],
] as const;

const ZONES = ['UTC', 'Europe/London', 'Europe/Berlin', 'Europe/Amsterdam', 'America/New_York', 'America/Chicago', 'America/Los_Angeles', 'Australia/Sydney', 'Asia/Tokyo'];

/** "GFS 7 daily, 4 weekly, 12 monthly" / "last 30" / "everything". */
export function retentionText(r: Retention): string {
  const parts: string[] = [];
  if (r.keep_last) parts.push(`last ${r.keep_last}`);
  if (r.keep_days) parts.push(`${r.keep_days} days`);
  const gfs = [r.gfs_daily && `${r.gfs_daily} daily`, r.gfs_weekly && `${r.gfs_weekly} weekly`, r.gfs_monthly && `${r.gfs_monthly} monthly`].filter(Boolean);
  if (gfs.length) parts.push(`GFS ${gfs.join(', ')}`);
  return parts.length ? `keeps ${parts.join(' + ')}` : 'keeps everything';
}

function Scope(props: { s: Schedule; tenants: Membership[] }) {
  const s = props.s;
  const names = (s.tenant_ids ?? []).map((id) => props.tenants.find((m) => m.tenant_id === id)?.tenant_name ?? `#${id}`);
  const base = s.tenant_ids ? (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`) : 'Every tenant';
  return (
    <>
      {base}
      {s.tag ? ` tagged “${s.tag}”` : ''} <span class="muted">({s.targets} now)</span>
    </>
  );
}

export function SchedulesPage() {
  const session = useSession();
  const schedules = useAsync(() => get<{ items: Schedule[] }>('/api/v1/schedules'), []);
  const act = useAction();
  const [editing, setEditing] = useState<Schedule | 'new' | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const canCreate = session.me.user.is_platform_admin || session.me.memberships.some((m) => m.role !== 'readonly');

  const toggle = (s: Schedule, on: boolean) =>
    act(() => put(`/api/v1/schedules/${s.id}`, { ...inputOf(s), enabled: on }), `“${s.name}” switched ${on ? 'on' : 'off'}.`, schedules.reload);
  const remove = (s: Schedule) => {
    if (!window.confirm(`Delete the schedule “${s.name}”? The runs and backup sets it made stay.`)) return;
    void act(() => del(`/api/v1/schedules/${s.id}`), `Schedule “${s.name}” deleted.`, schedules.reload);
  };

  return (
    <section>
      <PageTitle
        actions={
          canCreate &&
          editing === null && (
            <button type="button" onClick={() => setEditing('new')}>
              New schedule
            </button>
          )
        }
      >
        Schedules
      </PageTitle>
      <p class="muted">
        Each slot syncs every tenant the schedule covers and makes a backup set of all its policies, then applies the
        retention rule. A slot fires once however many servers run; after downtime, one catch-up run stands in for
        the missed slots.
      </p>
      {editing !== null && (
        <ScheduleForm
          schedule={editing === 'new' ? null : editing}
          onDone={(saved) => {
            setEditing(null);
            if (saved) schedules.reload();
          }}
        />
      )}
      <Show value={schedules} loading="Loading schedules…">
        {(d) =>
          d.items.length === 0 ? (
            <Empty>No schedules yet. A schedule backs tenants up without anyone clicking.</Empty>
          ) : (
            <Table testId="schedules-table" label="Schedules" head={['Name', 'When', 'Tenants', 'Next', 'Retention', 'On', <ActionsHeader key="a" />]}>
              {d.items.map((s) => (
                <Fragment key={s.id}>
                  <tr>
                    <td>
                      <button type="button" class="link" aria-expanded={open === s.id} onClick={() => setOpen(open === s.id ? null : s.id)}>
                        {s.name}
                      </button>
                    </td>
                    <td>
                      {OPERATIONS[s.operation] ?? s.operation}: <code>{s.cron}</code> {s.time_zone}
                      {s.jitter_seconds > 0 && <span class="muted"> (spread over {Math.round(s.jitter_seconds / 60)} min)</span>}
                    </td>
                    <td>
                      <Scope s={s} tenants={session.me.memberships} />
                    </td>
                    <td>{s.next[0] ? <span title={s.next[0].label}><When at={s.next[0].at} /></span> : 'off'}</td>
                    <td>{retentionText(s.retention)}</td>
                    <td>
                      <Switch label={`${s.name} on`} checked={s.enabled} onChange={(on) => void toggle(s, on)} />
                    </td>
                    <td class="row-actions">
                      <button type="button" class="secondary outline small" onClick={() => setEditing(s)}>
                        Edit {s.name}
                      </button>
                      <button type="button" class="secondary outline small" onClick={() => void remove(s)}>
                        Delete {s.name}
                      </button>
                    </td>
                  </tr>
                  {open === s.id && (
                    <tr key={`${s.id}-slots`}>
                      <td colSpan={7}>
                        <ScheduleDetail s={s} />
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

function ScheduleDetail(props: { s: Schedule }) {
  const slots = useAsync(() => get<{ items: Slot[] }>(`/api/v1/schedules/${props.s.id}/slots?limit=10`), [props.s.id]);
  return (
    <div class="card" data-testid="schedule-detail">
      <h3>Next fire times</h3>
      <ol data-testid="next-fire-times">
        {props.s.next.map((n) => (
          <li key={n.at}>
            {n.label} <span class="muted">({new Date(n.at).toLocaleString()} your time)</span>
          </li>
        ))}
      </ol>
      <h3>Recent slots</h3>
      <Show value={slots} loading="Loading slots…">
        {(d) =>
          d.items.length === 0 ? (
            <Empty>No slot has fired yet.</Empty>
          ) : (
            <ul>
              {d.items.map((slot) => (
                <li key={slot.slot_at}>
                  <When at={slot.slot_at} />: {slot.fires.length} of {slot.tenants} tenants started
                  {slot.state === 'firing' ? ' (more start within the spread)' : ''}
                  {slot.missed_count > 0 && ` — a catch-up for ${slot.missed_count} missed slots`}
                  {slot.fires.slice(0, 5).map((f) => (
                    <Fragment key={f.run_id}>
                      {' '}
                      <a href={runHref({ id: f.run_id, tenant_id: f.tenant_id })}>run #{f.run_id}</a>
                    </Fragment>
                  ))}
                </li>
              ))}
            </ul>
          )
        }
      </Show>
    </div>
  );
}

function inputOf(s: Schedule) {
  return {
    name: s.name,
    cron: s.cron,
    time_zone: s.time_zone,
    tenant_ids: s.tenant_ids,
    tag: s.tag,
    operation: s.operation,
    jitter_seconds: s.jitter_seconds,
    enabled: s.enabled,
    retention: s.retention,
  };
}

type RetentionKind = 'all' | 'last' | 'gfs';

function ScheduleForm(props: { schedule: Schedule | null; onDone: (saved: boolean) => void }) {
  const session = useSession();
  const toasts = useToasts();
  const s = props.schedule;
  const operable = session.me.memberships.filter((m) => m.role !== 'readonly');
  const admin = session.me.user.is_platform_admin;
  const [name, setName] = useState(s?.name ?? 'Nightly backup');
  const [cron, setCron] = useState(s?.cron ?? '30 2 * * *');
  const [zone, setZone] = useState(s?.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC');
  const [scope, setScope] = useState<'all' | 'some'>(s ? (s.tenant_ids ? 'some' : 'all') : admin ? 'all' : 'some');
  const [chosen, setChosen] = useState<Set<number>>(new Set(s?.tenant_ids ?? []));
  const [tag, setTag] = useState(s?.tag ?? '');
  const [spread, setSpread] = useState(String(Math.round((s?.jitter_seconds ?? 0) / 60)));
  const [operation, setOperation] = useState(s?.operation ?? 'backup');
  const r = s?.retention;
  const [kind, setKind] = useState<RetentionKind>(r ? (r.gfs_daily || r.gfs_weekly || r.gfs_monthly ? 'gfs' : r.keep_last ? 'last' : 'all') : 'gfs');
  const [last, setLast] = useState(String(r?.keep_last ?? 30));
  const [gfs, setGfs] = useState({ d: String(r?.gfs_daily ?? 7), w: String(r?.gfs_weekly ?? 4), m: String(r?.gfs_monthly ?? 12) });
  const [next, setNext] = useState<FireTime[] | ApiError | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  // The next fire times, as the expression is typed.
  useEffect(() => {
    let live = true;
    const t = window.setTimeout(() => {
      get<{ next: FireTime[] }>(withQuery('/api/v1/schedule-preview', { cron, time_zone: zone }))
        .then((d) => live && setNext(d.next))
        .catch((e) => live && setNext(e as ApiError));
    }, 250);
    return () => {
      live = false;
      window.clearTimeout(t);
    };
  }, [cron, zone]);

  const num = (v: string) => (v.trim() === '' ? null : Number(v));
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      name: name.trim(),
      cron: cron.trim(),
      time_zone: zone.trim(),
      tenant_ids: scope === 'some' ? [...chosen] : null,
      tag: tag.trim() || null,
      jitter_seconds: Math.max(0, Math.round(Number(spread || '0') * 60)),
      operation,
      enabled: s?.enabled ?? true,
      retention:
        kind === 'all'
          ? null
          : kind === 'last'
            ? { keep_last: num(last) }
            : { gfs_daily: num(gfs.d), gfs_weekly: num(gfs.w), gfs_monthly: num(gfs.m) },
    };
    try {
      if (s) await put(`/api/v1/schedules/${s.id}`, body);
      else await post('/api/v1/schedules', body);
      toasts.show({ kind: 'success', text: `Schedule “${body.name}” saved.` });
      props.onDone(true);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (id: number) =>
    setChosen((c) => {
      const n = new Set(c);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <article aria-label={s ? `Edit ${s.name}` : 'New schedule'}>
      <form onSubmit={submit}>
        <label>
          Name
          <input name="schedule-name" required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <div class="grid">
          <label>
            When (cron: minute hour day month weekday)
            <input name="cron" required value={cron} list="cron-presets" onInput={(e) => setCron((e.target as HTMLInputElement).value)} />
            <datalist id="cron-presets">
              {PRESETS.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </datalist>
          </label>
          <label>
            Time zone
            <input name="time-zone" required value={zone} list="zones" onInput={(e) => setZone((e.target as HTMLInputElement).value)} />
            <datalist id="zones">
              {ZONES.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </label>
        </div>
        <div aria-live="polite" data-testid="preview">
          {next === null ? null : next instanceof ApiError ? (
            <p class="problem" role="alert">
              {next.message}
            </p>
          ) : (
            <p>
              Next: {next.map((n) => n.label).join(' · ')}
            </p>
          )}
        </div>
        <fieldset>
          <legend>Tenants</legend>
          {admin && (
            <label class="inline">
              <input type="radio" name="scope" checked={scope === 'all'} onChange={() => setScope('all')} />
              Every tenant
            </label>
          )}
          <label class="inline">
            <input type="radio" name="scope" checked={scope === 'some'} onChange={() => setScope('some')} />
            These tenants
          </label>
          {scope === 'some' && (
            <div class="checklist">
              {operable.map((m) => (
                <label class="inline" key={m.tenant_id}>
                  <input type="checkbox" checked={chosen.has(m.tenant_id)} onChange={() => toggle(m.tenant_id)} />
                  {m.tenant_name}
                </label>
              ))}
            </div>
          )}
          <label>
            Only tenants tagged (optional)
            <input name="tag" maxLength={40} value={tag} onInput={(e) => setTag((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            What runs
            <select name="operation" value={operation} onChange={(e) => setOperation((e.target as HTMLSelectElement).value)}>
              {Object.entries(OPERATIONS).map(([value, text]) => (
                <option key={value} value={value}>
                  {text}
                </option>
              ))}
            </select>
          </label>
          <label>
            Spread the tenants' starts over (minutes)
            <input name="spread" type="number" min={0} max={360} value={spread} onInput={(e) => setSpread((e.target as HTMLInputElement).value)} />
          </label>
        </fieldset>
        <fieldset>
          <legend>Retention</legend>
          <label class="inline">
            <input type="radio" name="retention" checked={kind === 'gfs'} onChange={() => setKind('gfs')} />
            Daily, weekly and monthly (GFS)
          </label>
          <label class="inline">
            <input type="radio" name="retention" checked={kind === 'last'} onChange={() => setKind('last')} />
            The newest N
          </label>
          <label class="inline">
            <input type="radio" name="retention" checked={kind === 'all'} onChange={() => setKind('all')} />
            Keep everything
          </label>
          {kind === 'gfs' && (
            <div class="grid">
              <label>
                Days kept
                <input name="gfs-daily" type="number" min={1} value={gfs.d} onInput={(e) => setGfs({ ...gfs, d: (e.target as HTMLInputElement).value })} />
              </label>
              <label>
                Weeks kept
                <input name="gfs-weekly" type="number" min={1} value={gfs.w} onInput={(e) => setGfs({ ...gfs, w: (e.target as HTMLInputElement).value })} />
              </label>
              <label>
                Months kept
                <input name="gfs-monthly" type="number" min={1} value={gfs.m} onInput={(e) => setGfs({ ...gfs, m: (e.target as HTMLInputElement).value })} />
              </label>
            </div>
          )}
          {kind === 'last' && (
            <label>
              Backup sets to keep
              <input name="keep-last" type="number" min={1} value={last} onInput={(e) => setLast((e.target as HTMLInputElement).value)} />
            </label>
          )}
          <p class="muted">Pinned sets and each tenant's newest successful backup are always kept.</p>
        </fieldset>
        <ProblemView error={error} />
        <div class="row-actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            {s ? 'Save schedule' : 'Create schedule'}
          </button>
          <button type="button" class="secondary outline" onClick={() => props.onDone(false)}>
            Cancel
          </button>
        </div>
      </form>
    </article>
  );
}
