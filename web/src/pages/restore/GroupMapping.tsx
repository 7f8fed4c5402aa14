// Step 3: source -> target mapping of every reference (groups, assignment
// filters, scope tags, notification templates; a conditional access policy's
// users, roles, applications and named locations; apps; a policy set's
// objects), suggested by display name.
import { useEffect } from 'preact/hooks';
import { get, getAll, tenantPath, withQuery, type Group, type MappingRow, type RefKind } from '../../api';
import { Empty, Loading, ProblemView, Table } from '../../components/ui';
import { useAsync } from '../../hooks';

const KIND_LABEL: Record<RefKind, string> = {
  group: 'Group',
  assignmentFilter: 'Assignment filter',
  scopeTag: 'Scope tag',
  notificationTemplate: 'Notification template',
  user: 'User',
  application: 'Application',
  directoryRole: 'Directory role',
  namedLocation: 'Named location',
  mobileApp: 'App',
  policy: 'Object in a policy set',
};

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
    for (const r of rows.data.items) if (r.suggested && r.target_id) m[r.source_id] = r.target_id;
    props.onChange(m);
  }, [rows.data]);

  if (rows.state === 'error') return <ProblemView error={rows.error} onRetry={rows.reload} />;
  if (!rows.data || !groups.data) return <Loading label="Loading the mapping…" />;
  const liveGroups = groups.data.items.filter((g) => !g.gone).map((g) => ({ id: g.id, name: g.display_name }));
  // A referenced object that is itself in the backup is restored first and mapped to.
  const unmapped = rows.data.items.filter((r) => !props.mapping[r.source_id] && !r.in_backup).length;
  return (
    <div class="card">
      {rows.data.items.length === 0 ? (
        <Empty>The chosen items refer to no other object (group, filter, scope tag, user, location…); nothing to map.</Empty>
      ) : (
        <>
          <p>
            Each object the items refer to (groups, assignment filters, scope tags, notification templates, and for
            conditional access users, roles, applications and named locations) needs its counterpart in the target
            tenant: no source id is ever sent there. Suggestions match by display name and are marked{' '}
            <span class="badge suggested">suggested</span>.{' '}
            {unmapped > 0 && (
              <strong class="bad" data-testid="unmapped-count">
                {unmapped} reference{unmapped === 1 ? '' : 's'} unmapped: items that use them fail in preview and are not
                written.
              </strong>
            )}
          </p>
          <Table testId="mapping-table" class="mapping" label="Mapping of references" head={['Kind', 'Source', 'Target', 'Mapping']}>
            {rows.data.items.map((r) => {
                  const value = props.mapping[r.source_id] ?? '';
                  const isSuggestion = r.suggested && value === r.target_id;
                  const offered = r.kind === 'group' ? liveGroups : (r.candidates ?? []);
                  // The chosen target is always an option, even when it is not in the list.
                  const options =
                    value && !offered.some((o) => o.id === value)
                      ? [{ id: value, name: value === r.target_id ? (r.target_name ?? value) : value }, ...offered]
                      : offered;
                  const label = KIND_LABEL[r.kind] ?? r.kind;
                  return (
                    <tr key={`${r.kind}:${r.source_id}`} data-testid="mapping-row" data-kind={r.kind}>
                      <td>{label}</td>
                      <td>
                        {r.source_name || '(unknown name)'} <small class="muted block">{r.source_id}</small>
                        <small class="muted block">used by {r.used_by.join(', ')}</small>
                      </td>
                      <td>
                        <select
                          aria-label={`Target ${label.toLowerCase()} for ${r.source_name || r.source_id}`}
                          value={value}
                          onChange={(e) => {
                            const v = (e.target as HTMLSelectElement).value;
                            const m = { ...props.mapping };
                            if (v) m[r.source_id] = v;
                            else delete m[r.source_id];
                            props.onChange(m);
                          }}
                        >
                          <option value="">— not mapped —</option>
                          {options.map((g) => (
                            <option key={g.id} value={g.id}>
                              {g.name}
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
                        ) : r.in_backup ? (
                          <span
                            class="badge"
                            data-testid="created-by-restore"
                            title="It is in this backup: when selected, the restore creates it first and maps to it"
                          >
                            created by this restore
                          </span>
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
