import { access, constants } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { delimiter, join } from 'node:path';
import { HostTotals } from './lxc-cgroup';

/** The first executable `name` on PATH or in the sbin directories root's PATH usually has. */
export async function which(name: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of dirs) {
    if (dir && (await canAccess(join(dir, name), constants.X_OK))) return join(dir, name);
  }
  return undefined;
}

export function exists(path: string): Promise<boolean> {
  return canAccess(path, constants.F_OK);
}

export function isReadable(path: string): Promise<boolean> {
  return canAccess(path, constants.R_OK);
}

/** What an unlimited container can use: the whole host. */
export function hostTotals(): HostTotals {
  return { cpus: cpus().length, memoryMiB: Math.floor(totalmem() / (1024 * 1024)) };
}

function canAccess(path: string, mode: number): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}
