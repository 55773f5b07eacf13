import type { Job } from 'bullmq';
import { childCache, jobDuration, jobWait, withRequestId } from '@hyperplane/observability';
import { isHostQueue } from './job-names';

// Host queues are one label value together: a fleet of 10,000 hosts is not 10,000 series.
const queueLabel = (queue: string): string => (isHostQueue(queue) ? 'host' : queue);
const waitSeries = childCache((queue) => jobWait.labels(queue));
const durationSeries = childCache((queue, outcome) => jobDuration.labels(queue, outcome));

/**
 * Runs a job's handler as part of the request that caused it (its payload's `requestId`, if
 * any), timing how long the job waited and how long it took.
 */
export async function observeJob(queue: string, job: Job, handle: () => Promise<unknown>): Promise<void> {
  const label = queueLabel(queue);
  const started = Date.now();
  if (job.timestamp) waitSeries(label).observe(Math.max(0, started - job.timestamp) / 1000);
  const requestId = (job.data as { requestId?: unknown } | undefined)?.requestId;
  let outcome = 'failed';
  try {
    await withRequestId(typeof requestId === 'string' ? requestId : undefined, handle);
    outcome = 'completed';
  } finally {
    durationSeries(label, outcome).observe((Date.now() - started) / 1000);
  }
}
