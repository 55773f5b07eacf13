import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiProduces, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import type { Request, Response } from 'express';
import { EventEntity, EventRepository } from '@hyperplane/db';
import { eventStreamConnections } from '@hyperplane/observability';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { canSeeProject, isFleetWide, Principal } from '../auth/principal';
import { eventDataForProject } from '../common/fleet-view';
import { problems } from '../common/problem';
import { EventHub } from './event-hub.service';

export class EventsQuery {
  @ApiPropertyOptional({ description: 'Comma-separated subjects to follow', example: 'instance,operation,host' })
  @IsOptional()
  @Matches(/^(instance|operation|host)(,(instance|operation|host))*$/, { message: 'types must be a comma-separated list of instance, operation, host' })
  types?: string;

  @ApiPropertyOptional({ description: 'Replay events after this id first (like Last-Event-ID)' })
  @IsOptional()
  @Matches(/^\d{1,19}$/, { message: 'since must be an event id' })
  since?: string;
}

function visibleTo(principal: Principal, types: Set<string>): (e: EventEntity) => boolean {
  return (e) => types.has(e.subjectType) && (e.projectId === null ? isFleetWide(principal) : canSeeProject(principal, e.projectId));
}

function frame(e: EventEntity, fleetWide: boolean): string {
  const shown = fleetWide ? e.data : eventDataForProject(e.type, e.data);
  const data = { id: e.id, type: e.type, subjectType: e.subjectType, subjectId: e.subjectId, projectId: e.projectId, at: new Date(e.createdAt).toISOString(), ...shown };
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventController {
  constructor(
    private readonly hub: EventHub,
    private readonly events: EventRepository,
  ) {}

  /**
   * Server-sent events: every state change of instances, operations and hosts the token may
   * see. Reconnect with Last-Event-ID (or ?since=) to get what was missed.
   */
  @Get()
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false })
  @ApiOkResponse({ description: 'A text/event-stream of state changes' })
  async stream(
    @CurrentPrincipal() principal: Principal,
    @Query() q: EventsQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const since = q.since ?? lastEventId;
    if (since !== undefined && !/^\d{1,19}$/.test(since)) throw problems.badField('Last-Event-ID', 'must be an event id');
    const accept = visibleTo(principal, new Set((q.types ?? 'instance,operation,host').split(',')));
    const fleetWide = isFleetWide(principal);

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(': connected\n\n');
    eventStreamConnections.inc();

    // Live events are held back while the backlog is read, then sent without duplicates.
    let replaying = since !== undefined;
    let sentUpTo = since ?? this.hub.position;
    const held: EventEntity[] = [];
    const send = (e: EventEntity): void => {
      if (accept(e)) res.write(frame(e, fleetWide));
    };
    const unsubscribe = this.hub.subscribe((e) => {
      if (replaying) held.push(e);
      else send(e);
    });
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      eventStreamConnections.dec();
      clearInterval(ping);
      unsubscribe();
    });

    if (since !== undefined) {
      const upTo = BigInt(this.hub.position);
      for (;;) {
        const batch = (await this.events.since(sentUpTo, 1000)).filter((e) => BigInt(e.id) <= upTo);
        batch.forEach(send);
        if (batch.length === 0) break;
        sentUpTo = batch[batch.length - 1]!.id;
        if (BigInt(sentUpTo) >= upTo) break;
      }
      const last = BigInt(sentUpTo);
      held.filter((e) => BigInt(e.id) > last).forEach(send);
      replaying = false;
    }
  }
}
