import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TemplateSpec } from '@hyperplane/domain';
import { describeConformance } from '../../test/conformance';
import { InstanceSpec } from '../driver';
import { runCommand } from '../exec/run-command';
import { findExecutable } from './qemu-host';
import { findRepoRoot, resolveImageDir } from './qemu-images';
import { TINY_LINUX_READY_MARKER, TINY_LINUX_TEMPLATE } from './qemu-templates';
import { QemuDriver, QemuDriverOptions } from './qemu.driver';
import { QmpClient } from './qmp.client';

// Real VMs need qemu-system-x86_64 and qemu-img (Debian: qemu-system-x86 qemu-utils); the image
// is built on demand by scripts/build-tiny-linux.sh (apt-get download, so `apt-get update` first).
const QEMU_MISSING = ['qemu-system-x86_64', 'qemu-img'].filter((b) => !findExecutable(b));
const REQUIRE_REAL = process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS === '1';
const CAN_RUN_VMS = process.arch === 'x64' && process.platform === 'linux' && QEMU_MISSING.length === 0;
const VM_TIMEOUT = 120_000;
const IMAGE_DIR = resolveImageDir();

function driverOptions(stateDir: string, extra: Partial<QemuDriverOptions> = {}): QemuDriverOptions {
  return { stateDir, hostOs: 'linux', hostArch: 'x86_64', imageDir: IMAGE_DIR, ...extra };
}

function vmSpec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    id: randomUUID(),
    name: 'qemu-test',
    template: TINY_LINUX_TEMPLATE,
    technology: 'vm',
    arch: 'x86_64',
    resources: { vcpus: 1, memoryMiB: 256, diskGiB: 2 },
    ...overrides,
  };
}

/** The build script is idempotent: it returns at once when the image is built and current. */
async function ensureTinyLinux(): Promise<void> {
  const script = join(findRepoRoot(__dirname)!, 'scripts', 'build-tiny-linux.sh');
  await runCommand('bash', [script, IMAGE_DIR], { timeoutMs: 300_000 });
}

/** Every live QEMU process whose command line mentions `needle` (an instance id or a state dir). */
function qemuProcesses(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('qemu-system') && cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

function killLeftovers(needle: string): number[] {
  const left = qemuProcesses(needle);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  return left;
}

describe('QemuDriver without a host to run on', () => {
  let stateDir: string;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'hp-qemu-unit-'));
  });
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('probes as not installed, with the reason, when qemu-system is missing', async () => {
    const driver = new QemuDriver(driverOptions(stateDir, { qemuBinary: '/nonexistent/qemu-system-x86_64' }));
    const probe = await driver.probe();
    expect(probe.installed).toBe(false);
    expect(probe.error).toMatch(/qemu-system-x86_64 is not installed/);
    expect(probe.offers).toEqual([]);
  });

  it('refuses a template whose image path leaves the image directory before touching the host', async () => {
    const driver = new QemuDriver(driverOptions(stateDir));
    const escape: TemplateSpec = { ...TINY_LINUX_TEMPLATE, image: { qemu: { disk: '../../etc/passwd' } } };
    const absolute: TemplateSpec = { ...TINY_LINUX_TEMPLATE, image: { qemu: { disk: '/etc/passwd' } } };
    await expect(driver.create(vmSpec({ template: escape }))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(driver.create(vmSpec({ template: absolute }))).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('refuses containers, bad names and bad ids', async () => {
    const driver = new QemuDriver(driverOptions(stateDir));
    await expect(driver.create(vmSpec({ technology: 'container' }))).rejects.toMatchObject({ code: 'Unsupported' });
    await expect(driver.create(vmSpec({ name: 'Bad Name;' }))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(driver.create(vmSpec({ id: '../../x' }))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(driver.stop('not-a-uuid')).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(driver.inspect(randomUUID())).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('refuses snapshot names QEMU would read as ids or as more than one word', async () => {
    const driver = new QemuDriver(driverOptions(stateDir));
    const id = randomUUID();
    for (const bad of ['123', 'a b', 'x;quit', '']) {
      await expect(driver.snapshotCreate(id, bad)).rejects.toMatchObject({ code: 'InvalidArgument' });
    }
  });

  it('refuses a state directory too long for the QMP socket at create, not at start', async () => {
    const driver = new QemuDriver(driverOptions(join(stateDir, 'd'.repeat(80))));
    await expect(driver.create(vmSpec())).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/QMP socket/) });
  });
});

if (!CAN_RUN_VMS) {
  const why = `real QEMU VM tests need Linux x86_64 with ${QEMU_MISSING.join(' and ') || 'qemu'} (apt-get install qemu-system-x86 qemu-utils)`;
  if (REQUIRE_REAL) {
    describe('QemuDriver on a real host', () => {
      it('has QEMU installed, as HYPERPLANE_REQUIRE_REAL_DRIVERS=1 demands', () => {
        throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but ${why}`);
      });
    });
  } else {
    console.warn(`qemu.driver.spec: not defining the real-VM tests: ${why}`);
  }
} else {
  describeRealVmTests();
}

function describeRealVmTests(): void {
  let conformanceDir: string;
  describeConformance(
    'qemu',
    async () => {
      await ensureTinyLinux();
      // A comma in the path proves QEMU's option values are escaped.
      conformanceDir = await mkdtemp(join(tmpdir(), 'hp-qemu,conf-'));
      const driver = new QemuDriver(driverOptions(conformanceDir));
      return {
        driver,
        spec: (overrides) => vmSpec(overrides),
        cleanup: async () => {
          const leaked = killLeftovers(conformanceDir);
          await rm(conformanceDir, { recursive: true, force: true });
          if (leaked.length > 0) throw new Error(`conformance leaked QEMU processes ${leaked.join(', ')}`);
        },
      };
    },
    { timeoutMs: VM_TIMEOUT },
  );

  describe('QemuDriver with a real tiny-linux VM', () => {
    let stateDir: string;
    let driver: QemuDriver;

    beforeAll(async () => {
      await ensureTinyLinux();
      stateDir = await mkdtemp(join(tmpdir(), 'hp-qemu-vm-'));
      driver = new QemuDriver(driverOptions(stateDir));
    }, VM_TIMEOUT);

    afterAll(async () => {
      for (const s of await driver.list()) await driver.destroy(s.id);
      const leaked = killLeftovers(stateDir);
      await rm(stateDir, { recursive: true, force: true });
      expect(leaked).toEqual([]);
    }, VM_TIMEOUT);

    it('probes installed with a version, the accelerator it will use and one vm offer', async () => {
      const probe = await driver.probe();
      expect(probe).toMatchObject({ name: 'qemu', installed: true });
      expect(probe.version).toMatch(/^\d+\.\d+/);
      expect(['kvm', 'tcg']).toContain(probe.accelerator);
      expect(probe.offers).toHaveLength(1);
      expect(probe.offers[0]).toMatchObject({ technology: 'vm', guests: [{ os: 'linux', archs: ['x86_64'] }] });
      expect(probe.offers[0]!.capabilities).toEqual(expect.arrayContaining(['suspend', 'snapshot', 'console']));
      expect(probe.offers[0]!.capabilities).not.toContain('liveResize');
      expect(probe.offers[0]!.overhead.memoryMiB).toBeGreaterThan(0);
    });

    it('boots to the console marker, pauses and resumes as QMP sees it, restarts, stops without a trace and destroys', async () => {
      const spec = vmSpec({ name: 'lifecycle' });
      await driver.create(spec);
      const paths = { dir: join(stateDir, 'qemu', spec.id) };
      const qmpPath = join(paths.dir, 'qmp.sock');
      const consoleLog = join(paths.dir, 'console.log');

      const t0 = Date.now();
      const started = await driver.start(spec.id);
      const bootMs = Date.now() - t0;
      expect(started.state).toBe('running');
      expect(await readFile(consoleLog, 'utf8')).toContain(TINY_LINUX_READY_MARKER);
      expect(started.details).toMatchObject({ consoleLog, accelerator: expect.stringMatching(/^(kvm|tcg)$/) });
      expect(started.resources).toMatchObject({ vcpus: 1, memoryMiB: 256, diskGiB: 2 });
      const pid = started.details!.pid as number;
      expect(qemuProcesses(spec.id)).toEqual([pid]);
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
      console.log(`qemu: ${String(started.details!.accelerator)} boot to marker ${bootMs} ms; host RSS of a 256 MiB VM ${rss.toFixed(0)} MiB`);

      expect(await driver.waitForConsole(spec.id, TINY_LINUX_READY_MARKER, 1_000)).toBeLessThan(1_000);
      // A new driver on the same state directory (an agent restart) sees the same VM.
      const afterRestart = await new QemuDriver(driverOptions(stateDir)).inspect(spec.id);
      expect(afterRestart).toMatchObject({ state: 'running', details: { pid } });

      expect((await driver.suspend(spec.id)).state).toBe('suspended');
      expect(await queryStatus(qmpPath)).toBe('paused');
      // The sync's cheap reading agrees (one query-status, no process).
      expect((await driver.observe()).find((o) => o.id === spec.id)).toEqual({ id: spec.id, state: 'suspended' });
      expect((await driver.resume(spec.id)).state).toBe('running');
      expect(await queryStatus(qmpPath)).toBe('running');
      expect((await driver.observe()).find((o) => o.id === spec.id)).toEqual({ id: spec.id, state: 'running' });

      const before = (await readFile(consoleLog, 'utf8')).split(TINY_LINUX_READY_MARKER).length - 1;
      expect((await driver.restart(spec.id)).state).toBe('running');
      const after = (await readFile(consoleLog, 'utf8')).split(TINY_LINUX_READY_MARKER).length - 1;
      expect(after).toBe(before + 1);

      const stopped = await driver.stop(spec.id, { timeoutS: 20 });
      expect(stopped.state).toBe('stopped');
      expect(stopped.details?.exitReason).toBeUndefined();
      expect(qemuProcesses(spec.id)).toEqual([]);
      // A clean guest shutdown through the ACPI power button, not a QMP quit.
      expect(await readFile(consoleLog, 'utf8')).toMatch(/power button pressed[\s\S]*reboot: Power down/);
      expect(existsSync(qmpPath)).toBe(false);
      expect(existsSync(join(paths.dir, 'qemu.pid'))).toBe(false);

      await driver.destroy(spec.id);
      expect(existsSync(paths.dir)).toBe(false);
    }, VM_TIMEOUT * 2);

    it('notices a QEMU killed with SIGKILL: stopped, with the reason, and nothing stale left', async () => {
      const spec = vmSpec({ name: 'killed' });
      await driver.create(spec);
      const { details } = await driver.start(spec.id);
      const pid = details!.pid as number;
      process.kill(pid, 'SIGKILL');
      await waitFor(() => qemuProcesses(spec.id).length === 0, 5_000);

      // The sync's reading notices first, with the reason.
      expect((await driver.observe()).find((o) => o.id === spec.id)).toEqual({ id: spec.id, state: 'stopped', exitReason: expect.stringMatching(/died without shutting down/) });
      const seen = await driver.inspect(spec.id);
      expect(seen.state).toBe('stopped');
      expect(seen.details?.exitReason).toMatch(/died without shutting down/);
      const dir = join(stateDir, 'qemu', spec.id);
      for (const stale of ['qemu.pid', 'qmp.sock', 'runtime.json']) expect(existsSync(join(dir, stale))).toBe(false);
      // The reason stays until the next start; the listing agrees.
      expect((await driver.list()).find((s) => s.id === spec.id)).toMatchObject({ state: 'stopped', details: { exitReason: seen.details?.exitReason } });

      expect((await driver.start(spec.id)).state).toBe('running');
      expect((await driver.inspect(spec.id)).details?.exitReason).toBeUndefined();
      await driver.destroy(spec.id);
      expect(qemuProcesses(spec.id)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    }, VM_TIMEOUT * 2);

    it('kills a QEMU that no longer answers QMP when forced to stop, as a last resort', async () => {
      const spec = vmSpec({ name: 'hung' });
      await driver.create(spec);
      const pid = (await driver.start(spec.id)).details!.pid as number;
      process.kill(pid, 'SIGSTOP'); // QMP now accepts a connection but never greets
      const stopped = await driver.stop(spec.id, { force: true });
      expect(stopped.state).toBe('stopped');
      expect(stopped.details?.exitReason).toBeUndefined();
      expect(qemuProcesses(spec.id)).toEqual([]);
      await driver.destroy(spec.id);
    }, VM_TIMEOUT);

    it('notices a guest that powers itself off as an exit of its own', async () => {
      const spec = vmSpec({ name: 'self-off' });
      await driver.create(spec);
      await driver.start(spec.id);
      // The power button as the guest sees it, sent behind the driver's back.
      await withQmp(join(stateDir, 'qemu', spec.id, 'qmp.sock'), (qmp) => qmp.execute('system_powerdown'));
      await waitFor(() => qemuProcesses(spec.id).length === 0, 20_000);
      const seen = await driver.inspect(spec.id);
      expect(seen.state).toBe('stopped');
      expect(seen.details?.exitReason).toMatch(/exited on its own/);
      await driver.destroy(spec.id);
    }, VM_TIMEOUT);

    it('takes a live snapshot with RAM, restores it while running, and reverts the disk offline', async () => {
      const spec = vmSpec({ name: 'snapshots' });
      await driver.create(spec);
      expect((await driver.snapshotCreate(spec.id, 'cold')).name).toBe('cold');
      await driver.start(spec.id);
      const live = await driver.snapshotCreate(spec.id, 'live');
      expect(Date.parse(live.createdAt)).toBeGreaterThan(Date.now() - 60_000);
      await expect(driver.snapshotCreate(spec.id, 'live')).rejects.toMatchObject({ code: 'Conflict' });
      expect((await driver.snapshotList(spec.id)).map((s) => s.name)).toEqual(['cold', 'live']);
      expect((await driver.snapshotRestore(spec.id, 'live')).state).toBe('running');
      await expect(driver.snapshotRestore(spec.id, 'cold')).rejects.toMatchObject({ code: 'Conflict' });
      await expect(driver.snapshotRestore(spec.id, 'missing')).rejects.toMatchObject({ code: 'NotFound' });
      await driver.snapshotDelete(spec.id, 'live');
      await driver.stop(spec.id, { force: true });
      expect((await driver.snapshotRestore(spec.id, 'cold')).state).toBe('stopped');
      await driver.snapshotDelete(spec.id, 'cold');
      await driver.snapshotDelete(spec.id, 'cold');
      expect(await driver.snapshotList(spec.id)).toEqual([]);
      await driver.destroy(spec.id);
    }, VM_TIMEOUT);

    it('resizes a stopped VM (the disk only grows) and refuses a running one', async () => {
      const spec = vmSpec({ name: 'resize' });
      await driver.create(spec);
      const grown = await driver.resize(spec.id, { vcpus: 2, memoryMiB: 320, diskGiB: 3 });
      expect(grown.resources).toEqual({ vcpus: 2, memoryMiB: 320, diskGiB: 3 });
      await expect(driver.resize(spec.id, { vcpus: 2, memoryMiB: 320, diskGiB: 2 })).rejects.toMatchObject({ code: 'InvalidArgument' });
      const running = await driver.start(spec.id);
      expect(running.resources).toEqual({ vcpus: 2, memoryMiB: 320, diskGiB: 3 });
      await expect(driver.resize(spec.id, { vcpus: 1, memoryMiB: 256, diskGiB: 3 })).rejects.toMatchObject({ code: 'Unsupported' });
      await driver.destroy(spec.id);
    }, VM_TIMEOUT);

    it('boots a template that names only a qcow2 disk from that disk, and refuses a base backed from outside', async () => {
      const userDir = join(IMAGE_DIR, `test-user-${process.pid}`);
      await mkdir(userDir, { recursive: true });
      try {
        await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', join(userDir, 'disk.qcow2'), '1G']);
        const template: TemplateSpec = {
          ...TINY_LINUX_TEMPLATE,
          name: 'user-disk',
          image: { qemu: { disk: `test-user-${process.pid}/disk.qcow2` } },
        };
        const spec = vmSpec({ name: 'user-disk', template });
        await driver.create(spec);
        const running = await driver.start(spec.id);
        expect(running.state).toBe('running');
        expect(running.details?.boot).toBe('disk');
        const argv = readFileSync(`/proc/${running.details!.pid as number}/cmdline`, 'utf8').split('\0');
        expect(argv).not.toContain('-kernel');
        const blocks = await withQmp(join(stateDir, 'qemu', spec.id, 'qmp.sock'), (qmp) => qmp.execute<QueryBlock[]>('query-block'));
        expect(blocks[0]?.inserted?.image?.['backing-image']?.filename).toBe(join(userDir, 'disk.qcow2'));
        await driver.destroy(spec.id);

        // A base inside the image directory whose backing file is outside it.
        const outside = join(stateDir, 'outside.qcow2');
        await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', outside, '1G']);
        await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', outside, join(userDir, 'sneaky.qcow2')]);
        const sneaky: TemplateSpec = { ...template, image: { qemu: { disk: `test-user-${process.pid}/sneaky.qcow2` } } };
        await expect(driver.create(vmSpec({ template: sneaky }))).rejects.toMatchObject({ code: 'InvalidArgument' });

        // A symlink inside the image directory that points out of it.
        await symlink(outside, join(userDir, 'link.qcow2'));
        const linked: TemplateSpec = { ...template, image: { qemu: { disk: `test-user-${process.pid}/link.qcow2` } } };
        await expect(driver.create(vmSpec({ template: linked }))).rejects.toMatchObject({ code: 'InvalidArgument' });
      } finally {
        await rm(userDir, { recursive: true, force: true });
      }
    }, VM_TIMEOUT);
  });
}

interface QueryBlock {
  inserted?: { image?: { 'backing-image'?: { filename?: string } } };
}

async function withQmp<T>(path: string, fn: (qmp: QmpClient) => Promise<T>): Promise<T> {
  const qmp = await QmpClient.connect(path);
  try {
    return await fn(qmp);
  } finally {
    qmp.close();
  }
}

async function queryStatus(path: string): Promise<string> {
  return withQmp(path, async (qmp) => (await qmp.execute<{ status: string }>('query-status')).status);
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
