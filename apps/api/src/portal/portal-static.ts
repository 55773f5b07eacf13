import { createReadStream, existsSync, statSync } from 'node:fs';
import { join, normalize, resolve, sep } from 'node:path';
import type { RequestHandler } from 'express';

/** The portal's client-side routes: a reload or a shared link on one of these gets index.html. */
const PORTAL_ROUTE = /^\/(?:|sign-in|overview|hosts|instances|create|operations|admin)(?:\/[^.]*)?$/;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.html': 'text/html; charset=utf-8',
};

// Everything the portal loads comes from this origin; it runs no inline script or style sheet.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Where `npm run build` puts the portal (dist/portal), from the compiled or the source tree. */
export function findPortalDir(): string | null {
  for (const dir of [resolve(__dirname, '../../../../portal'), resolve(__dirname, '../../../../dist/portal')]) {
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return null;
}

/**
 * Serves the built portal at `/`: hashed files under /assets/ are kept for a year, index.html
 * is revalidated every time, and only the portal's own routes fall back to index.html — never
 * /v1, /docs, /openapi.json, /healthz, /readyz or /metrics, which stay the API's.
 */
export function portalStatic(dir: string | null = findPortalDir()): RequestHandler {
  return (req, res, next) => {
    if (!dir || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    const path = req.path;
    let file: string;
    let cache: string;
    if (path.startsWith('/assets/') || path === '/favicon.svg') {
      file = normalize(join(dir, path));
      if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) return next();
      cache = path === '/favicon.svg' ? 'public, max-age=3600' : 'public, max-age=31536000, immutable';
    } else if (PORTAL_ROUTE.test(path)) {
      file = join(dir, 'index.html');
      cache = 'no-cache';
    } else {
      return next();
    }
    const ext = file.slice(file.lastIndexOf('.'));
    res.setHeader('Content-Type', TYPES[ext] ?? 'application/octet-stream');
    res.setHeader('Cache-Control', cache);
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Content-Length', String(statSync(file).size));
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).on('error', next).pipe(res);
  };
}
