import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EVENTS_CHANNEL, EventEntity, EventRepository, PgListener } from '@hyperplane/db';

const GAP_RECHECK_MS = 200;

export type EventListener = (event: EventEntity) => void;

export const EVENTS_LISTENER = Symbol('EVENTS_LISTENER');

/**
 * Follows the events table for this process: one LISTEN connection, one query per burst of
 * notifications, fanned out to every SSE client and waiter. A slow poll covers the gaps.
 */
@Injectable()
export class EventHub implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('events');
  private readonly listeners = new Set<EventListener>();
  private lastId = '0';
  private pumping = false;
  private again = false;
  private poll: NodeJS.Timeout | null = null;
  /** Ids skipped over: a transaction that took an id earlier may commit later. */
  private readonly gaps = new Map<string, number>();
  private gapsCheckedAt = 0;

  constructor(
    private readonly events: EventRepository,
    @Inject(EVENTS_LISTENER) private readonly listener: PgListener,
  ) {}

  async onModuleInit(): Promise<void> {
    this.lastId = await this.events.latestId();
    this.listener.on(EVENTS_CHANNEL, () => this.pump());
    await this.listener.start();
    this.poll = setInterval(() => this.pump(), 1000);
    this.poll.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    await this.listener.close();
  }

  /**
   * The id of the newest event delivered to subscribers. Ids rise with each insert but
   * transactions may commit out of order, so a late event can arrive after a newer one.
   */
  get position(): string {
    return this.lastId;
  }

  /** Starts following; events from the current position on reach `listener`. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    this.drain()
      .catch((e: unknown) => this.log.warn(`reading events failed: ${String(e)}`))
      .finally(() => {
        // Notifications that came meanwhile are served by one more read, right after: under
        // load one query carries every transaction that committed during the last one, and
        // an idle plane delivers (and wakes waiters) without a fixed pause.
        this.pumping = false;
        if (this.again) {
          this.again = false;
          setImmediate(() => this.pump());
        }
      });
  }

  private async drain(): Promise<void> {
    // Nobody listens: keep the position (one cheap query) instead of reading every event.
    if (this.listeners.size === 0) {
      this.lastId = await this.events.latestId();
      this.gaps.clear();
      return;
    }
    if (this.gaps.size > 0 && Date.now() - this.gapsCheckedAt >= GAP_RECHECK_MS) {
      this.gapsCheckedAt = Date.now();
      const late = await this.events.byIds([...this.gaps.keys()]);
      for (const event of late) {
        this.gaps.delete(event.id);
        this.deliver(event);
      }
      // An id missing for a minute belonged to a transaction that rolled back.
      const expired = Date.now() - 60_000;
      for (const [id, since] of this.gaps) if (since < expired) this.gaps.delete(id);
    }
    for (;;) {
      const batch = await this.events.since(this.lastId, 1000);
      for (const event of batch) {
        for (let missing = BigInt(this.lastId) + 1n; missing < BigInt(event.id) && this.gaps.size < 10_000; missing++) {
          this.gaps.set(missing.toString(), Date.now());
        }
        this.lastId = event.id;
        this.deliver(event);
      }
      if (batch.length < 1000) return;
    }
  }

  private deliver(event: EventEntity): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (e) {
        this.log.warn(`event listener failed: ${String(e)}`);
      }
    }
  }
}
