import { EntityManager, EntityTarget } from 'typeorm';

/** camelCase property → snake_case column, as SnakeNamingStrategy names them. */
export function column(property: string): string {
  return property.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Builds `col = $n, …` for a patch of entity properties, starting at parameter `$start`.
 * Objects and arrays are sent as JSON text (node-pg would turn arrays into SQL arrays).
 */
export function setClause(patch: Record<string, unknown>, start: number): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    params.push(value !== null && typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : value);
    parts.push(`${column(key)} = $${start + params.length - 1}`);
  }
  return { sql: parts.join(', '), params };
}

/** The array type a column's values are sent as (fixed-length `char` as text: a cast would cut it). */
function arrayType(type: string): string {
  switch (type) {
    case 'varchar':
    case 'character varying':
    case 'char':
    case 'character':
      return 'text';
    default:
      return type;
  }
}

/**
 * Inserts many rows of an entity in one statement over arrays (unnest): no per-row SQL to
 * build or parse, whatever the count. Columns that no row sets take their database defaults;
 * a column some rows set and others leave undefined is a mistake of the caller, refused.
 */
export async function bulkInsert<T extends object>(em: EntityManager, entity: EntityTarget<T>, rows: Partial<T>[]): Promise<void> {
  if (rows.length === 0) return;
  const meta = em.connection.getMetadata(entity);
  const names: string[] = [];
  const casts: string[] = [];
  const params: unknown[][] = [];
  for (const c of meta.columns) {
    const values = rows.map((r) => (r as Record<string, unknown>)[c.propertyName]);
    const given = values.filter((v) => v !== undefined).length;
    if (given === 0) continue;
    if (given < rows.length) throw new Error(`bulkInsert(${meta.tableName}): ${c.propertyName} is set in some rows only`);
    const type = typeof c.type === 'string' ? c.type : meta.connection.driver.normalizeType(c);
    names.push(`"${c.databaseName}"`);
    casts.push(`$${names.length}::${arrayType(type)}[]`);
    params.push(type === 'jsonb' || type === 'json' ? values.map((v) => (v === null ? null : JSON.stringify(v))) : values);
  }
  await em.query(`INSERT INTO "${meta.tableName}" (${names.join(', ')}) SELECT * FROM unnest(${casts.join(', ')})`, params);
}
