import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { metricsRegistry } from './metrics';

/** A dependency's check: resolves when it is reachable (or the condition holds). */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

const CHECK_TIMEOUT_MS = 1000;

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Runs every check at once; each gets `ok` or what went wrong. */
export async function readiness(checks: ReadinessChecks): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const names = Object.keys(checks);
  const settled = await Promise.allSettled(names.map((n) => within(Promise.resolve().then(checks[n]), CHECK_TIMEOUT_MS)));
  const out: Record<string, string> = {};
  names.forEach((n, i) => {
    const s = settled[i]!;
    out[n] = s.status === 'fulfilled' ? 'ok' : s.reason instanceof Error ? s.reason.message : String(s.reason);
  });
  return { ready: settled.every((s) => s.status === 'fulfilled'), checks: out };
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}

/**
 * The controller's and the agent's own little HTTP listener (they serve no API): `/healthz`
 * (the process answers), `/readyz` (what it depends on is reachable: 200 or 503 with each
 * check's answer) and `/metrics` (Prometheus text). GET only, no body read, nothing else.
 */
export async function startHealthServer(opts: { port: number; bind: string; checks: ReadinessChecks }): Promise<HealthServer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    if (path === '/healthz') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      void readiness(opts.checks).then(
        (r) => send(res, r.ready ? 200 : 503, 'application/json', JSON.stringify({ status: r.ready ? 'ready' : 'unready', checks: r.checks })),
        (e: unknown) => send(res, 503, 'application/json', JSON.stringify({ status: 'unready', error: String(e) })),
      );
      return;
    }
    if (path === '/metrics') {
      void metricsRegistry.metrics().then(
        (text) => send(res, 200, metricsRegistry.contentType, text),
        (e: unknown) => send(res, 500, 'text/plain', `${String(e)}\n`),
      );
      return;
    }
    send(res, 404, 'text/plain', 'not found\n');
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bind, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
