import type { NextFunction, Request, Response } from 'express';
import { AuthedRequest } from '../auth/auth.decorators';
import { AuditService } from './audit.service';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Records every mutating /v1 request once it has been answered, whatever the answer (refusals
 * by authentication, validation or quota included). Agents' own calls (enrollment,
 * inventory) are the machinery's, not a person's: they are left out.
 */
export function auditTrail(audit: AuditService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!MUTATING.has(req.method) || req.path.startsWith('/agents')) return next();
    res.once('finish', () => {
      // A throttled source's requests are not looked at, so not written down either: a flood
      // must not become a write per request. Its failed authentications (401, at most
      // HYPERPLANE_AUTH_FAILURES_PER_MINUTE a minute) are.
      if (res.statusCode === 429 && !(req as AuthedRequest).principal) return;
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const target = (req.originalUrl ?? req.url).split('?')[0] ?? '';
      const body = req.body as { project?: unknown; spec?: { project?: unknown } } | undefined;
      const project = body?.project ?? body?.spec?.project;
      audit.record({
        principal: (req as AuthedRequest).principal ?? null,
        action: `${req.method} ${typeof route === 'string' ? route : target}`,
        target,
        source: req.ip ?? req.socket.remoteAddress ?? 'unknown',
        requestId: String(res.getHeader('X-Request-Id') ?? '') || null,
        status: res.statusCode,
        projectName: typeof project === 'string' ? project : undefined,
        // Set by accepted() for a request that made an operation on an instance.
        ...(typeof res.locals.projectId === 'string' ? { projectId: res.locals.projectId } : {}),
      });
    });
    next();
  };
}
