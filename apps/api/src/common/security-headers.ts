import type { RequestHandler } from 'express';

/**
 * On every response: browsers must not guess a type other than the one sent, and nothing
 * between the client and the API may keep an API answer (some carry secrets shown once).
 */
export function securityHeaders(): RequestHandler {
  return (req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const path = req.path.toLowerCase();
    if (path.startsWith('/v1/') || path === '/v1') res.setHeader('Cache-Control', 'no-store');
    next();
  };
}
