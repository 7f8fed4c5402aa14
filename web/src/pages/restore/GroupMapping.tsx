// Step 3: source -> target group mapping (suggested by display name).
import { useEffect } from 'preact/hooks';
import { get, getAll, tenantPath, withQuery, type Group, type MappingRow } from '../../api';
import { Empty, Loading, ProblemView, Table } from '../../components/ui';
import { useAsync } from '../../hooks';

export function GroupMapping(props: {
  source: number;
  target: number;
  setId: number;
  mapping: Record<string, string>;
  onChange: (m: Record<string, string>) => void;
  onBack: () => void;
  onNext: () => void;
}) {
  const rows = useAsync(
    () =>
      get<{ items: MappingRow[] }>(
        withQuery(tenantPath(props.target, '/restores/group-mapping'), {
          backup_set: props.setId,
          source_tenant: props.source,
        }),
      ),
    [props.source, props.target, props.setId],
  );
  const groups = useAsync(
    () => getAll<Group>(tenantPath(props.target, '/groups')),
    [props.target],
  );
  // Pre-fill with the suggestions (matched by display name) once.
  useEffect(() => {
    if (!rows.data || Object.keys(props.mapping).length > 0) return;
    const m: Record<string, string> = {};
    for (const r of rows.data.items) if (r.suggested && r.target_group_id) m[r.source_group_id] = r.target_group_id;
    props.onChange(m);
  }, [rows.data]);

  if (rows.state === 'error') return <ProblemView error={rows.error} onRetry={rows.reload} />;
  if (!rows.data || !groups.data) return <Loading label="Loading group mapping…" />;
  const live = groups.data.items.filter((g) => !g.gone);
  const unmapped = rows.data.items.filter((r) => !props.mapping[r.source_group_id]).length;
  return (
    <div class="card">
      {rows.data.items.length === 0 ? (
        <Empty>The chosen items have no group assignments; nothing to map.</Empty>
      ) : (
        <>
          <p>
            Each source group needs a group in the target tenant. Suggestions match by display name and are marked{' '}
            <span class="badge suggested">suggested</span>.{' '}
            {unmapped > 0 && (
              <strong class="bad" data-testid="unmapped-count">
                {unmapped} group{unmapped === 1 ? '' : 's'} unmapped: items assigned to them fail in preview and are not written.
              </strong>
            )}
          </p>
          <Table testId="mapping-table" class="" head={['Source group', 'Target group', 'Mapping']}>
            {rows.data.items.map((r) => {
                  const value = props.mapping[r.source_group_id] ?? '';
                  const isSuggestion = r.suggested && value === r.target_group_id;
                  return (
                    <tr key={r.source_group_id} data-testid="mapping-row">
                      <td>
                        {r.source_name || '(unknown name)'} <small class="muted block">{r.source_group_id}</small>
                      </td>
                      <td>
                        <select
                          aria-label={`Target group for ${r.source_name || r.source_group_id}`}
                          value={value}
                          onChange={(e) => {
                            const v = (e.target as HTMLSelectElement).value;
                            const m = { ...props.mapping };
                            if (v) m[r.source_group_id] = v;
                            else delete m[r.source_group_id];
                            props.onChange(m);
                          }}
                        >
                          <option value="">— not mapped —</option>
                          {live.map((g) => (
                            <option key={g.id} value={g.id}>
                              {g.display_name}
                            </option>
                          ))}
                        </select>
                      </td>
                      <td>
                        {isSuggestion ? (
                          <span class="badge suggested" data-testid="suggested">
                            suggested
                          </span>
                        ) : value ? (
                          <span class="badge">chosen</span>
                        ) : (
                          <span class="badge warn" data-testid="unmapped">
                            unmapped
                          </span>
                        )}
                      </td>
                    </tr>
                  );
                })}
          </Table>
        </>
      )}
      <div class="row-actions">
        <button type="button" class="secondary outline" onClick={props.onBack}>
          Back
        </button>
        <button type="button" onClick={props.onNext}>
          Next: preview
        </button>
      </div>
    </div>
  );
}
