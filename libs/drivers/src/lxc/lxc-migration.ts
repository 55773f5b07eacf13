import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MigrationStats, MigrationTarget } from '@hyperplane/domain';
import { DriverError } from '../driver.exception';
import { runCommand } from '../exec/run-command';
import { META_FILE } from './lxc-config';

// Offline migration of a container: its rootfs and its files packed with tar (argument vectors,
// numeric owners, xattrs and ACLs kept, no shell), sent through the agents' one-shot transfer
// (../transfer/archive-transfer.ts), unpacked on the destination into a staging directory of its
// own lxcpath, the config written again for the new place, renamed into place and started.
// Snapshots stay behind (they are not moved).

/** What goes in the archive, relative to the container's directory. */
export const ARCHIVE_MEMBERS = ['rootfs', META_FILE];
const TAR_TIMEOUT_MS = 30 * 60_000;
const TAR_FLAGS = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

/** A container's part in a move, kept beside the container (source) or in the state dir (destination). */
export interface LxcMigrationRecord {
  side: 'source' | 'destination';
  state: 'sending' | 'sent' | 'receiving' | 'unpacked';
  /** Source: whether it ran before the move (an abort starts it again). */
  wasRunning?: boolean;
  /** Destination: what the sender is expected to present. */
  target?: MigrationTarget;
  stats?: MigrationStats;
  at: string;
}

export async function readRecord(file: string): Promise<LxcMigrationRecord | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LxcMigrationRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DriverError('Fatal', `${file} is unreadable: ${(e as Error).message}`);
  }
}

export async function writeRecord(file: string, rec: LxcMigrationRecord): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function removeRecord(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** Packs a stopped container's rootfs and meta into `archive`. */
export async function packContainer(dir: string, archive: string, signal?: AbortSignal): Promise<void> {
  await runCommand('tar', [...TAR_FLAGS, '-cpf', archive, '-C', dir, '--', ...ARCHIVE_MEMBERS], { timeoutMs: TAR_TIMEOUT_MS, signal });
}

/**
 * Lists an archive and refuses anything but the expected members: no absolute paths, no `..`,
 * nothing outside rootfs/ and the meta file (the archive came over the network).
 */
export async function checkArchive(archive: string, signal?: AbortSignal): Promise<void> {
  const { stdout } = await runCommand('tar', ['-tf', archive], { timeoutMs: TAR_TIMEOUT_MS, signal, maxOutputBytes: 512 * 1024 * 1024 });
  for (const raw of stdout.split('\n')) {
    if (!raw) continue;
    const entry = raw.replace(/\/$/, '');
    const parts = entry.split('/');
    const ok = !entry.startsWith('/') && !parts.includes('..') && (parts[0] === 'rootfs' || entry === META_FILE);
    if (!ok) throw new DriverError('Fatal', `the migration archive holds an unexpected entry ${JSON.stringify(raw)}`);
  }
}

/** Unpacks into `dir` (which exists and is empty), owners and modes as they were. */
export async function unpackContainer(archive: string, dir: string, signal?: AbortSignal): Promise<void> {
  await runCommand('tar', [...TAR_FLAGS, '--same-owner', '-xpf', archive, '-C', dir], { timeoutMs: TAR_TIMEOUT_MS, signal });
}

export function sourceRecordFile(containerDir: string): string {
  return join(containerDir, 'hyperplane-migration.json');
}
