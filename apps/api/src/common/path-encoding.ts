import type { Application, RequestHandler } from 'express';
import { problems, sendProblem } from './problem';

function decodes(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

/**
 * Which path parameter a segment that cannot be decoded stands for, given the routes' patterns
 * (`/v1/instances/:id`): the pattern whose other segments match names it; else `path`.
 */
export function malformedSegmentField(patterns: readonly string[], path: string): string | null {
  const segments = path.split('/');
  const bad = segments.findIndex((s) => !decodes(s));
  if (bad < 0) return null;
  for (const pattern of patterns) {
    const parts = pattern.replace(/\/+$/, '').split('/');
    const param = parts[bad];
    if (parts.length !== segments.length || !param?.startsWith(':')) continue;
    const fits = parts.every((p, i) => i === bad || p.startsWith(':') || p.toLowerCase() === segments[i]!.toLowerCase());
    if (fits) return param.slice(1);
  }
  return 'path';
}

/**
 * A malformed %-escape in the path is a 400 that names the parameter, not the router's bare
 * "Failed to decode param". The routes are read from the router once, at the first request.
 */
export function pathEncodingCheck(app: Application): RequestHandler {
  let patterns: string[] | null = null;
  return (req, res, next) => {
    if (!req.path.includes('%')) {
      next();
      return;
    }
    patterns ??= routePatterns(app);
    const field = malformedSegmentField(patterns, req.path.replace(/\/+$/, ''));
    if (field) sendProblem(req, res, problems.badField(field, 'is not valid percent-encoding'));
    else next();
  };
}

function routePatterns(app: Application): string[] {
  const router = (app as unknown as { router?: { stack: { route?: { path: unknown } }[] } }).router;
  return (router?.stack ?? []).map((layer) => layer.route?.path).filter((p): p is string => typeof p === 'string');
}
