import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { childCache, httpRequestDuration, REQUEST_ID_HEADER, requestIdFrom, withRequestId } from '@hyperplane/observability';

// One child series per (method, route pattern, status): found through maps, not label hashing.
const series = childCache((method, route, status) => httpRequestDuration.labels(method, route, status));

/**
 * First of all middleware: gives the request its id (the caller's `X-Request-Id` when it is a
 * sensible one, else a fresh one), answers it in the same header, runs the rest of the request
 * with it (logs, the operation it creates), and times the request by route pattern — never by
 * the raw URL, which holds ids and names.
 */
export function requestObserver() {
  const log = new Logger('http');
  return (req: Request, res: Response, next: NextFunction): void => {
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.once('close', () => {
      // Set by Express once a route matched; requests refused before routing (unknown paths,
      // bodies too large) are "unmatched".
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const pattern = typeof route === 'string' ? route : 'unmatched';
      // An event stream lasts as long as its reader: hyperplane_event_stream_connections counts those.
      const stream = String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');
      if (!stream) series(req.method, pattern, String(res.statusCode)).observe(seconds);
      // An access log line (debug; a server error is a warning), in the request's context.
      const line = { msg: `${req.method} ${pattern} ${res.statusCode}`, method: req.method, route: pattern, status: res.statusCode, durationMs: Math.round(seconds * 1000), requestId };
      if (res.statusCode >= 500) log.warn(line);
      else log.debug(line);
    });
    withRequestId(requestId, next);
  };
}
