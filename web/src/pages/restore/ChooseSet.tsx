// Step 1: the backup set and which of its items to restore.
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
                onChange={(e) => props.onChange(Number((e.target as HTMLSelectElement).value) || null, null)}
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
            <fieldset class="checklist" aria-label="Items to restore">
              <legend>
                Items ({count} of {all.length} selected){' '}
                <button type="button" class="link" onClick={() => props.onChange(props.setId, null)}>
                  all
                </button>{' '}
                <button type="button" class="link" onClick={() => props.onChange(props.setId, new Set())}>
                  none
                </button>
              </legend>
              {all.map((it) => (
                <label key={it.id}>
                  <input type="checkbox" checked={chosen(it.id)} onChange={() => toggle(it.id)} />
                  <span>
                    {it.display_name} <small class="muted">{it.type}</small>
                  </span>
                </label>
              ))}
            </fieldset>
          )}
        </Show>
      )}
      <div class="row-actions">
        <button type="button" disabled={!props.setId || count === 0} onClick={props.onNext}>
          Next: target tenant
        </button>
      </div>
    </div>
  );
}
