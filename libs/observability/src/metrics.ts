import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Hyperplane metric, in one registry per process: in the all-in-one the api, the
 * controller and the agent share it, and the api's `/metrics` serves all three. Labels are
 * bounded sets (route patterns, kinds, statuses, driver and command names): never an instance,
 * a project or a host, so a fleet of 10,000 hosts has as many series as a fleet of one.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'hyperplane_' });

const SECONDS_FAST = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SECONDS_SLOW = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];

export const httpRequestDuration = new Histogram({
  name: 'hyperplane_http_request_duration_seconds',
  help: 'API requests by method, route pattern and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: SECONDS_FAST,
  registers: [metricsRegistry],
});

export const operationsTotal = new Counter({
  name: 'hyperplane_operations_total',
  help: 'Operations that ended, by kind and outcome (succeeded, failed, cancelled)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [metricsRegistry],
});

export const operationDuration = new Histogram({
  name: 'hyperplane_operation_duration_seconds',
  help: 'From accepted to ended, by kind and outcome',
  labelNames: ['kind', 'outcome'] as const,
  buckets: SECONDS_SLOW,
  registers: [metricsRegistry],
});

export const placementDuration = new Histogram({
  name: 'hyperplane_placement_decision_duration_seconds',
  help: 'Time the scheduler took per placement call (one instance, or alike instances of a batch)',
  labelNames: ['mode'] as const,
  buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  registers: [metricsRegistry],
});

export const placementDecisions = new Counter({
  name: 'hyperplane_placement_decisions_total',
  help: 'Placement decisions by result (placed, unschedulable)',
  labelNames: ['result'] as const,
  registers: [metricsRegistry],
});

export const outboxRelayLag = new Histogram({
  name: 'hyperplane_outbox_relay_lag_seconds',
  help: 'From an outbox row committed to its job added to the queue',
  buckets: SECONDS_FAST,
  registers: [metricsRegistry],
});

export const jobWait = new Histogram({
  name: 'hyperplane_job_wait_seconds',
  help: 'From a job added to its processing started, by queue (host queues together as "host")',
  labelNames: ['queue'] as const,
  buckets: SECONDS_FAST,
  registers: [metricsRegistry],
});

export const jobDuration = new Histogram({
  name: 'hyperplane_job_duration_seconds',
  help: 'Processing time of a job, by queue (host queues together as "host") and outcome',
  labelNames: ['queue', 'outcome'] as const,
  buckets: SECONDS_SLOW,
  registers: [metricsRegistry],
});

export const driverCallDuration = new Histogram({
  name: 'hyperplane_driver_call_duration_seconds',
  help: 'Driver calls by driver, operation (the host command) and outcome (ok or the error code)',
  labelNames: ['driver', 'operation', 'outcome'] as const,
  buckets: SECONDS_SLOW,
  registers: [metricsRegistry],
});

export const eventStreamConnections = new Gauge({
  name: 'hyperplane_event_stream_connections',
  help: 'Open GET /v1/events streams',
  registers: [metricsRegistry],
});
