// Step 1: the backup set and which of its items to restore. Nothing starts
// selected: the items are found by name and chosen one by one or by type.
import { useMemo, useState } from 'preact/hooks';
import { getAll, setItems, tenantPath, type BackupItem, type BackupSet, type Page } from '../../api';
import { Empty, Show } from '../../components/ui';
import { useAsync } from '../../hooks';

export function ChooseSet(props: {
  tenant: number;
  setId: number | null;
  itemIds: Set<number> | null;
  onChange: (set: number | null, items: Set<number> | null) => void;
  onNext: () => void;
}) {
  const sets = useAsync(
    () => getAll<BackupSet>(tenantPath(props.tenant, '/backup-sets'), 1000),
    [props.tenant],
  );
  const items = useAsync(
    () =>
      props.setId
        ? getAll<BackupItem>(tenantPath(props.tenant, `/backup-sets/${props.setId}/items`))
        : Promise.resolve({ items: [], next_cursor: null } as Page<BackupItem>),
    [props.tenant, props.setId],
  );
  const all = items.data?.items ?? [];
  const [q, setQ] = useState('');
  const [type, setType] = useState('');
  const types = useMemo(() => [...new Set(all.map((i) => i.type))].sort(), [all]);
  const shown = useMemo(() => {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    return all.filter(
      (i) =>
        (!type || i.type === type) &&
        words.every((w) => i.display_name.toLowerCase().includes(w) || i.type.toLowerCase().includes(w)),
    );
  }, [all, q, type]);
  // Adds (or removes) every shown item.
  const selectShown = (on: boolean) => {
    const s = new Set(props.itemIds ?? all.map((i) => i.id));
    for (const i of shown) on ? s.add(i.id) : s.delete(i.id);
    props.onChange(props.setId, s.size === all.length && all.length > 0 ? null : s);
  };
  const chosen = (id: number) => props.itemIds === null || props.itemIds.has(id);
  const toggle = (id: number) => {
    const s = new Set(props.itemIds ?? all.map((i) => i.id));
    if (s.has(id)) s.delete(id);
    else s.add(id);
    props.onChange(props.setId, s.size === all.length ? null : s);
  };
  const count = props.itemIds === null ? all.length : props.itemIds.size;
  return (
    <div class="card">
      <Show value={sets} loading="Loading backup sets…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>
              This tenant has no backup sets yet. <a href="/backup-sets">Create one</a> first.
            </Empty>
          ) : (
            <label>
              Backup set
              <select
                name="backup_set"
                value={props.setId ?? ''}
                onChange={(e) => props.onChange(Number((e.target as HTMLSelectElement).value) || null, new Set())}
              >
                <option value="">Choose a backup set…</option>
                {page.items.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name} ({setItems(s)})
                  </option>
                ))}
              </select>
            </label>
          )
        }
      </Show>
      {props.setId && (
        <Show value={items} loading="Loading items…">
          {() => (
            <>
            <div class="filters" role="group" aria-label="Find items">
              <label>
                Search items
                <input type="search" value={q} placeholder="Part of a name" onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
              </label>
              <label>
                Item type
                <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
                  <option value="">every type ({all.length})</option>
                  {types.map((t) => (
                    <option key={t} value={t}>
                      {t} ({all.filter((i) => i.type === t).length})
                    </option>
                  ))}
                </select>
              </label>
              <button type="button" class="secondary outline" disabled={shown.length === 0} onClick={() => selectShown(true)}>
                Select the {shown.length} shown
              </button>
              <button type="button" class="secondary outline" disabled={count === 0} onClick={() => selectShown(false)}>
                Clear the shown
              </button>
            </div>
            <fieldset class="checklist" aria-label="Items to restore">
              <legend data-testid="items-selected">
                {count} of {all.length} items selected
                {shown.length !== all.length ? ` · ${shown.length} shown` : ''}
              </legend>
              {shown.length === 0 && <p class="muted">No item matches.</p>}
              {shown.map((it) => (
                <label key={it.id}>
                  <input type="checkbox" checked={chosen(it.id)} onChange={() => toggle(it.id)} />
                  <span>
                    {it.display_name} <small class="muted">{it.type}</small>
                  </span>
                </label>
              ))}
            </fieldset>
            </>
          )}
        </Show>
      )}
      <div class="row-actions">
        <button type="button" disabled={!props.setId || count === 0} onClick={props.onNext}>
          Next: target tenant
        </button>
        {props.setId && count === 0 && <span class="muted">Choose at least one item.</span>}
      </div>
    </div>
  );
}
