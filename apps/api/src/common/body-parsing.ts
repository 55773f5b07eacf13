import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { json } from 'express';
import { Problem, problems, sendProblem } from './problem';

const JSON_TYPES = ['application/json', 'application/*+json'];
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Bodies already parsed and checked (the agents' route has its own, larger parser first). */
const checked = new WeakSet<Request>();

/** Deeper than any request this API takes (an agent's inventory is about ten levels). */
export const MAX_BODY_DEPTH = 32;

// Never a field of this API; class-transformer drops them silently, so they would pass as
// "no unknown fields" while the idempotency fingerprint still saw them.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) > 0);
}

interface Node {
  value: unknown;
  key: string;
  parent: Node | null;
  depth: number;
}

function pathOf(node: Node | null): string {
  const keys: string[] = [];
  for (let n = node; n && n.parent; n = n.parent) keys.push(n.key);
  return keys.reverse().join('.') || 'body';
}

/**
 * What JSON.parse accepts but the rest of the stack cannot take: nesting deep enough to
 * overflow the recursive transformers (a 500), NUL characters (PostgreSQL refuses them in
 * text and jsonb: a 500), and prototype keys. Iterative, so any depth is safe to look at.
 */
export function checkBodyShape(body: unknown): Problem | null {
  const stack: Node[] = [{ value: body, key: '', parent: null, depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return problems.badField(pathOf(node), 'must not contain NUL characters');
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (node.depth >= MAX_BODY_DEPTH) return problems.badField(pathOf(node), `nested deeper than ${MAX_BODY_DEPTH} levels`);
    if (Array.isArray(value)) {
      value.forEach((child: unknown, i) => stack.push({ value: child, key: String(i), parent: node, depth: node.depth + 1 }));
      continue;
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const next = { value: child, key, parent: node, depth: node.depth + 1 };
      if (FORBIDDEN_KEYS.has(key)) return problems.badField(pathOf(next), 'unknown field');
      if (key.includes('\u0000')) return problems.badField(pathOf(node), 'field names must not contain NUL characters');
      stack.push(next);
    }
  }
  return null;
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/** `256kb` → 262144 (the config's format: a whole number and b, kb or mb). */
export function limitBytes(limit: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(limit.trim());
  if (!m) throw new Error(`not a body limit: ${limit}`);
  return Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
}

/**
 * JSON bodies up to `limit`. A body of another media type is a 415 (not a 400 that lists
 * every field as missing), and a body the rest of the stack cannot take is a 400.
 */
export function jsonBody(limit: string): RequestHandler {
  const parse = json({ limit, strict: true, type: JSON_TYPES });
  const maxBytes = limitBytes(limit);
  return (req, res, next) => {
    if (WITH_BODY.has(req.method) && hasBody(req) && !req.is(JSON_TYPES)) {
      next(problems.unsupportedMediaType(req.headers['content-type']));
      return;
    }
    if (checked.has(req)) {
      next();
      return;
    }
    // body-parser would read (and throw away) a too-large body before answering; a declared
    // length over the limit is refused at once.
    if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
      next(problems.tooLarge(limit));
      return;
    }
    parse(req, res, (err?: unknown) => {
      if (err) {
        next(err);
        return;
      }
      if (req.body === undefined) {
        next();
        return;
      }
      checked.add(req);
      next(checkBodyShape(req.body) ?? undefined);
    });
  };
}

/** body-parser's errors (too large, malformed) as problems instead of express's HTML page. */
export function bodyErrors(limit: string): ErrorRequestHandler {
  return (err: { type?: string; status?: number; statusCode?: number; expose?: boolean; message?: string }, req, res, next) => {
    if (!err || typeof err !== 'object') {
      next(err);
      return;
    }
    const status = err.status ?? err.statusCode;
    const problem =
      err instanceof Problem
        ? err
        : err.type === 'entity.too.large'
          ? problems.tooLarge(limit)
          : err.type === 'entity.parse.failed'
            ? problems.badField('body', `not valid JSON: ${err.message ?? ''}`.trim())
            : err.type === 'encoding.unsupported' || err.type === 'charset.unsupported'
              ? problems.badField('body', err.message ?? 'unsupported encoding')
              : // Any other client error while reading the body (a corrupt gzip stream, an aborted
                // or mis-sized request) is the client's, not a 500.
                typeof status === 'number' && status >= 400 && status < 500
                ? problems.badField('body', err.expose && err.message ? err.message : 'the body could not be read')
                : null;
    if (!problem) {
      next(err);
      return;
    }
    sendProblem(req, res, problem);
  };
}
