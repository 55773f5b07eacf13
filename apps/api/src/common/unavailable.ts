/**
 * Whether an error says the database (or the connection to it) is briefly unavailable rather
 * than that the request or the code is wrong: PostgreSQL's classes 08 (connection exception) and
 * 57P (the server shut the session: `pg_terminate_backend`, a restart), too many connections,
 * and node-postgres's own words for a socket that closed under a query. The client should retry:
 * a 503 with Retry-After, not a 500 that says the server is broken.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e && typeof e === 'object' && !seen.has(e); e = (e as { driverError?: unknown; cause?: unknown }).driverError ?? (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { code, message, name } = e as { code?: unknown; message?: unknown; name?: unknown };
    // TypeORM gave the dead connection back to the pool; the transaction's next statement says so.
    if (name === 'QueryRunnerProviderAlreadyReleasedError' || name === 'QueryRunnerAlreadyReleasedError') return true;
    if (typeof code === 'string' && (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[1-3]$/.test(code) || code === '53300' || code === 'ECONNREFUSED' || code === 'ECONNRESET')) return true;
    if (typeof message === 'string' && /^Connection terminated( unexpectedly)?$|^Client has encountered a connection error and is not queryable$/.test(message)) return true;
  }
  return false;
}
