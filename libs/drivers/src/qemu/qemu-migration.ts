import { rm, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MigrationStats, MigrationTarget } from '@hyperplane/domain';
import { DriverContext } from '../driver';
import { DriverError } from '../driver.exception';
import { sleep, throwIfAborted } from './qemu-host';
import { addClientTls, addServerTls, dropMigrationTls, MIGRATION_TLS_ID, MIRROR_TARGET_NODE } from './qemu-migration-tls';
import { QmpClient, QmpCommandError } from './qmp.client';

// Live migration of a QEMU VM whose disk is a qcow2 overlay over a template image that both
// hosts have under the same path (the template catalogue's image directory). Nothing is shared:
// the overlay (what the guest wrote) is copied while the guest runs, the way libvirt does it
// for non-shared storage:
//
//   destination: QEMU with the same machine, `-incoming defer`, an empty overlay over the same
//                base; `migrate-incoming tcp:…`; an NBD server exporting its disk, writable.
//   source:      `blockdev-mirror sync=top` of the disk into that export (only the overlay's
//                clusters: the base is identical) until the job is READY (then every new guest
//                write goes to both), then `migrate` of RAM and devices, polled with
//                `query-migrate`; when it completes QEMU has drained the disk and stopped the
//                guest; the mirror job is then cancelled (a READY mirror ends consistent).
//   destination: the guest runs on as soon as the stream is complete; `migrate-finish` waits
//                for that and stops the NBD server.
//
// Both channels run over TLS with a key made for this migration (qemu-migration-tls.ts).

export const MIRROR_JOB = 'hp-migrate-disk0';
export const DISK_DEVICE = 'disk0';

/** `migration.json` in the instance directory: which side of a move this copy is, and how far it got. */
export interface MigrationRecord {
  side: 'source' | 'destination';
  state: 'incoming' | 'sending' | 'sent';
  target?: MigrationTarget;
  stats?: MigrationStats;
  at: string;
}

export function migrationFile(dir: string): string {
  return join(dir, 'migration.json');
}

export async function readMigration(dir: string): Promise<MigrationRecord | undefined> {
  try {
    return JSON.parse(await readFile(migrationFile(dir), 'utf8')) as MigrationRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DriverError('Fatal', `${migrationFile(dir)} is unreadable: ${(e as Error).message}`);
  }
}

export async function writeMigration(dir: string, rec: MigrationRecord): Promise<void> {
  const file = migrationFile(dir);
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function clearMigration(dir: string): Promise<void> {
  await rm(migrationFile(dir), { force: true });
}

/** `host:port` for QEMU's URIs; an IPv6 literal in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The destination's listeners, both TLS with `key` only: the incoming stream and the NBD export of the disk. */
export async function listenIncoming(qmp: QmpClient, instanceDir: string, key: string, listenHost: string, port: number, diskPort: number): Promise<void> {
  await addServerTls(qmp, instanceDir, key);
  await qmp.execute('migrate-incoming', { uri: `tcp:${hostPort(listenHost, port)}` });
  await qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: listenHost, port: String(diskPort) } }, 'tls-creds': MIGRATION_TLS_ID });
  await qmp.execute('nbd-server-add', { device: DISK_DEVICE, writable: true });
}

interface BlockJob {
  device: string;
  type: string;
  len: number;
  offset: number;
  ready: boolean;
  status: string;
}

async function mirrorJob(qmp: QmpClient): Promise<BlockJob | undefined> {
  const jobs = await qmp.execute<BlockJob[]>('query-block-jobs');
  return jobs.find((j) => j.device === MIRROR_JOB);
}

/** Cancels the disk mirror if it runs and waits until it is gone (a READY mirror ends consistent). */
export async function cancelMirror(qmp: QmpClient, force: boolean, timeoutMs = 30_000): Promise<void> {
  if (!(await mirrorJob(qmp))) return;
  try {
    await qmp.execute('block-job-cancel', { device: MIRROR_JOB, force });
  } catch (e) {
    if (!(e instanceof QmpCommandError && e.errorClass === 'DeviceNotActive')) throw e;
  }
  const deadline = Date.now() + timeoutMs;
  while (await mirrorJob(qmp)) {
    if (Date.now() > deadline) throw new DriverError('Transient', `the disk mirror did not end within ${timeoutMs} ms`);
    await sleep(50);
  }
}

interface QueryMigrate {
  status?: string;
  'total-time'?: number;
  downtime?: number;
  'error-desc'?: string;
  ram?: { transferred: number; total: number; remaining: number };
}

export async function queryMigrate(qmp: QmpClient): Promise<QueryMigrate> {
  return qmp.execute<QueryMigrate>('query-migrate');
}

/** Cancels an outgoing migration and waits until QEMU says so; the guest runs on (QEMU resumes it). */
export async function cancelMigration(qmp: QmpClient, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let q = await queryMigrate(qmp);
  if (q.status && ['setup', 'active', 'pre-switchover', 'device', 'wait-unplug', 'cancelling'].includes(q.status)) await qmp.execute('migrate_cancel');
  while (q.status && ['setup', 'active', 'pre-switchover', 'device', 'wait-unplug', 'cancelling'].includes(q.status)) {
    if (Date.now() > deadline) throw new DriverError('Transient', `the migration did not cancel within ${timeoutMs} ms (status ${q.status})`);
    await sleep(50);
    q = await queryMigrate(qmp);
  }
  await cancelMirror(qmp, true);
  await dropMigrationTls(qmp);
}

/** QEMU's own defaults: 128 MiB/s, a 300 ms pause at switch-over. */
export const DEFAULT_MAX_BANDWIDTH = 128 * 1024 * 1024;
export const DEFAULT_DOWNTIME_LIMIT_MS = 300;

export interface SendTuning {
  /** Bytes per second for the RAM stream (QEMU's default is 128 MiB/s). */
  maxBandwidth?: number;
  /** The pause QEMU aims for at switch-over, in ms (QEMU's default 300). */
  downtimeLimitMs?: number;
  /** Longest wait for the disk mirror to catch up, and for the memory to converge. */
  mirrorTimeoutMs?: number;
  migrateTimeoutMs?: number;
}

/**
 * The source's whole send over one QMP session: disk mirror until READY, then `migrate`, polled
 * until `completed`. Progress: 0-30 % for the disk, 30-100 % for memory. On `ctx.signal`, a
 * failure or a timeout, the migration and the mirror are cancelled (the guest runs on here) and
 * the error is thrown.
 */
export async function sendLive(qmp: QmpClient, instanceDir: string, target: MigrationTarget, ctx: DriverContext, tuning: SendTuning = {}): Promise<MigrationStats> {
  const started = Date.now();
  let diskBytes = 0;
  try {
    ctx.progress?.(0, 'copying the disk');
    await cancelMirror(qmp, true); // one left by an earlier, interrupted try
    await dropMigrationTls(qmp);
    await addClientTls(qmp, instanceDir, target.token!);
    // The destination's export as a node of this QEMU, reached over TLS (a refused key fails here).
    await qmp.execute('blockdev-add', {
      driver: 'nbd',
      'node-name': MIRROR_TARGET_NODE,
      server: { type: 'inet', host: target.host, port: String(target.diskPort) },
      export: DISK_DEVICE,
      'tls-creds': MIGRATION_TLS_ID,
    });
    await qmp.execute('blockdev-mirror', { device: DISK_DEVICE, 'job-id': MIRROR_JOB, target: MIRROR_TARGET_NODE, sync: 'top' });
    const mirrorDeadline = Date.now() + (tuning.mirrorTimeoutMs ?? 600_000);
    for (;;) {
      throwIfAborted(ctx.signal);
      const job = await mirrorJob(qmp);
      if (!job) throw new DriverError('Fatal', 'the disk mirror ended before it was ready (the destination refused or went away)');
      diskBytes = job.len;
      if (job.ready) break;
      ctx.progress?.(job.len ? (30 * job.offset) / job.len : 0, 'copying the disk');
      if (Date.now() > mirrorDeadline) throw new DriverError('Transient', 'the disk mirror did not catch up in time');
      await sleep(100, ctx.signal);
    }
    ctx.progress?.(30, 'copying memory');
    // Always set: QEMU keeps parameters for the life of the process (an earlier, slower try's would stay).
    await qmp.execute('migrate-set-parameters', {
      'max-bandwidth': tuning.maxBandwidth ?? DEFAULT_MAX_BANDWIDTH,
      'downtime-limit': tuning.downtimeLimitMs ?? DEFAULT_DOWNTIME_LIMIT_MS,
      'tls-creds': MIGRATION_TLS_ID,
    });
    await qmp.execute('migrate', { uri: `tcp:${hostPort(target.host, target.port)}` });
    const deadline = Date.now() + (tuning.migrateTimeoutMs ?? 600_000);
    for (;;) {
      throwIfAborted(ctx.signal);
      const q = await queryMigrate(qmp);
      if (q.status === 'completed') {
        await cancelMirror(qmp, false);
        await dropMigrationTls(qmp);
        ctx.progress?.(100, 'handed over');
        return {
          mode: 'live',
          totalMs: Date.now() - started,
          ...(q.downtime !== undefined ? { downtimeMs: q.downtime } : {}),
          transferredBytes: (q.ram?.transferred ?? 0) + diskBytes,
        };
      }
      if (q.status === 'failed' || q.status === 'cancelled') throw new DriverError('Fatal', `the migration ${q.status}: ${q['error-desc'] ?? 'no reason given'}`);
      if (q.ram && q.ram.total > 0) ctx.progress?.(30 + 70 * Math.min(1, q.ram.transferred / q.ram.total), 'copying memory');
      if (Date.now() > deadline) throw new DriverError('Transient', 'the migration did not converge in time');
      await sleep(100, ctx.signal);
    }
  } catch (e) {
    // The guest must keep running here: cancel whatever was started (QEMU resumes the guest).
    await cancelMigration(qmp).catch(() => undefined);
    throw e;
  }
}

/** The destination: waits until the incoming stream is complete. */
export async function awaitIncoming(qmp: QmpClient, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const q = await queryMigrate(qmp);
    if (q.status === 'completed') return;
    if (q.status === 'failed' || q.status === 'cancelled') throw new DriverError('Fatal', `the incoming migration ${q.status}: ${q['error-desc'] ?? 'no reason given'}`);
    if (Date.now() > deadline) throw new DriverError('Transient', `the incoming migration is not complete (status ${q.status ?? 'none'})`);
    await sleep(100, signal);
  }
}
