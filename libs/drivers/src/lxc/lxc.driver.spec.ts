import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Arch, TemplateSpec } from '@hyperplane/domain';
import { describeConformance } from '../../test/conformance';
import { InstanceSpec } from '../driver';
import { CgroupLayout, interpretLimits, liveSettings, planLimits, sharesToWeight, weightToShares } from './lxc-cgroup';
import { assertBridgeName, assertSafePath, LxcInstanceMeta, renderConfig } from './lxc-config';
import { runCommand } from '../exec/run-command';
import { canReachMonitor } from './lxc-monitor';
import { commandSocketName } from './lxc-state';
import { parseLxcInfo, parseLxcLs, parseSnapshotList } from './lxc-tools';
import { LxcDriver } from './lxc.driver';

// The real runCommand, watched: a test can say which processes the driver started.
jest.mock('../exec/run-command', () => {
  const actual = jest.requireActual<typeof import('../exec/run-command')>('../exec/run-command');
  return { ...actual, runCommand: jest.fn(actual.runCommand) };
});
const spawned = runCommand as jest.MockedFunction<typeof runCommand>;

const ARCH: Arch = process.arch === 'arm64' ? 'arm64' : 'x86_64';
const MiB = 1024 * 1024;
const BUSYBOX: TemplateSpec = {
  name: 'busybox',
  osFamily: 'linux',
  distribution: 'busybox',
  version: '1',
  archs: [ARCH],
  technologies: ['container'],
  drivers: ['lxc'],
};

function makeSpec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const id = overrides.id ?? randomUUID();
  return {
    id,
    name: `t-${id.slice(0, 8)}`,
    template: BUSYBOX,
    technology: 'container',
    arch: ARCH,
    resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 },
    ...overrides,
  };
}

describe('lxc driver pieces', () => {
  const v1: CgroupLayout = { version: 'v1', hybrid: true, controllers: ['blkio', 'cpu', 'memory', 'pids'], memsw: true, ioWeightKey: 'blkio.bfq.weight' };
  const v2: CgroupLayout = { version: 'v2', hybrid: false, controllers: ['cpu', 'io', 'memory', 'pids'], memsw: false, ioWeightKey: 'io.weight' };
  const meta: LxcInstanceMeta = {
    schema: 1,
    id: '7b0c5a3e-2f43-4a51-9d7e-0c4f1e2d3a4b',
    name: 'web-1',
    template: BUSYBOX,
    templateKey: 'busybox-x86_64',
    arch: ARCH,
    resources: { vcpus: 2, memoryMiB: 256, diskGiB: 1 },
    limits: { cpuUnits: 512, cpuCapPercent: 150, swapMiB: 64, pids: 100, ioWeight: 300 },
    boot: { init: '/sbin/init', haltSignal: 'SIGUSR2', rebootSignal: 'SIGTERM', includes: [] },
    createdAt: '2026-01-01T00:00:00.000Z',
  };

  it('maps cpu shares to cgroup2 weights keeping both ends and the default', () => {
    expect([sharesToWeight(2), sharesToWeight(1024), sharesToWeight(262_144)]).toEqual([1, 100, 10_000]);
    for (const shares of [64, 512, 1024, 4096]) expect(Math.abs(weightToShares(sharesToWeight(shares)) - shares) / shares).toBeLessThan(0.05);
  });

  it('writes v1 limits as lxc.cgroup keys, memsw after the memory limit', () => {
    const text = renderConfig(meta, '/srv/lxc/x', v1).text;
    expect(text).toContain('lxc.cgroup.memory.limit_in_bytes = 268435456');
    expect(text).toContain('lxc.cgroup.memory.memsw.limit_in_bytes = 335544320');
    expect(text.indexOf('memory.limit_in_bytes')).toBeLessThan(text.indexOf('memory.memsw.limit_in_bytes'));
    expect(text).toContain('lxc.cgroup.cpu.shares = 512');
    expect(text).toContain('lxc.cgroup.cpu.cfs_quota_us = 150000');
    expect(text).toContain('lxc.cgroup.pids.max = 100');
    expect(text).toContain('lxc.cgroup.blkio.bfq.weight = 300');
    expect(text).toContain('lxc.net.0.type = empty');
    expect(text).toContain('lxc.rootfs.path = dir:/srv/lxc/x/rootfs');
    expect(text).not.toContain('lxc.cgroup2.');
  });

  it('leaves swap unenforced where the kernel has no memsw, and opens memsw first when resizing live', () => {
    const plan = planLimits({ ...v1, memsw: false }, meta.resources, meta.limits);
    expect(plan.settings.map((s) => s.key)).not.toContain('memory.memsw.limit_in_bytes');
    expect(plan.unenforced.join()).toMatch(/swapMiB/);
    const live = liveSettings(v1, planLimits(v1, meta.resources, meta.limits));
    expect(live[0]).toMatchObject({ key: 'memory.memsw.limit_in_bytes', value: '-1' });
    expect(live.findIndex((s) => s.key === 'memory.limit_in_bytes')).toBeLessThan(live.map((s) => s.key).lastIndexOf('memory.memsw.limit_in_bytes'));
  });

  it('writes v2 limits as lxc.cgroup2 keys with converted weights', () => {
    const text = renderConfig(meta, '/srv/lxc/x', v2).text;
    expect(text).toContain('lxc.cgroup2.memory.max = 268435456');
    expect(text).toContain('lxc.cgroup2.memory.swap.max = 67108864');
    expect(text).toContain('lxc.cgroup2.cpu.max = 150000 100000');
    expect(text).toContain(`lxc.cgroup2.cpu.weight = ${sharesToWeight(512)}`);
    expect(text).toContain('lxc.cgroup2.pids.max = 100');
    expect(text).toMatch(/lxc\.cgroup2\.io\.weight = \d+/);
    expect(text).not.toMatch(/^lxc\.cgroup\./m);
  });

  it('reads limits back from cgroup values, "no limit" being the host size', () => {
    const host = { cpus: 8, memoryMiB: 4096 };
    const limited = interpretLimits(
      v1,
      new Map([
        ['memory.limit_in_bytes', String(256 * MiB)],
        ['memory.memsw.limit_in_bytes', String(320 * MiB)],
        ['cpu.shares', '512'],
        ['cpu.cfs_quota_us', '150000'],
        ['cpu.cfs_period_us', '100000'],
        ['pids.max', '100'],
        ['cpuset.effective_cpus', '0-3'],
      ]),
      host,
      { explicitCap: true },
    );
    expect(limited.resources).toEqual({ vcpus: 2, memoryMiB: 256 });
    expect(limited.limits).toMatchObject({ cpuUnits: 512, cpuCapPercent: 150, swapMiB: 64, pids: 100 });
    const open = interpretLimits(v1, new Map([['memory.limit_in_bytes', '9223372036854771712'], ['cpu.cfs_quota_us', '-1'], ['pids.max', 'max']]), host);
    expect(open.resources).toEqual({ vcpus: 8, memoryMiB: 4096 });
    expect(open.limits.pids).toBeUndefined();
    expect(open.limits.cpuCapPercent).toBeUndefined();
    const v2back = interpretLimits(v2, new Map([['memory.max', String(64 * MiB)], ['cpu.max', '50000 100000'], ['cpu.weight', '100']]), host);
    expect(v2back.resources.memoryMiB).toBe(64);
    expect(v2back.limits).toMatchObject({ cpuCapPercent: 50, cpuUnits: 1024 });
  });

  it('parses lxc-info, lxc-ls and lxc-snapshot output', () => {
    expect(parseLxcInfo('State:          RUNNING\nPID:            9607\n')).toEqual({ state: 'RUNNING', pid: 9607 });
    expect(parseLxcInfo('State:          STOPPED\n')).toEqual({ state: 'STOPPED' });
    expect(parseLxcLs('NAME STATE   PID \nc1   STOPPED -   \nc2   RUNNING 42  \n')).toEqual([
      { name: 'c1', state: 'STOPPED' },
      { name: 'c2', state: 'RUNNING', pid: 42 },
    ]);
    const snaps = parseSnapshotList('snap0 (/x/c1/snaps) 2026:11:26 00:57:53\nbefore\nsnap1 (/x/c1/snaps) 2026:11:26 01:00:00\n');
    expect(snaps.map((s) => [s.lxcName, s.comment])).toEqual([
      ['snap0', 'before'],
      ['snap1', ''],
    ]);
    expect(new Date(snaps[0]!.createdAt).getMinutes()).toBe(57);
  });

  it('refuses bridge names and paths that could break the config or a command line', () => {
    expect(() => assertBridgeName('br0\nlxc.include = /etc/x')).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => assertBridgeName('a-bridge-name-too-long')).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => assertSafePath('lxcPath', '/srv/../etc')).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => assertSafePath('lxcPath', 'relative/dir')).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => new LxcDriver({ stateDir: '/tmp/with space', hostOs: 'linux', hostArch: ARCH })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});

const REQUIRED = ['lxc-start', 'lxc-stop', 'lxc-info', 'lxc-ls', 'lxc-wait', 'lxc-freeze', 'lxc-unfreeze', 'lxc-cgroup', 'lxc-snapshot', 'lxc-destroy'];

function whyNotRunnable(): string | undefined {
  if (process.platform !== 'linux') return 'this is not a Linux host';
  const path = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const missing = REQUIRED.filter((tool) => !path.some((dir) => dir && existsSync(join(dir, tool))));
  if (missing.length) return `${missing.join(', ')} not installed (apt-get install lxc busybox-static)`;
  if (!['/bin/busybox', '/usr/bin/busybox'].some((p) => existsSync(p))) return 'busybox-static is not installed';
  if (process.getuid?.() !== 0) return 'the tests need root (privileged containers)';
  return undefined;
}

const notRunnable = whyNotRunnable();

if (notRunnable) {
  describe('lxc driver on this host', () => {
    it('probes as not installed, saying what is missing', async () => {
      if (process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS === '1') {
        throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but the lxc driver cannot run here: ${notRunnable}`);
      }
      console.warn(`lxc driver: real-host tests not run: ${notRunnable}`);
      const stateDir = mkdtempSync('/tmp/hp-lxc-probe-');
      try {
        const probe = await new LxcDriver({ stateDir, hostOs: 'linux', hostArch: ARCH }).probe();
        expect(probe.installed).toBe(false);
        expect(probe.error).toEqual(expect.any(String));
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    });
  });
} else {
  const root = mkdtempSync('/tmp/hp-lxc-test-');
  const drivers: LxcDriver[] = [];
  const newDriver = (name: string): LxcDriver => {
    const driver = new LxcDriver({ stateDir: join(root, name), hostOs: 'linux', hostArch: ARCH });
    drivers.push(driver);
    return driver;
  };
  const driver = newDriver('main');

  afterAll(async () => {
    for (const d of drivers) {
      for (const status of await d.list().catch(() => [])) await d.destroy(status.id).catch(() => undefined);
      // Whatever the driver could not destroy, LXC can.
      for (const name of existsSync(d.lxcPath) ? readdirSync(d.lxcPath) : []) {
        try {
          execFileSync('lxc-destroy', ['-P', d.lxcPath, '-n', name, '-f', '-s'], { stdio: 'ignore', timeout: 30_000 });
        } catch {
          // not a container (a staging directory), removed below
        }
      }
    }
    rmSync(root, { recursive: true, force: true });
  }, 120_000);

  describeConformance('lxc', async () => ({ driver, spec: makeSpec }));

  describe('lxc driver on this host', () => {
    const lxcInfoPid = (d: LxcDriver, id: string): number => {
      const out = execFileSync('lxc-info', ['-P', d.lxcPath, '-n', id, '-p'], { encoding: 'utf8', timeout: 10_000 });
      return Number(/PID:\s+(\d+)/.exec(out)?.[1]);
    };
    /** A file of the container's cgroup, found from /proc/<init pid>/cgroup, without asking the driver. */
    const cgroupFile = (pid: number, controller: string, file: string): string | undefined => {
      const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
      for (const line of lines) {
        const [, controllers = '', path = ''] = line.split(':');
        if (controllers.split(',').includes(controller)) {
          const full = `/sys/fs/cgroup/${controller}${path}/${file}`;
          return existsSync(full) ? readFileSync(full, 'utf8').trim() : undefined;
        }
      }
      const unified = lines.find((l) => l.startsWith('0::'))?.slice(3);
      const full = `/sys/fs/cgroup${unified}/${file}`;
      return unified !== undefined && existsSync(full) ? readFileSync(full, 'utf8').trim() : undefined;
    };
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const readLimits = (pid: number) =>
      v2
        ? {
            memory: cgroupFile(pid, 'memory', 'memory.max'),
            shares: weightToShares(Number(cgroupFile(pid, 'cpu', 'cpu.weight'))),
            quota: cgroupFile(pid, 'cpu', 'cpu.max')?.split(' ')[0],
            pids: cgroupFile(pid, 'pids', 'pids.max'),
          }
        : {
            memory: cgroupFile(pid, 'memory', 'memory.limit_in_bytes'),
            shares: Number(cgroupFile(pid, 'cpu', 'cpu.shares')),
            quota: cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'),
            pids: cgroupFile(pid, 'pids', 'pids.max'),
          };
    /** Processes whose command line names the container or that sit in its cgroup. */
    const processesOf = (id: string): number[] => {
      const found: number[] = [];
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
          const cgroup = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
          if (cmdline.includes(id) || cgroup.includes(`lxc.payload.${id}`) || cgroup.includes(`lxc.monitor.${id}`)) found.push(Number(entry));
        } catch {
          // the process ended while we looked
        }
      }
      return found.filter((pid) => pid !== process.pid);
    };

    it('probes as installed with one container offer, its distributions and the cgroup version', async () => {
      const probe = await driver.probe();
      expect(probe).toMatchObject({ name: 'lxc', installed: true });
      expect(probe.version).toMatch(/^\d+\.\d+.*\(cgroup v[12]/);
      expect(probe.cgroup?.version).toBe(v2 ? 'v2' : 'v1');
      expect(probe.offers).toHaveLength(1);
      const [offer] = probe.offers;
      expect(offer).toMatchObject({ technology: 'container', overhead: { vcpus: 0, memoryMiB: 2, diskGiB: 0 } });
      expect(offer!.capabilities).toEqual(expect.arrayContaining(['suspend', 'snapshot', 'clone', 'liveResize']));
      expect(offer!.guests).toEqual([{ os: 'linux', archs: [ARCH], distributions: expect.objectContaining({ busybox: ['*'], 'tiny-linux': ['*'] }) }]);
      const hasDebootstrap = ['/usr/sbin/debootstrap', '/usr/bin/debootstrap'].some((p) => existsSync(p));
      expect(offer!.guests[0]!.distributions!.debian).toEqual(hasDebootstrap ? ['12'] : undefined);
    });

    it('builds a template once and creates later instances by copying the cache', async () => {
      const d = newDriver('cache');
      const entry = join(d.templates.dir, `busybox-${ARCH}`);
      expect(existsSync(entry)).toBe(false);
      let t = Date.now();
      const a = makeSpec();
      await d.create(a);
      const firstMs = Date.now() - t;
      const before = statSync(entry);
      const manifest = JSON.parse(readFileSync(join(entry, 'manifest.json'), 'utf8'));
      t = Date.now();
      const b = makeSpec();
      await d.create(b);
      const secondMs = Date.now() - t;
      const after = statSync(entry);
      expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
      expect(JSON.parse(readFileSync(join(entry, 'manifest.json'), 'utf8')).buildId).toBe(manifest.buildId);
      // The instance's rootfs is its own copy of that very build.
      const stamp = JSON.parse(readFileSync(join(d.lxcPath, b.id, 'rootfs/etc/hyperplane-template'), 'utf8'));
      expect(stamp.buildId).toBe(manifest.buildId);
      expect(statSync(join(d.lxcPath, b.id, 'rootfs/bin/busybox')).ino).not.toBe(statSync(join(entry, 'rootfs/bin/busybox')).ino);
      expect(readdirSync(d.templates.dir).filter((f) => f.startsWith('.'))).toEqual([]);
      console.log(`lxc busybox create: first (cache build) ${firstMs} ms, second (copy) ${secondMs} ms`);
    }, 60_000);

    it('builds a template only once when two creates race on an empty cache', async () => {
      const d = newDriver('race');
      const specs = [makeSpec(), makeSpec(), makeSpec()];
      await Promise.all(specs.map((s) => d.create(s)));
      const manifest = JSON.parse(readFileSync(join(d.templates.dir, `busybox-${ARCH}`, 'manifest.json'), 'utf8'));
      for (const s of specs) {
        expect(JSON.parse(readFileSync(join(d.lxcPath, s.id, 'rootfs/etc/hyperplane-template'), 'utf8')).buildId).toBe(manifest.buildId);
      }
      expect(readdirSync(d.templates.dir)).toEqual([`busybox-${ARCH}`]);
    }, 60_000);

    it('refuses an unknown template, a foreign arch and a vm before creating anything', async () => {
      const cases: InstanceSpec[] = [
        makeSpec({ template: { ...BUSYBOX, name: 'plan9', distribution: 'plan9' } }),
        makeSpec({ template: { ...BUSYBOX, name: 'debian-11', distribution: 'debian', version: '11' } }),
        makeSpec({ arch: ARCH === 'x86_64' ? 'arm64' : 'x86_64' }),
        makeSpec({ technology: 'vm' }),
      ];
      for (const spec of cases) {
        await expect(driver.create(spec)).rejects.toMatchObject({ code: 'Unsupported' });
        expect(existsSync(join(driver.lxcPath, spec.id))).toBe(false);
        expect(existsSync(driver.lxcPath) ? readdirSync(driver.lxcPath).filter((f) => f.includes(spec.id)) : []).toEqual([]);
        await expect(driver.inspect(spec.id)).rejects.toMatchObject({ code: 'NotFound' });
      }
    });

    it('gives a running container of 0.5 vCPU and 512 CPU units cpu.max "50000 100000" and its cpu.weight (v1: cfs quota and shares)', async () => {
      const spec = makeSpec({ resources: { vcpus: 0.5, memoryMiB: 64, diskGiB: 1 }, limits: { cpuUnits: 512 } });
      await driver.create(spec);
      try {
        await driver.start(spec.id);
        const pid = lxcInfoPid(driver, spec.id);
        if (v2) {
          expect(cgroupFile(pid, 'cpu', 'cpu.max')).toBe('50000 100000');
          expect(cgroupFile(pid, 'cpu', 'cpu.weight')).toBe(String(sharesToWeight(512)));
        } else {
          expect([cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), cgroupFile(pid, 'cpu', 'cpu.cfs_period_us'), cgroupFile(pid, 'cpu', 'cpu.shares')]).toEqual(['50000', '100000', '512']);
        }
        const status = await driver.inspect(spec.id);
        expect(status.resources?.vcpus).toBe(0.5);
        expect(status.limits?.cpuUnits).toBe(v2 ? weightToShares(sharesToWeight(512)) : 512);
        expect(status.details).toMatchObject({ limitsSource: 'cgroup' });
      } finally {
        await driver.destroy(spec.id);
      }
    }, 60_000);

    it('applies memory, swap, cpu shares, cpu cap and pids limits to the running cgroup', async () => {
      const spec = makeSpec({ resources: { vcpus: 1, memoryMiB: 96, diskGiB: 2 }, limits: { cpuUnits: 512, cpuCapPercent: 50, pids: 64, swapMiB: 32 } });
      await driver.create(spec);
      const t = Date.now();
      await driver.start(spec.id);
      const startMs = Date.now() - t;
      const pid = lxcInfoPid(driver, spec.id);
      expect(readLimits(pid)).toEqual({ memory: String(96 * MiB), shares: 512, quota: '50000', pids: '64' });
      if (v2) expect(cgroupFile(pid, 'memory', 'memory.swap.max')).toBe(String(32 * MiB));
      else if (existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes')) {
        expect(cgroupFile(pid, 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(128 * MiB));
      }
      const status = await driver.inspect(spec.id);
      expect(status.resources).toEqual({ vcpus: 1, memoryMiB: 96, diskGiB: 2 });
      expect(status.limits).toMatchObject({ cpuUnits: 512, cpuCapPercent: 50, pids: 64 });
      expect(status.details).toMatchObject({ limitsSource: 'cgroup', diskLimit: 'not enforced: dir backing store', pid });
      await new Promise((r) => setTimeout(r, 500));
      const usage = Number(cgroupFile(pid, 'memory', v2 ? 'memory.current' : 'memory.usage_in_bytes'));
      expect(usage).toBeGreaterThan(0);
      console.log(`lxc busybox start ${startMs} ms; running container memory ${(usage / MiB).toFixed(2)} MiB`);
      // Stopped, the limits are read back from the config the driver wrote.
      await driver.stop(spec.id, { force: true });
      const swapEnforced = v2 || (await driver.layout()).memsw;
      expect(await driver.inspect(spec.id)).toMatchObject({
        state: 'stopped',
        resources: { memoryMiB: 96 },
        limits: { cpuUnits: 512, cpuCapPercent: 50, pids: 64, ...(swapEnforced ? { swapMiB: 32 } : {}) },
        details: { limitsSource: 'config' },
      });
    }, 60_000);

    it('resizes a running container live and keeps the new limits across a restart', async () => {
      const spec = makeSpec({ resources: { vcpus: 1, memoryMiB: 64, diskGiB: 1 }, limits: { cpuUnits: 256, pids: 32 } });
      await driver.create(spec);
      await driver.start(spec.id);
      const pid = lxcInfoPid(driver, spec.id);
      expect(readLimits(pid)).toEqual({ memory: String(64 * MiB), shares: 256, quota: '100000', pids: '32' });
      const resized = await driver.resize(spec.id, { vcpus: 1, memoryMiB: 160, diskGiB: 1 }, { cpuUnits: 768, cpuCapPercent: 150, pids: 100 });
      expect(resized.state).toBe('running');
      expect(lxcInfoPid(driver, spec.id)).toBe(pid);
      expect(readLimits(pid)).toEqual({ memory: String(160 * MiB), shares: 768, quota: '150000', pids: '100' });
      expect(resized.limits).toMatchObject({ cpuUnits: 768, cpuCapPercent: 150, pids: 100 });
      await driver.resize(spec.id, { vcpus: 1, memoryMiB: 48, diskGiB: 1 }, { cpuUnits: 768, cpuCapPercent: 150, pids: 100 });
      expect(readLimits(pid).memory).toBe(String(48 * MiB));
      await driver.stop(spec.id, { force: true });
      await driver.start(spec.id);
      expect(readLimits(lxcInfoPid(driver, spec.id))).toEqual({ memory: String(48 * MiB), shares: 768, quota: '150000', pids: '100' });
    }, 60_000);

    it('destroys a running container with snapshots, leaving no directory, process or cgroup', async () => {
      const spec = makeSpec();
      await driver.create(spec);
      await driver.snapshotCreate(spec.id, 'first');
      await driver.start(spec.id);
      const pid = lxcInfoPid(driver, spec.id);
      expect(processesOf(spec.id)).toContain(pid);
      await driver.destroy(spec.id);
      expect(existsSync(join(driver.lxcPath, spec.id))).toBe(false);
      expect(readdirSync(driver.lxcPath).filter((f) => f.includes(spec.id))).toEqual([]);
      expect(processesOf(spec.id)).toEqual([]);
      const cgroupDirs = readdirSync('/sys/fs/cgroup').flatMap((c) => [`/sys/fs/cgroup/${c}/lxc.payload.${spec.id}`, `/sys/fs/cgroup/${c}/lxc.monitor.${spec.id}`]);
      expect(cgroupDirs.filter((p) => existsSync(p))).toEqual([]);
      await expect(driver.destroy(spec.id)).rejects.toMatchObject({ code: 'NotFound' });
    }, 60_000);

    it('restores a snapshot of the filesystem and keeps the current limits', async () => {
      const spec = makeSpec();
      await driver.create(spec);
      const taken = await driver.snapshotCreate(spec.id, 'clean');
      expect(Number.isNaN(Date.parse(taken.createdAt))).toBe(false);
      expect(await driver.snapshotCreate(spec.id, 'clean')).toEqual(taken);
      await expect(driver.snapshotCreate(spec.id, '../x')).rejects.toMatchObject({ code: 'InvalidArgument' });
      const marker = join(driver.lxcPath, spec.id, 'rootfs/root/marker');
      writeFileSync(marker, 'after the snapshot');
      await driver.resize(spec.id, { vcpus: 1, memoryMiB: 200, diskGiB: 1 });
      await driver.start(spec.id);
      const restored = await driver.snapshotRestore(spec.id, 'clean');
      expect(restored.state).toBe('running');
      expect(existsSync(marker)).toBe(false);
      expect(readLimits(lxcInfoPid(driver, spec.id)).memory).toBe(String(200 * MiB));
      await expect(driver.snapshotRestore(spec.id, 'nope')).rejects.toMatchObject({ code: 'NotFound' });
      await driver.stop(spec.id, { force: true });
    }, 60_000);

    it('snapshots a running container without stopping it, and a suspended one without resuming it', async () => {
      const spec = makeSpec();
      await driver.create(spec);
      await driver.start(spec.id);
      const pid = lxcInfoPid(driver, spec.id);
      const rootfs = join(driver.lxcPath, spec.id, 'rootfs');
      writeFileSync(join(rootfs, 'root/before'), 'in the snapshot');
      const live = await driver.snapshotCreate(spec.id, 'live');
      expect(Number.isNaN(Date.parse(live.createdAt))).toBe(false);
      // The same init kept running: frozen for the copy, thawed after.
      expect(await driver.inspect(spec.id)).toMatchObject({ state: 'running', details: { pid } });
      await driver.suspend(spec.id);
      await driver.snapshotCreate(spec.id, 'frozen');
      expect((await driver.inspect(spec.id)).state).toBe('suspended');
      await driver.resume(spec.id);
      // LXC sees them as its own: listed with their names, restorable, deletable.
      expect((await driver.snapshotList(spec.id)).map((s) => s.name)).toEqual(['live', 'frozen']);
      expect(execFileSync('lxc-snapshot', ['-P', driver.lxcPath, '-n', spec.id, '-L'], { encoding: 'utf8' })).toMatch(/^snap0 .*\nsnap1 /m);
      rmSync(join(rootfs, 'root/before'));
      writeFileSync(join(rootfs, 'root/after'), 'not in the snapshot');
      const restored = await driver.snapshotRestore(spec.id, 'live');
      expect(restored.state).toBe('running');
      expect(readFileSync(join(rootfs, 'root/before'), 'utf8')).toBe('in the snapshot');
      expect(existsSync(join(rootfs, 'root/after'))).toBe(false);
      expect(execFileSync('lxc-info', ['-P', driver.lxcPath, '-n', spec.id, '-c', 'lxc.uts.name'], { encoding: 'utf8' })).toContain(spec.name);
      await driver.snapshotDelete(spec.id, 'frozen');
      await driver.snapshotDelete(spec.id, 'live');
      expect(await driver.snapshotList(spec.id)).toEqual([]);
      await driver.stop(spec.id, { force: true });
    }, 60_000);

    it("clones into its own copy of the rootfs with the new spec's limits", async () => {
      const source = makeSpec();
      await driver.create(source);
      writeFileSync(join(driver.lxcPath, source.id, 'rootfs/root/marker'), 'from the source');
      await driver.start(source.id);
      const copy = makeSpec({ resources: { vcpus: 1, memoryMiB: 72, diskGiB: 1 }, limits: { pids: 40 } });
      const cloned = await driver.clone(source.id, copy);
      expect(cloned).toMatchObject({ id: copy.id, state: 'stopped', resources: { memoryMiB: 72 }, limits: { pids: 40 } });
      expect((await driver.inspect(source.id)).state).toBe('running');
      const copied = join(driver.lxcPath, copy.id, 'rootfs/root/marker');
      expect(readFileSync(copied, 'utf8')).toBe('from the source');
      expect(statSync(copied).ino).not.toBe(statSync(join(driver.lxcPath, source.id, 'rootfs/root/marker')).ino);
      await driver.start(copy.id);
      expect(readLimits(lxcInfoPid(driver, copy.id))).toMatchObject({ memory: String(72 * MiB), pids: '40' });
      expect(execFileSync('lxc-info', ['-P', driver.lxcPath, '-n', copy.id, '-c', 'lxc.uts.name'], { encoding: 'utf8' })).toContain(copy.name);
      await driver.stop(copy.id, { force: true });
      await driver.stop(source.id, { force: true });
    }, 60_000);

    it('runs tiny-linux with its syslog daemon and stops it gracefully', async () => {
      const spec = makeSpec({ template: { ...BUSYBOX, name: 'tiny-linux', distribution: 'tiny-linux' } });
      await driver.create(spec);
      await driver.start(spec.id);
      let daemons: string[] = [];
      for (let i = 0; i < 20 && !daemons.some((c) => c.includes('syslogd')); i++) {
        await new Promise((r) => setTimeout(r, 100));
        daemons = processesOf(spec.id).map((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
          } catch {
            return '';
          }
        });
      }
      expect(daemons.some((c) => c.includes('syslogd'))).toBe(true);
      const t = Date.now();
      expect((await driver.stop(spec.id, { timeoutS: 10 })).state).toBe('stopped');
      // A graceful halt, not the kill at the end of the timeout.
      expect(Date.now() - t).toBeLessThan(9_000);
      expect(processesOf(spec.id)).toEqual([]);
    }, 60_000);

    it('observes stopped, running and frozen containers as lxc-info does, under a short lxcpath and one too long for a plain socket name', async () => {
      for (const d of [driver, newDriver(`long-${'x'.repeat(40)}`)]) {
        const spec = makeSpec();
        await d.create(spec);
        const lxcInfo = () => /State:\s+(\S+)/.exec(execFileSync('lxc-info', ['-P', d.lxcPath, '-n', spec.id, '-s'], { encoding: 'utf8', timeout: 10_000 }))?.[1];
        const seen = async () => [(await d.observe()).find((o) => o.id === spec.id)?.state, lxcInfo()];
        expect(await seen()).toEqual(['stopped', 'STOPPED']);
        await d.start(spec.id);
        expect(await seen()).toEqual(['running', 'RUNNING']);
        expect((await d.list()).find((s) => s.id === spec.id)).toMatchObject({ state: 'running', details: { limitsSource: 'cgroup', memoryUsageBytes: expect.any(Number) } });
        await d.suspend(spec.id);
        expect(await seen()).toEqual(['suspended', 'FROZEN']);
        await d.stop(spec.id, { force: true });
        expect(await seen()).toEqual(['stopped', 'STOPPED']);
        await d.destroy(spec.id);
      }
      expect(commandSocketName(drivers[drivers.length - 1]!.lxcPath, randomUUID())).toMatch(/^lxc\/[0-9a-f]{16}\/command$/);
    }, 180_000);

    it('suspends by freezing the cgroup itself: every process stops, LXC agrees, and none of lxc-info, lxc-wait (nor lxc-freeze where the monitor is reachable) runs', async () => {
      const spec = makeSpec();
      await driver.create(spec);
      // A process that counts as long as it runs, as root's shell in the container.
      const rootfs = join(driver.lxcPath, spec.id, 'rootfs');
      const inittab = readFileSync(join(rootfs, 'etc/inittab'), 'utf8');
      writeFileSync(join(rootfs, 'etc/inittab'), `${inittab}::respawn:/bin/sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/tick; usleep 10000; done'\n`);
      const tick = () => Number(readFileSync(join(rootfs, 'tmp/tick'), 'utf8').trim() || 0);
      const ticking = async () => {
        const first = existsSync(join(rootfs, 'tmp/tick')) ? tick() : -1;
        for (let i = 0; i < 200; i++) {
          await new Promise((r) => setTimeout(r, 20));
          if (existsSync(join(rootfs, 'tmp/tick')) && tick() > first) return true;
        }
        return false;
      };
      const lxcState = () => /State:\s+(\S+)/.exec(execFileSync('lxc-info', ['-P', driver.lxcPath, '-n', spec.id, '-s'], { encoding: 'utf8', timeout: 10_000 }))?.[1];
      try {
        await driver.start(spec.id);
        const pid = lxcInfoPid(driver, spec.id);
        expect(await ticking()).toBe(true);
        spawned.mockClear();
        const suspended = await driver.suspend(spec.id);
        const tools = spawned.mock.calls.map((c) => c[0]);
        expect(suspended).toMatchObject({ state: 'suspended', details: { pid, lxcState: 'FROZEN' } });
        expect(tools).toEqual(canReachMonitor() ? [] : ['lxc-freeze']);
        expect(cgroupFile(pid, 'freezer', 'freezer.state') ?? (cgroupFile(pid, 'freezer', 'cgroup.events')?.includes('frozen 1') ? 'FROZEN' : undefined)).toBe('FROZEN');
        expect(lxcState()).toBe('FROZEN');
        // Every task of the container is in the refrigerator (reported as D), and the counter stands still.
        const tasks = processesOf(spec.id).filter((p) => readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`lxc.payload.${spec.id}`));
        expect(tasks.length).toBeGreaterThanOrEqual(2);
        for (const task of tasks) expect(readFileSync(`/proc/${task}/status`, 'utf8')).toMatch(/^State:\s+D/m);
        const at = tick();
        await new Promise((r) => setTimeout(r, 300));
        expect(tick()).toBe(at);
        spawned.mockClear();
        expect(await driver.resume(spec.id)).toMatchObject({ state: 'running', details: { pid, lxcState: 'RUNNING' } });
        expect(spawned.mock.calls.map((c) => c[0])).toEqual(canReachMonitor() ? [] : ['lxc-unfreeze']);
        expect(lxcState()).toBe('RUNNING');
        expect(await ticking()).toBe(true);
        // LXC's own tools still work on it, both ways.
        execFileSync('lxc-freeze', ['-P', driver.lxcPath, '-n', spec.id], { timeout: 30_000 });
        expect((await driver.inspect(spec.id)).state).toBe('suspended');
        expect((await driver.resume(spec.id)).state).toBe('running');
        expect(lxcState()).toBe('RUNNING');
        await driver.suspend(spec.id);
        execFileSync('lxc-unfreeze', ['-P', driver.lxcPath, '-n', spec.id], { timeout: 30_000 });
        expect(await driver.inspect(spec.id)).toMatchObject({ state: 'running', details: { lxcState: 'RUNNING' } });
        expect(await ticking()).toBe(true);
      } finally {
        await driver.destroy(spec.id);
      }
    }, 60_000);

    it('lists only its own containers with their real state', async () => {
      const spec = makeSpec();
      await driver.create(spec);
      mkdirSync(join(driver.lxcPath, 'not-a-uuid'), { recursive: true });
      const listed = await driver.list();
      expect(listed.find((s) => s.id === spec.id)).toMatchObject({ state: 'stopped', technology: 'container' });
      expect(listed.some((s) => s.id === 'not-a-uuid')).toBe(false);
      rmSync(join(driver.lxcPath, 'not-a-uuid'), { recursive: true });
    });
  });
}
