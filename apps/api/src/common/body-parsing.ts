import type { ErrorRequestHandler, RequestHandler } from 'express';
import { json } from 'express';
import { problems } from './problem';

/** JSON bodies up to `limit`; anything else that claims to be JSON is refused cleanly. */
export function jsonBody(limit: string): RequestHandler {
  return json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
}

/** body-parser's errors (too large, malformed) as problems instead of express's HTML page. */
export function bodyErrors(limit: string): ErrorRequestHandler {
  return (err: { type?: string; status?: number; message?: string }, req, res, next) => {
    if (!err || typeof err !== 'object' || !('type' in err)) {
      next(err);
      return;
    }
    const problem =
      err.type === 'entity.too.large'
        ? problems.tooLarge(limit)
        : err.type === 'entity.parse.failed'
          ? problems.badField('body', `not valid JSON: ${err.message ?? ''}`.trim())
          : err.type === 'encoding.unsupported' || err.type === 'charset.unsupported'
            ? problems.badField('body', err.message ?? 'unsupported encoding')
            : null;
    if (!problem) {
      next(err);
      return;
    }
    res.status(problem.getStatus()).type('application/problem+json').send(JSON.stringify(problem.body(req.originalUrl)));
  };
}
