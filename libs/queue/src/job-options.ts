import { JobsOptions } from 'bullmq';
import { JobName } from './job-names';

// Every job retries with exponential backoff; handlers rethrow so BullMQ records failures, and
// throw UnrecoverableError for failures that a retry cannot mend. Completed jobs are kept for
// an hour so that a second add of the same job id (a relay replayed) stays a no-op.
const keep = { removeOnComplete: { age: 3600, count: 50_000 }, removeOnFail: { age: 24 * 3600, count: 50_000 } };

export const JOB_OPTIONS: Record<JobName, JobsOptions> = {
  [JobName.RunOperation]: { attempts: 10, backoff: { type: 'exponential', delay: 200 }, ...keep },
  [JobName.CancelOperation]: { attempts: 10, backoff: { type: 'exponential', delay: 200 }, ...keep },
  [JobName.HostCommand]: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, ...keep },
  // A batch's commands retry one by one inside the job (see the agent's CommandHandler); the
  // job itself is retried only if the agent could not finish it (it died, Redis failed).
  [JobName.HostCommandBatch]: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, ...keep },
  [JobName.AgentResult]: { attempts: 20, backoff: { type: 'exponential', delay: 200 }, ...keep },
  [JobName.AgentResultBatch]: { attempts: 20, backoff: { type: 'exponential', delay: 200 }, ...keep },
  [JobName.AgentProgress]: { attempts: 1, removeOnComplete: true, removeOnFail: true },
  // The delivery schedule itself (Standard Webhooks') is the handler's, with RetryLater; these
  // attempts cover only failures to run the handler (PostgreSQL unreachable, …).
  [JobName.WebhookDeliver]: { attempts: 10, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 24 * 3600 } },
  // Answered once or not at all: the API waits a few seconds, then removes the job if no agent took it.
  // Kept a minute after it ends, long enough for the waiting API to read the answer.
  [JobName.ConsoleRead]: { attempts: 1, removeOnComplete: { age: 60 }, removeOnFail: { age: 60 } },
  [JobName.AgentSync]: { attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: 3600 } },
};

/**
 * The wait before a command the controller sends again after it failed (attempt 2 on: 2 s, 4 s,
 * 8 s, … at most a minute), on top of the agent's own retries of each sending. Made from the
 * job's data, so that a resend of a lost job waits the same way.
 */
export function hostCommandDelayMs(attempt: number | undefined): number {
  if (!attempt || attempt <= 1) return 0;
  return Math.min(60_000, 2_000 * 2 ** (attempt - 2));
}
