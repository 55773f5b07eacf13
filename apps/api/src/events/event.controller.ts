import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiProduces, ApiPropertyOptional, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import type { Response } from 'express';
import { EventSubject } from '@hyperplane/db';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { Problem } from '../common/problem';
import { EventStreams, parseEventId } from './event-stream.service';

export class EventsQuery {
  @ApiPropertyOptional({ description: 'Comma-separated subjects to follow', example: 'instance,operation,host' })
  @IsOptional()
  @Matches(/^(instance|operation|host)(,(instance|operation|host))*$/, { message: 'types must be a comma-separated list of instance, operation, host' })
  types?: string;

  @ApiPropertyOptional({ description: 'Replay events after this id first (like Last-Event-ID)' })
  @IsOptional()
  @Matches(/^\d{1,19}$/, { message: 'since must be an event id, an integer from 0 to 9223372036854775807' })
  since?: string;
}

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventController {
  constructor(private readonly streams: EventStreams) {}

  /**
   * Server-sent events: every state change of instances, operations and hosts the token may
   * see. Reconnect with Last-Event-ID (or ?since=) to get what was missed. A token holds a
   * bounded number of streams at once; a reader that falls too far behind is dropped.
   */
  @Get()
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false })
  @ApiOkResponse({ description: 'A text/event-stream of state changes' })
  @ApiTooManyRequestsResponse({ description: 'The token holds as many streams as it may (see Retry-After)' })
  stream(
    @CurrentPrincipal() principal: Principal,
    @Query() q: EventsQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() res: Response,
  ): void {
    const since = q.since !== undefined ? parseEventId('since', q.since) : lastEventId !== undefined ? parseEventId('Last-Event-ID', lastEventId) : undefined;
    const subjects = [...new Set((q.types ?? 'instance,operation,host').split(','))] as EventSubject[];
    let release: () => void;
    try {
      release = this.streams.acquire(principal);
    } catch (e) {
      if (e instanceof Problem) res.setHeader('Retry-After', String(this.streams.retryAfterS));
      throw e;
    }
    this.streams.serve(principal, subjects, since, res, release);
  }
}
