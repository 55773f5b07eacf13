import { toMilliVcpus } from '@hyperplane/domain';
import { EntityManager, EntityTarget, ValueTransformer } from 'typeorm';
import { MILLI_VCPU_COLUMNS } from './entities/milli-vcpus';

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
    const name = column(key);
    if (MILLI_VCPU_COLUMNS.has(name) && typeof value === 'number') params.push(toMilliVcpus(value));
    else params.push(value !== null && typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : value);
    parts.push(`${name} = $${start + params.length - 1}`);
  }
  return { sql: parts.join(', '), params };
}

/** The type a column's values are read as (fixed-length `char` as text: a cast would cut it). */
function readType(type: string): string {
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
 * `json_to_recordset($n::json) AS alias(...)` over the given fields and types: many rows sent
 * as one JSON document, which node serialises natively and PostgreSQL parses in C, where
 * arrays per column (unnest) cost an escape pass per value in JavaScript.
 */
export function recordset(param: number, alias: string, fields: [name: string, type: string][]): string {
  return `json_to_recordset($${param}::json) AS ${alias}(${fields.map(([name, type]) => `"${name}" ${readType(type)}`).join(', ')})`;
}

/**
 * Inserts many rows of an entity in one statement over one JSON document (see recordset): no
 * per-row SQL to build or parse, whatever the count. Columns that no row sets take their
 * database defaults; a column some rows set and others leave undefined is a mistake of the
 * caller, refused.
 */
export async function bulkInsert<T extends object>(em: EntityManager, entity: EntityTarget<T>, rows: Partial<T>[], opts: { returning?: boolean } = {}): Promise<Record<string, unknown>[]> {
  if (rows.length === 0) return [];
  const meta = em.connection.getMetadata(entity);
  const columns: string[] = [];
  const fields: [string, string][] = [];
  for (const c of meta.columns) {
    let given = 0;
    for (const r of rows) if ((r as Record<string, unknown>)[c.propertyName] !== undefined) given++;
    if (given === 0) continue;
    if (given < rows.length) throw new Error(`bulkInsert(${meta.tableName}): ${c.propertyName} is set in some rows only`);
    columns.push(`"${c.databaseName}"`);
    fields.push([c.propertyName, typeof c.type === 'string' ? c.type : meta.connection.driver.normalizeType(c)]);
  }
  // The rows go as they are (but for transformed columns, such as milli-vCPUs): JSON.stringify
  // writes dates as ISO text and leaves out what the record set does not name.
  const transformed = meta.columns.filter((c) => c.transformer && !Array.isArray(c.transformer) && fields.some(([name]) => name === c.propertyName));
  const sent =
    transformed.length === 0
      ? rows
      : rows.map((r) => {
          const copy: Record<string, unknown> = { ...r };
          for (const c of transformed) copy[c.propertyName] = (c.transformer as ValueTransformer).to(copy[c.propertyName]);
          return copy;
        });
  // `returning`: the rows as stored (defaults and all), so a caller need not read them again.
  const rowsBack = await em.query<Record<string, unknown>[]>(
    `INSERT INTO "${meta.tableName}" (${columns.join(', ')}) SELECT ${fields.map(([name]) => `r."${name}"`).join(', ')} FROM ${recordset(1, 'r', fields)}${opts.returning ? ' RETURNING *' : ''}`,
    [JSON.stringify(sent)],
  );
  return opts.returning ? rowsBack : [];
}
