/**
 * The controller's one LISTEN connection (a PgListener), shared: the outbox relay wakes on
 * `hp_outbox` (and starts and closes the connection), placement on `hp_hosts`.
 */
export const NOTIFY_LISTENER = Symbol('NOTIFY_LISTENER');
