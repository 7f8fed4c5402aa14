// Field diffs: the server's per-field changes (restore preview), and a
// side-by-side view of two captured versions, compared field by field.
import type { FieldChange } from '../api';
import { Table } from '../components/ui';

export function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

// `labels`: the before and after columns (a restore: the target, then the backup).
export function DiffTable(props: { changes: FieldChange[]; labels?: [string, string] }) {
  const [before, after] = props.labels ?? ['Live in target', 'From backup'];
  return (
    <Table testId="diff" class="diff" head={['Field', before, after]}>
      {props.changes.map((c) => (
          <tr key={c.path}>
            <td>
              <code>{c.path}</code>
            </td>
            <td class="before">{show(c.before)}</td>
            <td class="after">{show(c.after)}</td>
          </tr>
        ))}
    </Table>
  );
}

// {"a":{"b":[1,2]}} -> {"a.b[0]": 1, "a.b[1]": 2}: the same path notation as
// the server's restore diffs.
export function flatten(value: unknown, prefix = '', out: Map<string, unknown> = new Map()): Map<string, unknown> {
  if (value !== null && typeof value === 'object') {
    const entries: [string, unknown][] = Array.isArray(value)
      ? value.map((v, i) => [`${prefix}[${i}]`, v])
      : Object.entries(value).map(([k, v]) => [prefix ? `${prefix}.${k}` : k, v]);
    if (entries.length === 0) out.set(prefix, value);
    for (const [p, v] of entries) flatten(v, p, out);
  } else {
    out.set(prefix, value);
  }
  return out;
}

export interface SideRow {
  path: string;
  left: unknown;
  right: unknown;
  changed: boolean;
}

// What Graph or the server sets, not a person: ids (the object's, an
// assignment's, a definition value's), timestamps, the version counter and
// OData annotations other than @odata.type. Left out of version diffs.
const SERVER_KEYS = new Set(['id', 'createdDateTime', 'lastModifiedDateTime', 'modifiedDateTime', 'version']);
export function isServerMetadata(path: string): boolean {
  if (/(^|\.)@odata\.(?!type$)/.test(path)) return true;
  const last = path.replace(/\[\d+\]$/, '').split('.').pop() ?? '';
  return SERVER_KEYS.has(last);
}

export function sideBySide(left: unknown, right: unknown): SideRow[] {
  const a = flatten(left);
  const b = flatten(right);
  const paths = [...new Set([...a.keys(), ...b.keys()])].filter((p) => !isServerMetadata(p)).sort();
  return paths.map((path) => {
    const l = a.get(path);
    const r = b.get(path);
    return { path, left: l, right: r, changed: JSON.stringify(l) !== JSON.stringify(r) };
  });
}
