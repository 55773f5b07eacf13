import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { TERMINAL_OPERATION_STATUSES } from '@hyperplane/domain';
import { OperationRepository } from '@hyperplane/db';
import { EventHub } from '../events/event-hub.service';

const RECHECK_MS = 2000;

/**
 * Everyone waiting for an operation to end, by operation id: one subscription to the event
 * hub for all of them (an event finds its waiters in a map, not by asking each), and one query
 * every 2 s for the lot, in case an event was missed while the listener reconnected.
 */
@Injectable()
export class OperationWaiters implements OnModuleInit, OnModuleDestroy {
  private readonly waiting = new Map<string, Set<() => void>>();
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly hub: EventHub,
    private readonly operations: OperationRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.recheck(), RECHECK_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    for (const id of [...this.waiting.keys()]) this.release(id);
  }

  /**
   * Resolves when the operation ends or `timeoutMs` passes. The hub is followed only while
   * someone waits; the status is read once more after registering, so an end that came just
   * before is not missed.
   */
  wait(id: string, timeoutMs: number): Promise<void> {
    this.unsubscribe ??= this.hub.subscribe((e) => {
      if (e.subjectType === 'operation' && TERMINAL_OPERATION_STATUSES.includes(e.data.status as never)) this.release(e.subjectId);
    });
    const waited = new Promise<void>((resolve) => {
      const set = this.waiting.get(id) ?? new Set();
      this.waiting.set(id, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiting.get(id) === set) this.waiting.delete(id);
        this.idle();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      set.add(done);
    });
    void this.operations.terminalAmong([id]).then((ended) => ended.forEach((e) => this.release(e)), () => undefined);
    return waited;
  }

  private release(id: string): void {
    const set = this.waiting.get(id);
    if (set) {
      this.waiting.delete(id);
      for (const done of [...set]) done();
    }
    this.idle();
  }

  /** Stops following the hub when nobody waits any more. */
  private idle(): void {
    if (this.waiting.size > 0 || !this.unsubscribe) return;
    this.unsubscribe();
    this.unsubscribe = null;
  }

  private async recheck(): Promise<void> {
    if (this.waiting.size === 0) return;
    const ended = await this.operations.terminalAmong([...this.waiting.keys()]).catch(() => []);
    for (const id of ended) this.release(id);
  }
}
