import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QmpClient, QmpCommandError } from './qmp.client';

// TLS for both channels of a live migration (the RAM/device stream and the NBD export of the
// disk), with a pre-shared key made for one migration: the destination draws 256 random bits in
// migrate-prepare and returns them as the target's `token`; the controller hands them to the
// source in its migrate-send. Both QEMUs load the key from a `keys.psk` file ("user:hexkey") in a
// directory of mode 0700 (QEMU's `tls-creds-psk` object reads a directory, not a value):
//
//   destination: endpoint=server. GnuTLS reads the file at each handshake, so it stays (in the
//                instance's directory) until migrate-finish or the abort removes it.
//   source:      endpoint=client. QEMU reads the key when the object is made; the directory is
//                removed right after.
//
// A peer without the key fails the TLS handshake on either port: it cannot feed the destination
// a guest nor read or write its disk. The key dies with the migration (the destination's QEMU
// drops its object when the move is finished or aborted).

/** The QOM id of the credentials object in both QEMUs. */
export const MIGRATION_TLS_ID = 'hp-mig-tls';
/** The PSK identity both sides present (the key is what is secret). */
export const MIGRATION_PSK_USER = 'hyperplane';
/** The node the source mirrors its disk into: the destination's NBD export, over TLS. */
export const MIRROR_TARGET_NODE = 'hp-migrate-target';

/** The destination's key directory, inside the instance's own directory. */
export function destinationTlsDir(instanceDir: string): string {
  return join(instanceDir, 'migration-tls');
}

async function writeKeyFile(dir: string, key: string): Promise<void> {
  await chmod(dir, 0o700);
  await writeFile(join(dir, 'keys.psk'), `${MIGRATION_PSK_USER}:${key}\n`, { mode: 0o600 });
}

async function ignoreQmp(run: Promise<unknown>): Promise<void> {
  try {
    await run;
  } catch (e) {
    if (!(e instanceof QmpCommandError)) throw e;
  }
}

async function addCreds(qmp: QmpClient, endpoint: 'server' | 'client', dir: string): Promise<void> {
  await ignoreQmp(qmp.execute('object-del', { id: MIGRATION_TLS_ID })); // one left by an earlier try
  await qmp.execute('object-add', {
    'qom-type': 'tls-creds-psk',
    id: MIGRATION_TLS_ID,
    endpoint,
    dir,
    ...(endpoint === 'client' ? { username: MIGRATION_PSK_USER } : {}),
  });
}

/** Destination: the server credentials, and the migration stream set to use them. The directory stays until `removeDestinationTls`. */
export async function addServerTls(qmp: QmpClient, instanceDir: string, key: string): Promise<void> {
  const dir = destinationTlsDir(instanceDir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  await writeKeyFile(dir, key);
  await addCreds(qmp, 'server', dir);
  await qmp.execute('migrate-set-parameters', { 'tls-creds': MIGRATION_TLS_ID });
}

/** Source: the client credentials (the key is read at once; its file is gone when this returns). */
export async function addClientTls(qmp: QmpClient, instanceDir: string, key: string): Promise<void> {
  const dir = await mkdtemp(join(instanceDir, 'migration-tls-'));
  try {
    await writeKeyFile(dir, key);
    await addCreds(qmp, 'client', dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Either side, once the move is over or abandoned: no TLS parameter, no mirror target, no credentials left in QEMU. */
export async function dropMigrationTls(qmp: QmpClient): Promise<void> {
  await ignoreQmp(qmp.execute('blockdev-del', { 'node-name': MIRROR_TARGET_NODE }));
  await ignoreQmp(qmp.execute('migrate-set-parameters', { 'tls-creds': '' }));
  await ignoreQmp(qmp.execute('object-del', { id: MIGRATION_TLS_ID }));
}

/** The destination's key file away (its QEMU may keep the object until it is dropped or ends). */
export async function removeDestinationTls(instanceDir: string): Promise<void> {
  await rm(destinationTlsDir(instanceDir), { recursive: true, force: true });
}
