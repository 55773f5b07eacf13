import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@hyperplane/config';
import { OperationEntity, OperationRepository } from '@hyperplane/db';
import { isCommandBatchJobId, isHostQueue, JobName, JobQueue, QueueMessage } from '@hyperplane/queue';
import { HostCommandSender } from '../operations/host-command.sender';

/**
 * Redis holds only work in flight, and may lose it (a restart without persistence, a
 * FLUSHALL). PostgreSQL knows every operation that has not ended and where its work was
 * sent; this puts lost work back under the same job id. At start it checks every active
 * operation; afterwards, those that have not moved for a while.
 */
@Injectable()
export class Reconciler implements OnApplicationShutdown {
  private readonly log = new Logger('reconcile');
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;
  requeued = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly operations: OperationRepository,
    private readonly commands: HostCommandSender,
    private readonly queue: JobQueue,
  ) {}

  /** Rebuilds in-flight work from PostgreSQL, then keeps checking on an interval. */
  async start(): Promise<void> {
    await this.rebuild();
    this.timer = setInterval(() => void this.tick(), this.config.HYPERPLANE_RECONCILE_INTERVAL_S * 1000);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.busy;
  }

  tick(): Promise<void> {
    this.busy ??= this.checkStale()
      .catch((e: unknown) => this.log.warn(`reconcile failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.busy = null));
    return this.busy;
  }

  async rebuild(): Promise<number> {
    let after: string | null = null;
    let count = 0;
    for (;;) {
      const batch = await this.operations.allActive(after, 500);
      for (const op of batch) if (await this.ensure(op)) count++;
      if (batch.length < 500) break;
      after = batch[batch.length - 1]!.id;
    }
    if (count) this.log.log(`re-enqueued ${count} operation(s) that Redis had lost`);
    return count;
  }

  private async checkStale(): Promise<void> {
    // Quiet for two lock periods: a live worker would have renewed or finished by now.
    const quietMs = Math.max(this.config.HYPERPLANE_RECONCILE_INTERVAL_S * 1000, this.config.HYPERPLANE_JOB_LOCK_MS * 2);
    const stale = await this.operations.staleActive(quietMs, 500);
    let count = 0;
    for (const op of stale) if (await this.ensure(op)) count++;
    if (count) this.log.log(`re-enqueued ${count} stalled operation(s)`);
  }

  /** Puts the operation's current job back if Redis no longer has it waiting or running. */
  private async ensure(op: OperationEntity): Promise<boolean> {
    if (!op.jobQueue || !op.jobId || !(op.jobData || isCommandBatchJobId(op.jobId))) return false;
    const state = await this.queue.jobState(op.jobQueue, op.jobId);
    if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') return false;
    const message = await this.resendable(op);
    if (!message) return false;
    if (message.jobId !== op.jobId) {
      // Out of a command batch, alone: the operation waits for the new job before it exists.
      // It keeps the command made from its instance: if Redis loses this job too, the next
      // pass sends it again (without it, neither a batch id nor job data: never resent).
      await this.operations.rejob(op.id, message.jobId, message.data);
    } else {
      // 'completed' or 'failed' with the operation still open means its result was lost.
      if (state !== 'unknown') await this.queue.removeJob(op.jobQueue, op.jobId);
      await this.operations.touch(op.id);
    }
    await this.queue.enqueue(message);
    this.requeued++;
    return true;
  }

  /** The job to send again: a control job as it was, a host job as HostCommandSender makes it again. */
  private async resendable(op: OperationEntity): Promise<QueueMessage | null> {
    if (!isHostQueue(op.jobQueue!)) return { queue: op.jobQueue!, name: JobName.RunOperation, jobId: op.jobId!, data: op.jobData as never };
    return this.commands.resendable(op);
  }
}
