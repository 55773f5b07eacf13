import { createHash } from 'node:crypto';
import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { problems } from './problem';

export interface IdempotencyContext {
  /** The caller's key, if it sent one. */
  key: string | null;
  /** SHA-256 of method, path and canonical body: what "the same request" means. */
  fingerprint: string;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function fingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method.toUpperCase()} ${path}\n${canonical(body ?? null)}`).digest('hex');
}

/** The `Idempotency-Key` header and the request's fingerprint. */
export const Idempotency = createParamDecorator((_: unknown, ctx: ExecutionContext): IdempotencyContext => {
  const req = ctx.switchToHttp().getRequest<Request>();
  const raw = req.headers['idempotency-key'];
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (key !== undefined && !KEY_PATTERN.test(key)) {
    throw problems.badField('Idempotency-Key', 'must be 1 to 255 visible ASCII characters');
  }
  const path = (req.originalUrl ?? req.url).split('?')[0] ?? '';
  return { key: key ?? null, fingerprint: fingerprint(req.method, path, req.body) };
});
