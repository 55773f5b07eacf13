import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Database, OperationRepository } from '@hyperplane/db';
import { OperationStatus } from '@hyperplane/domain';

const EVERY_MS = 1000;
/** A check that took d ms is not run again for SLOWDOWN × d ms: it never takes more than a fifth of a connection. */
const SLOWDOWN = 4;
/**
 * Nor for more than this: a check that waited long (for a connection of a pool busy with a
 * million deletes' results) would otherwise leave every parent open for four times that wait
 * after its last child ended (a million deletes: 82 of 100 parents still open minutes after).
 */
const MAX_PAUSE_MS = 10_000;

/**
 * Follows running batches: their progress is the share of children that ended, and a batch
 * ends when its last child does — succeeded if every child did, failed otherwise (the counts
 * are in its result). One statement per check for every batch, reading only their active
 * children; each progress step is written with an operation.status event (a batch's children
 * have none of their own while they go as planned).
 */
@Injectable()
export class BatchWatcher implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('batch');
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;
  private notBefore = 0;
  /** Children per parent: counted once (they are all made with their parent). */
  private readonly totals = new Map<string, number>();

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
    if (!this.busy && Date.now() < this.notBefore) return Promise.resolve();
    this.busy ??= (async () => {
      const started = Date.now();
      await this.check().catch((e: unknown) => this.log.warn(`batch check failed: ${e instanceof Error ? e.message : String(e)}`));
      this.notBefore = Date.now() + Math.min(MAX_PAUSE_MS, SLOWDOWN * (Date.now() - started));
    })().finally(() => (this.busy = null));
    return this.busy;
  }

  private async check(): Promise<void> {
    const parents = await this.operations.runningBatches();
    const running = new Set(parents.map((p) => p.id));
    for (const id of [...this.totals.keys()]) if (!running.has(id)) this.totals.delete(id);
    const active = await this.operations.activeChildCounts(parents.map((p) => p.id));
    for (const parent of parents) {
      const open = active.get(parent.id) ?? 0;
      if (open > 0) {
        if (parent.kind === 'evacuate') {
          // An evacuation (one child per instance of one host: hundreds, not a million) says
          // what moved, what failed and what is still to move while it runs.
          const c = await this.operations.childCounts(parent.id);
          const total = c.queued + c.running + c.succeeded + c.failed + c.cancelled;
          const progress = Math.floor(((c.succeeded + c.failed + c.cancelled) * 99) / Math.max(1, total));
          const step = `${c.succeeded} moved, ${c.failed + c.cancelled} failed, ${c.queued + c.running} remaining`;
          if (step !== parent.step) await this.operations.parentProgress(parent.id, progress, step, evacuationResult(c));
          continue;
        }
        let total = this.totals.get(parent.id);
        if (total === undefined) this.totals.set(parent.id, (total = await this.operations.childTotal(parent.id)));
        const ended = Math.max(0, total - open);
        const progress = Math.floor((ended * 99) / Math.max(1, total));
        if (progress !== parent.progress) await this.operations.parentProgress(parent.id, progress, `${ended} of ${total} done`);
        continue;
      }
      const c = await this.operations.childCounts(parent.id);
      const total = c.queued + c.running + c.succeeded + c.failed + c.cancelled;
      if (c.queued + c.running > 0) continue; // one started meanwhile: the next check sees it
      const result = parent.kind === 'evacuate' ? evacuationResult(c) : { total, succeeded: c.succeeded, failed: c.failed, cancelled: c.cancelled, running: c.running, queued: c.queued };
      await this.db.transaction((em) =>
        c.failed + c.cancelled === 0
          ? this.operations.transition(em, parent.id, ['running'], 'succeeded', { step: `${total} of ${total} succeeded`, result })
          : this.operations.transition(em, parent.id, ['running'], 'failed', {
              step: 'done',
              result,
              error: { code: 'partial', message: `${c.failed} failed and ${c.cancelled} cancelled of ${total}` },
            }),
      );
      this.totals.delete(parent.id);
    }
  }
}

/** An evacuation's result: its children by status, and what moved and what is still to move. */
function evacuationResult(c: Record<OperationStatus, number>): Record<string, number> {
  const total = c.queued + c.running + c.succeeded + c.failed + c.cancelled;
  return { total, succeeded: c.succeeded, failed: c.failed, cancelled: c.cancelled, running: c.running, queued: c.queued, moved: c.succeeded, remaining: c.queued + c.running };
}
