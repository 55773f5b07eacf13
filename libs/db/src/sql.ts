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
