/** The instances table's columns: which can be hidden, and how wide each is. */
export interface ColumnDef {
  id: string;
  label: string;
  /** Its CSS grid track. */
  width: string;
  /** Always shown (the name, the selection box). */
  fixed?: boolean;
}

export const INSTANCE_COLUMNS: readonly ColumnDef[] = [
  { id: 'select', label: '', width: '30px', fixed: true },
  { id: 'name', label: 'Name', width: 'minmax(140px, 1.3fr)', fixed: true },
  { id: 'state', label: 'State', width: '112px' },
  { id: 'technology', label: 'Technology', width: '130px' },
  // Wide enough for the longest catalogue name (windows-server-2022) at 1440 px.
  { id: 'template', label: 'Template', width: 'minmax(170px, 1.2fr)' },
  { id: 'host', label: 'Host', width: 'minmax(90px, 1fr)' },
  { id: 'resources', label: 'Resources', width: '128px' },
  { id: 'project', label: 'Project', width: 'minmax(70px, 0.8fr)' },
  { id: 'age', label: 'Age', width: '50px' },
  { id: 'actions', label: 'Actions', width: '84px' },
];

export const HIDDEN_COLUMNS_KEY = 'hyperplane.instances.hiddenColumns';

/** The hidden columns kept in storage: known, hideable ids only (a stale or hand-edited value is ignored). */
export function parseHidden(stored: string | null): Set<string> {
  if (!stored) return new Set();
  let ids: unknown;
  try {
    ids = JSON.parse(stored);
  } catch {
    return new Set();
  }
  if (!Array.isArray(ids)) return new Set();
  const hideable = new Set(INSTANCE_COLUMNS.filter((c) => !c.fixed).map((c) => c.id));
  return new Set(ids.filter((id): id is string => typeof id === 'string' && hideable.has(id)));
}

export function visibleColumns(hidden: ReadonlySet<string>): ColumnDef[] {
  return INSTANCE_COLUMNS.filter((c) => c.fixed || !hidden.has(c.id));
}

export function gridTemplate(columns: readonly ColumnDef[]): string {
  return columns.map((c) => c.width).join(' ');
}
