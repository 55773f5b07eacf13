import { Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { AppConfig } from '@hyperplane/config';
import { EventEntity, EventRepository, EventSubject } from '@hyperplane/db';
import { canSeeProject, isFleetWide, Principal } from '../auth/principal';
import { eventDataForProject } from '../common/fleet-view';
import { problems } from '../common/problem';
import { EventHub } from './event-hub.service';
import { eventStreamConnections } from '@hyperplane/observability';

/** Events read per replay query: one page at most waits in memory for a slow reader. */
const REPLAY_PAGE = 200;
const PING_MS = 15_000;
/** What a client refused for too many streams is told to wait (streams are long-lived). */
const RETRY_AFTER_S = 10;
const MAX_EVENT_ID = 9_223_372_036_854_775_807n; // the events table's bigint

/** An event id from the client (`since`, `Last-Event-ID`): a 400 naming the field unless it is one. */
export function parseEventId(field: string, value: string): string {
  if (!/^\d{1,19}$/.test(value) || BigInt(value) > MAX_EVENT_ID) throw problems.badField(field, `must be an event id, an integer from 0 to ${MAX_EVENT_ID}`);
  return BigInt(value).toString();
}

function frame(e: EventEntity, fleetWide: boolean): string {
  const shown = fleetWide ? e.data : eventDataForProject(e.type, e.data);
  const data = { id: e.id, type: e.type, subjectType: e.subjectType, subjectId: e.subjectId, projectId: e.projectId, at: new Date(e.createdAt).toISOString(), ...shown };
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Serves /v1/events connections without letting them exhaust the process: a replay reads one
 * page at a time in SQL (only what the token may see) and reads the next only once the client
 * took the last; a live stream whose unsent data passes a bound stops buffering and catches up
 * from the table the same way; a client that takes nothing for the stall time is dropped; a
 * token holds a bounded number of streams.
 */
@Injectable()
export class EventStreams {
  private readonly log = new Logger('events');
  private readonly perToken = new Map<string, number>();

  constructor(
    private readonly hub: EventHub,
    private readonly events: EventRepository,
    private readonly config: AppConfig,
  ) {}

  /** Takes one of the token's stream slots (a 429 when all are taken); the result gives it back, once. */
  acquire(principal: Principal): () => void {
    const held = this.perToken.get(principal.tokenId) ?? 0;
    const max = this.config.HYPERPLANE_EVENTS_MAX_PER_TOKEN;
    if (held >= max) {
      throw problems.tooManyRequests(`the token ${principal.name} already holds ${held} event streams, the most one token may hold; close one first`, RETRY_AFTER_S);
    }
    this.perToken.set(principal.tokenId, held + 1);
    eventStreamConnections.inc();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      eventStreamConnections.dec();
      const left = (this.perToken.get(principal.tokenId) ?? 1) - 1;
      if (left > 0) this.perToken.set(principal.tokenId, left);
      else this.perToken.delete(principal.tokenId);
    };
  }

  get retryAfterS(): number {
    return RETRY_AFTER_S;
  }

  /** Streams to `res` until the client leaves or is dropped; `release` is called when it ends. */
  serve(principal: Principal, subjects: readonly EventSubject[], since: string | undefined, res: Response, release: () => void): void {
    const fleetWide = isFleetWide(principal);
    const types = new Set<string>(subjects);
    const bound = this.config.HYPERPLANE_EVENTS_BUFFER_KB * 1024;
    // live: events are written as the hub delivers them; catching up: they are read from the
    // table instead, a page at a time, as the client takes them.
    let mode: 'live' | 'catching-up' | 'closed' = 'catching-up';
    let sentUpTo = since ?? this.hub.position;
    // A function, not a comparison the compiler narrows: the mode changes across awaits.
    const closed = (): boolean => mode === 'closed';

    const drop = (why: string): void => {
      if (closed()) return;
      mode = 'closed';
      this.log.warn(`dropped an event stream of ${principal.name}: ${why}`);
      res.destroy();
    };
    const send = (e: EventEntity): boolean => {
      // A late event (an earlier id committed after later ones) does not move the position back.
      if (BigInt(e.id) > BigInt(sentUpTo)) sentUpTo = e.id;
      return res.write(frame(e, fleetWide));
    };

    // Replays from sentUpTo to where the hub is, then again if it moved meanwhile; live delivery
    // starts in the same tick as the check that nothing was delivered since, so nothing is
    // missed or sent twice. The next page is read only once the client took the last one; a
    // client that takes nothing for the stall time is dropped.
    const catchUp = async (): Promise<void> => {
      const stallS = this.config.HYPERPLANE_EVENTS_STALL_S;
      if (res.writableNeedDrain && !(await this.drained(res, stallS))) return drop(`its reader took nothing for ${stallS} s`);
      for (;;) {
        const target = this.hub.position;
        for (;;) {
          const page = await this.events.page({ afterId: sentUpTo, upTo: target, projectIds: principal.projectIds, subjects, limit: REPLAY_PAGE });
          if (closed()) return;
          let full = false;
          for (const e of page) full = !send(e) || full;
          if (full && !(await this.drained(res, stallS))) return drop(`its reader took nothing for ${stallS} s`);
          if (closed()) return;
          if (page.length < REPLAY_PAGE) break;
        }
        if (this.hub.position === target) break;
      }
      mode = 'live';
    };
    const startCatchUp = (): void => {
      mode = 'catching-up';
      catchUp().catch((e: unknown) => {
        this.log.warn(`replaying events failed: ${String(e)}`);
        drop('its replay failed');
      });
    };

    const unsubscribe = this.hub.subscribe((e) => {
      if (mode !== 'live' || !types.has(e.subjectType)) return;
      if (e.projectId === null ? !fleetWide : !canSeeProject(principal, e.projectId)) return;
      send(e);
      // Unsent data past the bound: holding more for a reader that does not keep up would let one
      // slow client grow the process without limit. It gets the rest from the table as it reads.
      if (res.writableLength > bound) startCatchUp();
    });
    const ping = setInterval(() => {
      if (!closed()) res.write(': ping\n\n');
    }, PING_MS);
    res.on('close', () => {
      mode = 'closed';
      clearInterval(ping);
      unsubscribe();
      release();
    });

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(': connected\n\n');

    if (since === undefined) mode = 'live';
    else startCatchUp();
  }

  /** Whether the response drained before the stall timeout (false also when it closed). */
  private drained(res: Response, stallS: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(ok);
      };
      const onDrain = (): void => done(true);
      const onClose = (): void => done(false);
      const timer = setTimeout(() => done(false), stallS * 1000);
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
  }
}
