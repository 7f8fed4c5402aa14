// Finding a tenant among thousands: search on any part of the name, the Entra
// tenant id or a tag; pinned and recent tenants first; keyboard-first (/ or
// Ctrl+K opens it from anywhere, arrows move, Enter picks, Escape closes).
// TenantSearch is the list itself, also used for the restore target.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Membership } from '../api';
import { useSession } from '../session';

const SHOWN = 50;

function norm(s: string): string {
  return s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
}

/** The tenants matching `query` (every word somewhere in name, Entra id or tags), best first. */
export function matchTenants(tenants: Membership[], query: string): Membership[] {
  const words = norm(query).split(/\s+/).filter(Boolean);
  const byName = (a: Membership, b: Membership) => a.tenant_name.localeCompare(b.tenant_name);
  if (words.length === 0) return [...tenants].sort(byName);
  const scored: [number, Membership][] = [];
  for (const m of tenants) {
    const name = norm(m.tenant_name);
    const hay = `${name} ${norm(m.entra_tenant_id ?? '')} ${m.tags.map(norm).join(' ')}`;
    if (!words.every((w) => hay.includes(w))) continue;
    // Name starts with the query, then a word of the name does, then anything.
    const q = words.join(' ');
    const score = name.startsWith(q) ? 0 : name.split(/[\s\-_.]+/).some((w) => w.startsWith(words[0])) ? 1 : 2;
    scored.push([score, m]);
  }
  return scored.sort((a, b) => a[0] - b[0] || byName(a[1], b[1])).map(([, m]) => m);
}

export interface SearchGroup {
  label: string;
  tenants: Membership[];
}

let nextId = 0;

/** A search box over a listbox of tenants. `groups` are shown while the query is empty. */
export function TenantSearch(props: {
  tenants: Membership[];
  label: string;
  onPick: (m: Membership | null) => void;
  selected?: number | null;
  groups?: SearchGroup[];
  allOption?: string; // e.g. "All tenants": picking it calls onPick(null)
  autoFocus?: boolean;
  testId?: string;
}) {
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  const [uid] = useState(() => `ts${++nextId}`);
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);
  useLayoutEffect(() => {
    if (props.autoFocus) input.current?.focus();
  }, []);

  const matches = useMemo(() => matchTenants(props.tenants, query), [props.tenants, query]);
  // What the listbox shows, as groups; `flat` is the keyboard order.
  const shown: SearchGroup[] = useMemo(() => {
    const out: SearchGroup[] = [];
    if (!query.trim()) for (const g of props.groups ?? []) if (g.tenants.length) out.push(g);
    out.push({ label: query.trim() ? 'Matches' : 'All tenants, A to Z', tenants: matches.slice(0, SHOWN) });
    return out;
  }, [query, matches, props.groups]);
  // "All tenants" is offered while nothing is typed; typing searches tenants.
  const withAll = !!props.allOption && !query.trim();
  const flat: (Membership | null)[] = useMemo(
    () => [...(withAll ? [null] : []), ...shown.flatMap((g) => g.tenants)],
    [shown, withAll],
  );
  useEffect(() => setActive(0), [query]);
  const optionId = (i: number) => `${uid}-o${i}`;
  useEffect(() => {
    document.getElementById(optionId(active))?.scrollIntoView({ block: 'nearest' });
  }, [active]);

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'ArrowDown') setActive((a) => Math.min(flat.length - 1, a + 1));
    else if (e.key === 'ArrowUp') setActive((a) => Math.max(0, a - 1));
    else if (e.key === 'Home' && e.ctrlKey) setActive(0);
    else if (e.key === 'End' && e.ctrlKey) setActive(flat.length - 1);
    else if (e.key === 'Enter') {
      if (active < flat.length) props.onPick(flat[active]);
    } else return;
    e.preventDefault();
  };

  let index = 0;
  const option = (m: Membership | null, key: string) => {
    const i = index++;
    const chosen = m === null ? props.selected === null : props.selected === m.tenant_id;
    return (
      <li
        key={key}
        id={optionId(i)}
        role="option"
        aria-selected={i === active}
        class={`${i === active ? 'active' : ''} ${chosen ? 'chosen' : ''}`}
        data-testid="tenant-option"
        onMouseDown={(e) => e.preventDefault()}
        onClick={() => props.onPick(m)}
        onMouseMove={() => setActive(i)}
      >
        {m === null ? (
          <strong>{props.allOption}</strong>
        ) : (
          <>
            <span class="name">{m.tenant_name}</span>
            {chosen && <span class="badge">current</span>}
            <small class="muted">
              {' '}
              {m.role}
              {m.entra_tenant_id ? ` · ${m.entra_tenant_id}` : ''}
              {m.tags.length ? ` · ${m.tags.join(', ')}` : ''}
            </small>
          </>
        )}
      </li>
    );
  };
  const more = matches.length - SHOWN;
  return (
    <div class="tenant-search" data-testid={props.testId}>
      <input
        ref={input}
        type="search"
        role="combobox"
        aria-label={props.label}
        aria-expanded="true"
        aria-controls={`${uid}-list`}
        aria-activedescendant={flat.length ? optionId(active) : undefined}
        aria-autocomplete="list"
        placeholder="Name, Entra tenant id or tag"
        value={query}
        onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        onKeyDown={onKey}
        autocomplete="off"
      />
      <p class="muted small-print" aria-live="polite" data-testid="tenant-count">
        {query.trim()
          ? `${matches.length} of ${props.tenants.length} tenants match`
          : `${props.tenants.length} tenants`}
        {more > 0 ? ` · showing ${SHOWN}; type to narrow` : ''}
      </p>
      <ul id={`${uid}-list`} role="listbox" aria-label={props.label} ref={list} class="tenant-list">
        {withAll && option(null, 'all')}
        {shown.map((g) => (
          <li key={g.label} role="presentation">
            <span class="group-label" aria-hidden="true">
              {g.label}
            </span>
            <ul role="group" aria-label={g.label}>
              {g.tenants.map((m) => option(m, `${g.label}-${m.tenant_id}`))}
            </ul>
          </li>
        ))}
        {matches.length === 0 && (
          <li role="presentation" class="empty">
            No tenant matches “{query}”. Try part of the name, the Entra tenant id (its GUID or domain) or a tag.
          </li>
        )}
      </ul>
    </div>
  );
}

// The header's tenant switcher: a button showing the scope, and a dialog with
// the search. "/" or Ctrl+K opens it from anywhere.
export function TenantPicker() {
  const session = useSession();
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const ms = session.me.memberships;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
      if ((e.key === 'k' && (e.ctrlKey || e.metaKey)) || (e.key === '/' && !typing)) {
        e.preventDefault();
        setOpen(true);
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open]);

  if (ms.length === 0) return null;
  const byId = new Map(ms.map((m) => [m.tenant_id, m]));
  const pick = (ids: number[]) => ids.map((id) => byId.get(id)).filter((m): m is Membership => !!m);
  const current = session.allTenants ? null : session.tenant;
  const label = current ? current.tenant_name : 'All tenants';
  const pinned = current ? session.pinned.includes(current.tenant_id) : false;
  return (
    <div class="tenant-picker">
      <button
        ref={button}
        type="button"
        class="secondary outline"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-keyshortcuts="/ Control+K"
        aria-label={`Tenant: ${label}${current ? ` (${current.role})` : ''}. Switch tenant`}
        title="Switch tenant (press / or Ctrl+K)"
        data-testid="tenant-picker"
        onClick={() => setOpen((o) => !o)}
      >
        <span class="scope">{label}</span> <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <>
          <div class="backdrop" onClick={close} aria-hidden="true" />
          <div class="picker-panel" role="dialog" aria-modal="true" aria-label="Switch tenant">
            <div class="panel-head">
              <strong>Switch tenant</strong>
              {current && (
                <button
                  type="button"
                  class="secondary outline small"
                  aria-pressed={pinned}
                  onClick={() => session.togglePin(current.tenant_id)}
                >
                  {pinned ? `Unpin ${current.tenant_name}` : `Pin ${current.tenant_name}`}
                </button>
              )}
            </div>
            <TenantSearch
              tenants={ms}
              label="Find a tenant"
              autoFocus
              selected={current ? current.tenant_id : null}
              allOption="All tenants"
              groups={[
                { label: 'Pinned', tenants: pick(session.pinned) },
                { label: 'Recent', tenants: pick(session.recent.filter((id) => !session.pinned.includes(id))) },
              ]}
              onPick={(m) => {
                if (m) session.setTenant(m.tenant_id);
                else session.setAllTenants();
                close();
              }}
            />
          </div>
        </>
      )}
    </div>
  );
}
