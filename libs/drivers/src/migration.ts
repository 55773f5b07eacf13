import { createServer } from 'node:net';
import { isIP } from 'node:net';
import { MIGRATION_MODES, MIGRATION_SIDES, MigrationMode, MigrationReceiveOptions, MigrationSide, MigrationTarget } from '@hyperplane/domain';
import { DriverError } from './driver.exception';

/** Where a destination listens for migrations and the address it gives to sources (default 127.0.0.1 for both). */
export interface MigrationNetOptions {
  /** The local address to bind (default 127.0.0.1; `0.0.0.0` for every interface). */
  listenHost?: string;
  /** The address sources use to reach this host (default: listenHost, or 127.0.0.1 for a wildcard). */
  advertiseHost?: string;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const TOKEN = /^[0-9a-f]{64}$/;

export function assertMigrationHost(field: string, host: unknown): string {
  if (typeof host !== 'string' || !(isIP(host) || HOSTNAME.test(host))) {
    throw new DriverError('InvalidArgument', `${field} must be an IP address or a host name, got ${JSON.stringify(host)}`);
  }
  return host;
}

function assertPort(field: string, port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DriverError('InvalidArgument', `${field} must be a TCP port (1-65535), got ${JSON.stringify(port)}`);
  }
  return port;
}

export function assertMigrationMode(mode: unknown, field = 'mode'): MigrationMode {
  if (!MIGRATION_MODES.includes(mode as MigrationMode)) throw new DriverError('InvalidArgument', `${field} must be one of ${MIGRATION_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  return mode as MigrationMode;
}

export function assertMigrationSide(side: unknown): MigrationSide {
  if (!MIGRATION_SIDES.includes(side as MigrationSide)) throw new DriverError('InvalidArgument', `side must be one of ${MIGRATION_SIDES.join(', ')}, got ${JSON.stringify(side)}`);
  return side as MigrationSide;
}

export function assertReceiveOptions(opts: unknown): MigrationReceiveOptions {
  if (typeof opts !== 'object' || opts === null) throw new DriverError('InvalidArgument', 'migration options are missing');
  return { mode: assertMigrationMode((opts as { mode?: unknown }).mode) };
}

/**
 * A target as a source receives it (it came through the controller): every field checked before
 * it reaches a socket or a QMP command. `needToken` for protocols that authenticate with one.
 */
export function assertMigrationTarget(target: unknown, expect: { mode: MigrationMode; needToken?: boolean; needDiskPort?: boolean }): MigrationTarget {
  if (typeof target !== 'object' || target === null) throw new DriverError('InvalidArgument', 'migration target is missing');
  const t = target as Record<string, unknown>;
  const mode = assertMigrationMode(t.mode, 'target.mode');
  if (mode !== expect.mode) throw new DriverError('InvalidArgument', `target.mode is ${mode}, this driver sends ${expect.mode}`);
  const out: MigrationTarget = { mode, host: assertMigrationHost('target.host', t.host), port: assertPort('target.port', t.port) };
  if (expect.needDiskPort || t.diskPort !== undefined) out.diskPort = assertPort('target.diskPort', t.diskPort);
  if (expect.needToken || t.token !== undefined) {
    if (typeof t.token !== 'string' || !TOKEN.test(t.token)) throw new DriverError('InvalidArgument', 'target.token must be 64 lowercase hex digits');
    out.token = t.token;
  }
  return out;
}

export function resolveMigrationNet(opts: MigrationNetOptions = {}): { listenHost: string; advertiseHost: string } {
  const listenHost = assertMigrationHost('migration listen address', opts.listenHost ?? '127.0.0.1');
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::';
  const advertiseHost = assertMigrationHost('migration advertise address', opts.advertiseHost ?? (wildcard ? '127.0.0.1' : listenHost));
  return { listenHost, advertiseHost };
}

/**
 * A TCP port free on `host` right now, found by binding port 0. Another process may take it
 * before the caller binds it; callers that bind it in a child (QEMU) retry with a new one.
 */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (e) => reject(new DriverError('Transient', `no free port on ${host}: ${e.message}`)));
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new DriverError('Transient', `no free port on ${host}`))));
    });
  });
}
