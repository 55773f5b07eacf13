import { HttpException, HttpStatus } from '@nestjs/common';
import type { Request, Response } from 'express';

export interface FieldError {
  /** Dotted path of the field at fault, e.g. `resources.memoryMiB`. */
  field: string;
  message: string;
}

/** An RFC 9457 problem: every error the API returns has this shape. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const TYPE_BASE = 'https://hyperplane.dev/problems/';

/** RFC 9457's own members: an extension of the same name would corrupt the problem (or its status). */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'instance']);

function safeExtensions(extensions: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(extensions).filter(([k]) => !RESERVED.has(k)));
}

export class Problem extends HttpException {
  constructor(
    status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super({ ...safeExtensions(extensions), type: TYPE_BASE + slug, title, status, detail }, status);
  }

  body(instance: string): ProblemBody {
    return { type: TYPE_BASE + this.slug, title: this.title, status: this.getStatus(), detail: this.detail, instance, ...safeExtensions(this.extensions) };
  }
}

export const problems = {
  validation(errors: FieldError[]): Problem {
    const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return new Problem(HttpStatus.BAD_REQUEST, 'validation', 'The request is not valid', detail, { errors });
  },
  badField(field: string, message: string): Problem {
    return problems.validation([{ field, message }]);
  },
  notFound(kind: string, id: string): Problem {
    return new Problem(HttpStatus.NOT_FOUND, 'not-found', `No such ${kind}`, `${kind} ${id} does not exist or is not visible to this token`);
  },
  conflict(detail: string, extensions: Record<string, unknown> = {}): Problem {
    return new Problem(HttpStatus.CONFLICT, 'conflict', 'Conflict', detail, extensions);
  },
  /**
   * Over quota: 409, not 403 — the token is allowed to do this; the project's current usage
   * conflicts with it, and the same request succeeds once room is freed or the quota raised.
   */
  quotaExceeded(q: { project: string; technology: string; resource: string; limit: number; usage: number; requested: number }): Problem {
    const scope = q.technology === 'all' ? '' : ` (${q.technology})`;
    return new Problem(
      HttpStatus.CONFLICT,
      'quota-exceeded',
      'Quota exceeded',
      `project ${q.project}${scope} ${q.resource}: limit ${q.limit}, in use ${q.usage}, requested ${q.requested}`,
      q,
    );
  },
  unauthorized(detail: string): Problem {
    return new Problem(HttpStatus.UNAUTHORIZED, 'unauthorized', 'Unauthorized', detail);
  },
  forbidden(detail: string): Problem {
    return new Problem(HttpStatus.FORBIDDEN, 'forbidden', 'Forbidden', detail);
  },
  unsupportedMediaType(contentType: string | undefined): Problem {
    const message = `the body must be application/json, not ${contentType ? JSON.stringify(contentType) : 'without a Content-Type'}`;
    return new Problem(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'unsupported-media-type', 'Unsupported media type', message, {
      errors: [{ field: 'Content-Type', message }],
    });
  },
  tooLarge(limit: string): Problem {
    return new Problem(HttpStatus.PAYLOAD_TOO_LARGE, 'payload-too-large', 'Payload too large', `the request body is larger than ${limit}`);
  },
  /** The caller should try again after `retryAfterS` seconds (sent as Retry-After). */
  tooManyRequests(detail: string, retryAfterS: number): Problem {
    return new Problem(HttpStatus.TOO_MANY_REQUESTS, 'too-many-requests', 'Too many requests', detail, { retryAfterS });
  },
  /** A host (through its agent) did not answer in time: 504, as a gateway whose upstream is silent. */
  hostTimeout(detail: string): Problem {
    return new Problem(HttpStatus.GATEWAY_TIMEOUT, 'host-timeout', 'The host did not answer', detail);
  },
  unavailable(detail: string): Problem {
    return new Problem(HttpStatus.SERVICE_UNAVAILABLE, 'unavailable', 'Service unavailable', detail);
  },
};

/**
 * Answers with a problem from an express middleware (outside Nest's filters). A request whose
 * body is still unread gets `Connection: close`: the server then need not read a body it
 * refused (a 401 before a 60 MB upload is sent, not after).
 */
export function sendProblem(req: Request, res: Response, problem: Problem): void {
  const retryAfter = problem.extensions.retryAfterS;
  if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
  if (!req.complete) res.setHeader('Connection', 'close');
  res.status(problem.getStatus()).type('application/problem+json').send(JSON.stringify(problem.body(req.originalUrl)));
}
