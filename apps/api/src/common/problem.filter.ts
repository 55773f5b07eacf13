import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Problem, ProblemBody } from './problem';
import { isDatabaseUnavailable } from './unavailable';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
};

/** Turns every error into application/problem+json. A lost database is a 503; other unexpected errors are logged and are 500s. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly log = new Logger('api');

  catch(error: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    const body = this.toProblem(error, req.originalUrl ?? req.url);
    if (typeof body.retryAfterS === 'number') res.setHeader('Retry-After', String(body.retryAfterS));
    res.status(body.status).type('application/problem+json').send(JSON.stringify(body));
  }

  private toProblem(error: unknown, instance: string): ProblemBody {
    if (error instanceof Problem) return error.body(instance);
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const response = error.getResponse();
      const raw = typeof response === 'string' ? response : (response as { message?: unknown }).message;
      const message = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.map(String).join('; ') : error.message;
      return { type: 'about:blank', title: TITLES[status] ?? 'Error', status, detail: message, instance };
    }
    if (isDatabaseUnavailable(error)) {
      // Nothing was committed (the transaction died with its connection): the client may retry.
      this.log.warn(`database unavailable: ${error instanceof Error ? error.message : String(error)}`);
      return { type: 'about:blank', title: 'Service unavailable', status: HttpStatus.SERVICE_UNAVAILABLE, detail: 'the database is briefly unavailable; retry the request', instance, retryAfterS: 1 };
    }
    this.log.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return {
      type: 'about:blank',
      title: 'Internal server error',
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      detail: 'an unexpected error occurred; it has been logged',
      instance,
    };
  }
}
