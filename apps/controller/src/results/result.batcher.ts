import { Injectable, Logger } from '@nestjs/common';
import { AgentResultPayload } from '@hyperplane/queue';
import { ResultApplier } from './result.applier';

const MAX_BATCH = 500;

interface Pending {
  result: AgentResultPayload;
  agentId: string;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Gathers agent results that arrive together and applies the common ones (successes that only
 * move an instance's state) in one transaction. Each result's job completes only once its
 * transaction has committed, so nothing is acknowledged before it is stored. If a batch fails,
 * its results are applied one by one, so one bad result holds up no other.
 */
@Injectable()
export class ResultBatcher {
  private readonly log = new Logger('results');
  private pending: Pending[] = [];
  private timer: NodeJS.Immediate | null = null;
  /** Batches being applied now; results that come meanwhile wait for one to end (group commit). */
  private inFlight = 0;

  constructor(private readonly applier: ResultApplier) {}

  /** `agentId`: the agent whose results queue the result came on. */
  submit(result: AgentResultPayload, agentId: string): Promise<void> {
    if (!this.applier.bulkable(result)) return this.applier.apply(result, agentId).then(() => undefined);
    return new Promise((resolve, reject) => {
      this.pending.push({ result, agentId, resolve, reject });
      // No fixed window: an idle controller applies at once (results of the same tick go
      // together); a busy one gathers what arrives while a batch commits into the next batch.
      if (this.pending.length >= MAX_BATCH) this.flush();
      else if (this.inFlight === 0) this.timer ??= setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    if (this.timer) clearImmediate(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.inFlight++;
    void this.applier
      .applyMany(batch.map((p) => ({ result: p.result, agentId: p.agentId })))
      .then(
        () => batch.forEach((p) => p.resolve()),
        async (e: unknown) => {
          this.log.warn(`a batch of ${batch.length} results failed (${e instanceof Error ? e.message : String(e)}); applying them one by one`);
          for (const p of batch) await this.applier.apply(p.result, p.agentId).then(() => p.resolve(), p.reject);
        },
      )
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0 && this.pending.length > 0) this.flush();
      });
  }
}
