import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceSpec, MigrationTarget } from '../driver';
import { runCommand } from '../exec/run-command';
import { findExecutable } from './qemu-host';
import { findRepoRoot, resolveImageDir } from './qemu-images';
import { TINY_LINUX_READY_MARKER, TINY_LINUX_TEMPLATE } from './qemu-templates';
import { QemuDriver, QemuDriverOptions } from './qemu.driver';
import { QmpClient } from './qmp.client';

// Live migration between two "hosts" on this machine: two QemuDriver instances with separate
// state directories (nothing shared but the template image directory, as on two real hosts).

const QEMU_MISSING = ['qemu-system-x86_64', 'qemu-img', 'qemu-io'].filter((b) => !findExecutable(b));
const REQUIRE_REAL = process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS === '1';
const CAN_RUN_VMS = process.arch === 'x64' && process.platform === 'linux' && QEMU_MISSING.length === 0;
const VM_TIMEOUT = 180_000;
const IMAGE_DIR = resolveImageDir();
const MiB = 1024 * 1024;

function options(stateDir: string, extra: Partial<QemuDriverOptions> = {}): QemuDriverOptions {
  return { stateDir, hostOs: 'linux', hostArch: 'x86_64', imageDir: IMAGE_DIR, ...extra };
}

function vmSpec(): InstanceSpec {
  return { id: randomUUID(), name: 'migrant', template: TINY_LINUX_TEMPLATE, technology: 'vm', arch: 'x86_64', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } };
}

/** Live QEMU processes whose argv mentions both `a` and `b`. */
function qemuProcesses(a: string, b = ''): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('qemu-system') && cmdline.includes(a) && cmdline.includes(b)) out.push({ pid: Number(entry), argv: cmdline.split('\0') });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

async function qmpStatus(socket: string): Promise<string> {
  const qmp = await QmpClient.connect(socket);
  try {
    return (await qmp.execute<{ status: string }>('query-status')).status;
  } finally {
    qmp.close();
  }
}

/** `qemu-img info` of the destination's NBD export: over TLS with `key` (a PSK directory made here), or without TLS. */
async function nbdInfo(port: number, scratch: string, key?: string): Promise<string> {
  const args = ['info', '--output=json'];
  if (key) {
    const dir = await mkdtemp(join(scratch, 'client-key-'));
    await writeFile(join(dir, 'keys.psk'), `hyperplane:${key}\n`, { mode: 0o600 });
    args.push('--object', `tls-creds-psk,id=tls0,endpoint=client,dir=${dir},username=hyperplane`);
    args.push('--image-opts', `driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=${port},export=disk0,tls-creds=tls0`);
  } else {
    args.push(`nbd://127.0.0.1:${port}/disk0`);
  }
  return (await runCommand('qemu-img', args, { timeoutMs: 30_000 })).stdout;
}

/** Runs QMP commands on an instance's socket (the driver holds no session between its calls). */
async function withQmp<T>(socket: string, run: (qmp: QmpClient) => Promise<T>): Promise<T> {
  const qmp = await QmpClient.connect(socket);
  try {
    return await run(qmp);
  } finally {
    qmp.close();
  }
}

/** Starts an outgoing migration of the VM behind `socket` to `port` by hand, and waits until it ends; its final status. */
async function migrateByHand(socket: string, port: number, tlsDir?: string): Promise<string> {
  return withQmp(socket, async (qmp) => {
    await qmp.execute('object-del', { id: 'intruder' }).catch(() => undefined);
    if (tlsDir) await qmp.execute('object-add', { 'qom-type': 'tls-creds-psk', id: 'intruder', endpoint: 'client', dir: tlsDir, username: 'hyperplane' });
    await qmp.execute('migrate-set-parameters', { 'tls-creds': tlsDir ? 'intruder' : '' });
    await qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { status } = await qmp.execute<{ status?: string }>('query-migrate');
      if (status === 'completed' || status === 'failed' || status === 'cancelled') return status;
      if (Date.now() > deadline) throw new Error(`the hand-made migration is still ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
}

describe('QemuDriver migration arguments', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hp-qmig-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses bad targets, modes and sides before touching the host', async () => {
    const driver = new QemuDriver(options(dir));
    const id = randomUUID();
    const good: MigrationTarget = { mode: 'live', host: '127.0.0.1', port: 4444, diskPort: 4445, token: 'ab'.repeat(32) };
    await expect(driver.migrateSend(id, { ...good, host: '1.2.3.4;quit' })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/target.host/) });
    await expect(driver.migrateSend(id, { ...good, port: 70000 })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/target.port/) });
    await expect(driver.migrateSend(id, { mode: 'live', host: '127.0.0.1', port: 4444 })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/target.diskPort/) });
    const { token: _none, ...keyless } = good;
    void _none;
    await expect(driver.migrateSend(id, keyless)).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/target.token/) });
    await expect(driver.migrateSend(id, { ...good, mode: 'offline' })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/target.mode/) });
    await expect(driver.migrateSend('nope', good)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(driver.migrateReceive(vmSpec(), { mode: 'offline' })).rejects.toMatchObject({ code: 'Unsupported' });
    await expect(driver.migrateAbort(id, 'sideways' as never)).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/side/) });
    await expect(driver.migrateSend(id, good)).rejects.toMatchObject({ code: 'NotFound' });
    expect(readdirSync(dir)).toEqual([]);
  });
});

if (!CAN_RUN_VMS) {
  const why = `real QEMU migration tests need Linux x86_64 with ${QEMU_MISSING.join(', ') || 'qemu'} (apt-get install qemu-system-x86 qemu-utils)`;
  if (REQUIRE_REAL) {
    describe('QemuDriver live migration on a real host', () => {
      it('has QEMU installed, as HYPERPLANE_REQUIRE_REAL_DRIVERS=1 demands', () => {
        throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but ${why}`);
      });
    });
  } else {
    console.warn(`qemu-migration.spec: not defining the real-VM tests: ${why}`);
  }
} else {
  describe('QemuDriver live migration of a running tiny-linux VM between two hosts', () => {
    let root: string;
    let a: QemuDriver;
    let b: QemuDriver;
    let slowA: QemuDriver;
    const spec = vmSpec();
    const dirA = (): string => join(root, 'a', 'qemu', spec.id);
    const dirB = (): string => join(root, 'b', 'qemu', spec.id);

    beforeAll(async () => {
      await runCommand('bash', [join(findRepoRoot(__dirname)!, 'scripts', 'build-tiny-linux.sh'), IMAGE_DIR], { timeoutMs: 300_000 });
      root = await mkdtemp(join(tmpdir(), 'hp-qmig-'));
      a = new QemuDriver(options(join(root, 'a')));
      b = new QemuDriver(options(join(root, 'b')));
      // The same host A, sending slowly: a send that is still copying memory when it is cancelled.
      slowA = new QemuDriver(options(join(root, 'a'), { migration: { maxBandwidth: 2 * MiB } }));
      await a.create(spec);
      // Data in the overlay that only the disk mirror can carry to B.
      await runCommand('qemu-io', ['-c', 'write -P 0xa5 1M 1M', join(dirA(), 'overlay.qcow2')], { timeoutMs: 30_000 });
      await a.start(spec.id);
    }, VM_TIMEOUT);

    afterAll(async () => {
      for (const d of [a, b]) for (const s of await d.list()) await d.destroy(s.id).catch(() => undefined);
      const leaked = qemuProcesses(root);
      for (const p of leaked) process.kill(p.pid, 'SIGKILL');
      await rm(root, { recursive: true, force: true });
      expect(leaked).toEqual([]);
    }, VM_TIMEOUT);

    it('a send to a destination that is not there fails and the VM runs on at the source', async () => {
      await expect(a.migrateSend(spec.id, { mode: 'live', host: '127.0.0.1', port: 9, diskPort: 9, token: 'ab'.repeat(32) })).rejects.toMatchObject({ message: expect.stringMatching(/blockdev-add/) });
      expect(await qmpStatus(join(dirA(), 'qmp.sock'))).toBe('running');
      expect(existsSync(join(dirA(), 'migration.json'))).toBe(false);
    }, VM_TIMEOUT);

    it('prepare starts QEMU with -incoming on the destination; abort there removes it and its copy', async () => {
      const target = await b.migrateReceive(spec, { mode: 'live' });
      expect(target).toMatchObject({ mode: 'live', host: '127.0.0.1', port: expect.any(Number), diskPort: expect.any(Number) });
      const incoming = qemuProcesses(spec.id, join(root, 'b'));
      expect(incoming).toHaveLength(1);
      expect(incoming[0]!.argv).toEqual(expect.arrayContaining(['-incoming', 'defer']));
      expect(await b.migrateReceive(spec, { mode: 'live' })).toEqual(target); // idempotent
      await b.migrateAbort(spec.id, 'destination');
      expect(qemuProcesses(spec.id, join(root, 'b'))).toEqual([]);
      expect(existsSync(dirB())).toBe(false);
      await b.migrateAbort(spec.id, 'destination'); // again: nothing left is fine
    }, VM_TIMEOUT);

    it('the destination serves its disk and takes a stream only over TLS with this migration\'s key', async () => {
      const target = await b.migrateReceive(spec, { mode: 'live' });
      expect(target.token).toMatch(/^[0-9a-f]{64}$/);
      // The key on the destination: a directory only its owner can enter, a file only its owner can read.
      const keyDir = join(dirB(), 'migration-tls');
      expect(statSync(keyDir).mode & 0o777).toBe(0o700);
      expect(statSync(join(keyDir, 'keys.psk')).mode & 0o777).toBe(0o600);
      const scratch = join(root, 'scratch');
      await mkdir(scratch, { recursive: true });
      // The NBD export: refused without TLS and with another key; readable with the key (so the refusals are TLS's).
      await expect(nbdInfo(target.diskPort!, scratch)).rejects.toThrow(/not permitted before TLS/);
      await expect(nbdInfo(target.diskPort!, scratch, 'cd'.repeat(32))).rejects.toThrow(/TLS handshake failed/);
      expect(JSON.parse(await nbdInfo(target.diskPort!, scratch, target.token))).toMatchObject({ format: 'nbd', 'virtual-size': 1024 * MiB });
      // The driver's own send with a wrong key fails (at the disk), and the guest runs on at the source.
      await expect(a.migrateSend(spec.id, { ...target, token: 'cd'.repeat(32) })).rejects.toMatchObject({ message: expect.stringMatching(/blockdev-add/) });
      expect(await qmpStatus(join(dirA(), 'qmp.sock'))).toBe('running');
      // The migration stream: a plain one and one with another key both fail; the destination never runs a guest.
      const wrongKey = await mkdtemp(join(scratch, 'wrong-key-'));
      await writeFile(join(wrongKey, 'keys.psk'), `hyperplane:${'cd'.repeat(32)}\n`, { mode: 0o600 });
      expect(await migrateByHand(join(dirA(), 'qmp.sock'), target.port)).toBe('failed');
      expect(await qmpStatus(join(dirA(), 'qmp.sock'))).toBe('running');
      expect(await migrateByHand(join(dirA(), 'qmp.sock'), target.port, wrongKey)).toBe('failed');
      expect(await qmpStatus(join(dirA(), 'qmp.sock'))).toBe('running');
      await withQmp(join(dirA(), 'qmp.sock'), async (qmp) => {
        await qmp.execute('migrate-set-parameters', { 'tls-creds': '' });
        await qmp.execute('object-del', { id: 'intruder' });
      });
      // The refusals were the key's: the destination still waits, and takes the send with the key.
      expect(qemuProcesses(spec.id, join(root, 'b'))).toHaveLength(1);
      expect(await qmpStatus(join(dirB(), 'qmp.sock'))).toBe('inmigrate');
      await a.migrateSend(spec.id, target);
      expect(await qmpStatus(join(dirA(), 'qmp.sock'))).toBe('postmigrate');
      await b.migrateAbort(spec.id, 'destination');
      expect(existsSync(keyDir)).toBe(false);
      expect(await a.migrateAbort(spec.id, 'source')).toMatchObject({ state: 'running' });
      expect(existsSync(join(dirA(), 'migration.json'))).toBe(false);
      expect(readdirSync(dirA()).filter((f) => f.startsWith('migration-tls'))).toEqual([]);
      // The source's QEMU, running on, holds no key and no mirror target any more.
      await withQmp(join(dirA(), 'qmp.sock'), async (qmp) => {
        expect((await qmp.execute<{ name: string }[]>('qom-list', { path: '/objects' })).map((o) => o.name)).not.toContain('hp-mig-tls');
        expect((await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes')).map((n) => n['node-name'])).not.toContain('hp-migrate-target');
        expect(await qmp.execute<Record<string, unknown>>('query-migrate-parameters')).toMatchObject({ 'tls-creds': '' });
      });
    }, VM_TIMEOUT);

    it('a send cancelled while memory is copied leaves the VM running on the source only', async () => {
      const target = await b.migrateReceive(spec, { mode: 'live' });
      const abort = new AbortController();
      const steps: string[] = [];
      const send = slowA.migrateSend(spec.id, target, {
        signal: abort.signal,
        progress: (p, step) => {
          steps.push(step);
          if (step === 'copying memory' && p > 31) abort.abort();
        },
      });
      await expect(send).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/abort/) });
      expect(steps).toContain('copying memory');
      expect(await qmpStatus(join(dirA(), 'qmp.sock'))).toBe('running');
      await b.migrateAbort(spec.id, 'destination');
      expect(await a.migrateAbort(spec.id, 'source')).toMatchObject({ state: 'running' });
      expect(qemuProcesses(spec.id)).toHaveLength(1);
    }, VM_TIMEOUT);

    it('after a complete send, aborting destination then source resumes the paused source', async () => {
      const target = await b.migrateReceive(spec, { mode: 'live' });
      await a.migrateSend(spec.id, target);
      expect(await qmpStatus(join(dirA(), 'qmp.sock'))).toBe('postmigrate');
      // Nothing but the migration's own steps may run the source copy now.
      await expect(a.start(spec.id)).rejects.toMatchObject({ code: 'Conflict' });
      await expect(a.resume(spec.id)).rejects.toMatchObject({ code: 'Conflict' });
      await b.migrateAbort(spec.id, 'destination');
      expect(qemuProcesses(spec.id, join(root, 'b'))).toEqual([]);
      expect(await a.migrateAbort(spec.id, 'source')).toMatchObject({ state: 'running' });
      expect(await qmpStatus(join(dirA(), 'qmp.sock'))).toBe('running');
      // A running copy that was not handed over is never removed.
      await expect(a.migrateCleanup(spec.id)).rejects.toMatchObject({ code: 'Conflict' });
      expect(qemuProcesses(spec.id)).toHaveLength(1);
    }, VM_TIMEOUT);

    it('moves the running guest with its disk: no boot on the destination, the same guest answers there', async () => {
      const consoleA = await readFile(join(dirA(), 'console.log'), 'utf8');
      expect(consoleA).toContain(TINY_LINUX_READY_MARKER);
      const target = await b.migrateReceive(spec, { mode: 'live' });
      const percents: number[] = [];
      const stats = await a.migrateSend(spec.id, target, { progress: (p) => percents.push(p) });
      expect(stats).toMatchObject({ mode: 'live', totalMs: expect.any(Number), downtimeMs: expect.any(Number) });
      expect(stats.transferredBytes).toBeGreaterThan(0);
      expect(percents.at(-1)).toBe(100);
      expect(readdirSync(dirA()).filter((f) => f.startsWith('migration-tls'))).toEqual([]); // the source's key file lived only while QEMU read it
      expect(readFileSync(join(dirA(), 'migration.json'), 'utf8')).not.toContain(target.token!);
      const finished = await b.migrateFinish(spec.id);
      expect(finished).toMatchObject({ state: 'running' });
      expect(existsSync(join(dirB(), 'migration-tls'))).toBe(false);
      // Nothing of the migration's TLS stays in the destination's QEMU (it may be a source later).
      const objects = await withQmp(join(dirB(), 'qmp.sock'), (qmp) => qmp.execute<{ name: string }[]>('qom-list', { path: '/objects' }));
      expect(objects.map((o) => o.name)).not.toContain('hp-mig-tls');
      expect(await withQmp(join(dirB(), 'qmp.sock'), (qmp) => qmp.execute<Record<string, unknown>>('query-migrate-parameters'))).toMatchObject({ 'tls-creds': '' });
      expect(await b.migrateFinish(spec.id)).toMatchObject({ state: 'running' }); // again: same answer
      await a.migrateCleanup(spec.id);
      await a.migrateCleanup(spec.id); // again: nothing left is fine
      expect(qemuProcesses(spec.id, join(root, 'a'))).toEqual([]);
      expect(existsSync(dirA())).toBe(false);
      expect(qemuProcesses(spec.id, join(root, 'b'))).toHaveLength(1);
      // Committed: the destination copy is the instance now, not something to abort.
      await expect(b.migrateAbort(spec.id, 'destination')).rejects.toMatchObject({ code: 'Conflict' });
      // The guest did not boot on B: its console there has no kernel line and no ready marker…
      const consoleB = await readFile(join(dirB(), 'console.log'), 'utf8');
      expect(consoleB).not.toContain(TINY_LINUX_READY_MARKER);
      expect(consoleB).not.toContain('tiny-linux: kernel');
      // …yet the guest that booted on A runs its ACPI handler there: it is alive and the same.
      await b.stop(spec.id, { timeoutS: 90 });
      expect(await readFile(join(dirB(), 'console.log'), 'utf8')).toContain('power button pressed');
      // What A's overlay held arrived through the disk mirror.
      await runCommand('qemu-io', ['-r', '-c', 'read -P 0xa5 1M 1M', join(dirB(), 'overlay.qcow2')], { timeoutMs: 30_000 });
      console.log(`qemu live migration (128 MiB tiny-linux): total ${stats.totalMs} ms, downtime ${stats.downtimeMs} ms, ${((stats.transferredBytes ?? 0) / MiB).toFixed(1)} MiB sent`);
    }, VM_TIMEOUT);
  });
}
