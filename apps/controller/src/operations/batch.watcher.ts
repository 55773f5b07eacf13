import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Database, OperationRepository } from '@hyperplane/db';

const EVERY_MS = 1000;

/**
 * Follows running batches: their progress is the share of children that ended, and a batch
 * ends when its last child does — succeeded if every child did, failed otherwise (the counts
 * are in its result). A count per batch per second, instead of a write to the parent per child.
 */
@Injectable()
export class BatchWatcher implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('batch');
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), EVERY_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.busy;
  }

  tick(): Promise<void> {
    this.busy ??= this.check()
      .catch((e: unknown) => this.log.warn(`batch check failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.busy = null));
    return this.busy;
  }

  private async check(): Promise<void> {
    for (const parent of await this.operations.runningBatches()) {
      const c = await this.operations.childCounts(parent.id);
      const total = c.queued + c.running + c.succeeded + c.failed + c.cancelled;
      const ended = c.succeeded + c.failed + c.cancelled;
      const counts = { total, succeeded: c.succeeded, failed: c.failed, cancelled: c.cancelled, running: c.running, queued: c.queued };
      // An evacuation says what moved, what failed and what is still to move, while it runs too.
      const evacuation = parent.kind === 'evacuate';
      const result = evacuation ? { ...counts, moved: c.succeeded, remaining: c.queued + c.running } : counts;
      if (ended < total) {
        const progress = Math.floor((ended * 99) / Math.max(1, total));
        if (evacuation) {
          const step = `${c.succeeded} moved, ${c.failed + c.cancelled} failed, ${c.queued + c.running} remaining`;
          if (step !== parent.step) await this.operations.parentProgress(parent.id, progress, step, result);
        } else if (progress !== parent.progress) await this.operations.progress(parent.id, progress, `${ended} of ${total} done`);
        continue;
      }
      await this.db.transaction((em) =>
        c.failed + c.cancelled === 0
          ? this.operations.transition(em, parent.id, ['running'], 'succeeded', { step: `${total} of ${total} succeeded`, result })
          : this.operations.transition(em, parent.id, ['running'], 'failed', {
              step: 'done',
              result,
              error: { code: 'partial', message: `${c.failed} failed and ${c.cancelled} cancelled of ${total}` },
            }),
      );
    }
  }
}
