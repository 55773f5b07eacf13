import { Gauge } from 'prom-client';
import { metricsRegistry } from './metrics';

/**
 * What is measured when Prometheus asks, not on every change: a heartbeat is one ZADD for
 * thousands of hosts, and counting hosts by status or the outbox's backlog is one query per
 * scrape. Each process registers the sources it can answer (the controller: PostgreSQL and the
 * control queues; the agent: its host queues); a scrape runs them all once.
 */
type Source = () => Promise<void>;
const sources = new Set<Source>();
let running: Promise<void> | null = null;

// A source whose database or Redis does not answer must not hang the scrape: when things break
// is when the other metrics are wanted. Its gauges keep their last values.
const SOURCE_TIMEOUT_MS = 2000;

function bounded(source: Source): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, SOURCE_TIMEOUT_MS)));
  return Promise.race([source().catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

function refresh(): Promise<void> {
  // Every gauge's collect() asks, all in the same tick of one scrape: the first runs the
  // sources, the others wait for the same run; the next scrape runs them again.
  running ??= Promise.all([...sources].map(bounded))
    .then(() => undefined)
    .finally(() => (running = null));
  return running;
}

/** Adds a source of scrape-time values; the returned function removes it (at shutdown). */
export function addScrapeSource(source: Source): () => void {
  sources.add(source);
  return () => void sources.delete(source);
}

function scraped<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [metricsRegistry],
    async collect() {
      await refresh();
    },
  });
}

export const hostsByStatus = scraped('hyperplane_hosts', 'Hosts by status', ['status'] as const);
export const heartbeatAge = scraped('hyperplane_host_heartbeat_age_seconds', 'Age of the hosts\' last heartbeats (stat: p50, p99, max) at scrape time', ['stat'] as const);
export const outboxPending = scraped('hyperplane_outbox_pending', 'Outbox rows not yet relayed to the queues');
export const outboxOldestAge = scraped('hyperplane_outbox_oldest_age_seconds', 'Age of the oldest outbox row not yet relayed (0 when none)');
export const queueJobs = scraped('hyperplane_queue_jobs', 'Jobs by queue (host queues together as "host") and state (waiting, active, delayed)', ['queue', 'state'] as const);
