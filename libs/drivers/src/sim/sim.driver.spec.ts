import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { TemplateSpec } from '@hyperplane/domain';
import { describeConformance } from '../../test/conformance';
import { InstanceSpec } from '../driver';
import { SimDriver, SimDriverOptions } from './sim.driver';
import { SIM_COMMANDS, SimTimings } from './sim-profile';

const debian: TemplateSpec = {
  name: 'debian-12',
  osFamily: 'linux',
  distribution: 'debian',
  version: '12',
  archs: ['x86_64', 'arm64'],
  technologies: ['container', 'vm'],
};

function spec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    id: randomUUID(),
    name: 'sim-test',
    template: debian,
    technology: 'container',
    arch: 'x86_64',
    resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 },
    ...overrides,
  };
}

function makeDriver(stateDir: string, extra: Partial<SimDriverOptions> = {}): SimDriver {
  return new SimDriver({
    stateDir,
    hostOs: 'linux',
    hostArch: 'x86_64',
    hostKey: 'sim-linux-1',
    capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 200 },
    timeScale: 0,
    ...extra,
  });
}

describe('SimDriver', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-sim-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describeConformance('sim (container)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'hp-simc-'));
    return { driver: makeDriver(stateDir), spec, cleanup: async () => rmSync(stateDir, { recursive: true, force: true }) };
  });

  // A Windows host's container offer declares neither suspend nor liveResize: refused as Unsupported.
  describeConformance('sim (windows container)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'hp-simw-'));
    const windows: TemplateSpec = { name: 'windows-server-2022', osFamily: 'windows', distribution: 'windows-server', version: '2022', archs: ['x86_64'], technologies: ['container', 'vm'] };
    return {
      driver: makeDriver(stateDir, { hostOs: 'windows' }),
      spec: (o) => spec({ template: windows, ...o }),
      cleanup: async () => rmSync(stateDir, { recursive: true, force: true }),
    };
  });

  describeConformance('sim (vm)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'hp-simv-'));
    return {
      driver: makeDriver(stateDir, { timeScale: 0.001 }),
      spec: (o) => spec({ technology: 'vm', ...o }),
      cleanup: async () => rmSync(stateDir, { recursive: true, force: true }),
    };
  });

  it('keeps its instances across a restart of the agent', async () => {
    const first = makeDriver(dir);
    const s = spec();
    await first.create(s);
    await first.start(s.id);
    const second = makeDriver(dir);
    expect((await second.inspect(s.id)).state).toBe('running');
  });

  it('journals each applied effect once, commands on missing instances, and an effect on an instance destroyed meanwhile', async () => {
    const journal = join(dir, 'journal.jsonl');
    const driver = makeDriver(dir, { journal });
    const s = spec();
    await driver.create(s);
    await driver.create(s); // the same create again: nothing applied
    await driver.start(s.id);
    await driver.start(s.id); // already running: nothing applied
    await driver.destroy(s.id);
    await expect(driver.start(s.id)).rejects.toMatchObject({ code: 'NotFound' });
    // A slow stop (200 ms, the rest instant) overtaken by a destroy: its effect lands on nothing.
    const instant = { medianMs: 0, p99Ms: 0 };
    const container = Object.fromEntries(SIM_COMMANDS.map((c) => [c, c === 'stop' ? { medianMs: 200, p99Ms: 200 } : instant])) as SimTimings['container'];
    const slow = makeDriver(dir, { journal, hostKey: 'sim-linux-2', timeScale: 1, timings: { container, vm: container } });
    const t = spec();
    await slow.create(t);
    await slow.start(t.id);
    const stopping = slow.stop(t.id);
    await slow.destroy(t.id);
    await stopping;
    const lines = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.h, l.c, l.miss ?? false, l.gone ?? false])).toEqual([
      ['sim-linux-1', 'create', false, false],
      ['sim-linux-1', 'start', false, false],
      ['sim-linux-1', 'destroy', false, false],
      ['sim-linux-1', 'start', true, false],
      ['sim-linux-2', 'create', false, false],
      ['sim-linux-2', 'start', false, false],
      ['sim-linux-2', 'destroy', false, false],
      ['sim-linux-2', 'stop', false, true],
    ]);
  });

  it('refuses a create beyond the host capacity', async () => {
    const driver = makeDriver(dir, { capacity: { vcpus: 2, memoryMiB: 1024, diskGiB: 10 } });
    await driver.create(spec({ resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } }));
    await expect(driver.create(spec({ resources: { vcpus: 1, memoryMiB: 512, diskGiB: 5 } }))).rejects.toMatchObject({
      code: 'Conflict',
    });
  });

  it('runs no containers on a simulated macOS host', async () => {
    const driver = makeDriver(dir, { hostOs: 'macos', hostArch: 'arm64' });
    const offers = (await driver.probe()).offers;
    expect(offers.map((o) => o.technology)).toEqual(['vm']);
    await expect(driver.create(spec({ arch: 'arm64' }))).rejects.toMatchObject({ code: 'Unsupported' });
  });

  it('injects transient create failures at the configured rate, the same for the same seed', async () => {
    async function failures(seed: number): Promise<number> {
      const driver = makeDriver(mkdtempSync(join(dir, 's')), { faults: { create: { transient: 0.2 } }, seed, persist: false, capacity: { vcpus: 1000, memoryMiB: 1e7, diskGiB: 1e5 } });
      let failed = 0;
      for (let i = 0; i < 500; i++) {
        await driver.create(spec()).catch((e: { code: string }) => {
          expect(e.code).toBe('Transient');
          failed++;
        });
      }
      return failed;
    }
    const a = await failures(7);
    expect(a).toBeGreaterThan(60);
    expect(a).toBeLessThan(140);
    expect(await failures(7)).toBe(a);
  });

  it('takes VMs longer than containers', async () => {
    const driver = makeDriver(dir, { timeScale: 0.005, persist: false });
    const t0 = Date.now();
    const c = spec();
    await driver.create(c);
    await driver.start(c.id);
    const container = Date.now() - t0;
    const t1 = Date.now();
    const v = spec({ technology: 'vm' });
    await driver.create(v);
    await driver.start(v.id);
    const vm = Date.now() - t1;
    expect(vm).toBeGreaterThan(container);
  });
});

describe('SimDriver on a simulated Windows host: the build rule the real wincontainer driver applies', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-simw-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const ws = (version: string, build: string): TemplateSpec => ({
    name: `windows-server-${version}`,
    osFamily: 'windows',
    distribution: 'windows-server',
    version,
    archs: ['x86_64'],
    technologies: ['container', 'vm'],
    windowsBuild: build,
  });
  const winDriver = (kernel: string): SimDriver => makeDriver(dir, { hostOs: 'windows', hostKey: `sim-win-${kernel}`, hostKernel: kernel });

  it('offers the images of its build and older, with both isolation modes', async () => {
    const guests = (await winDriver('10.0.20348').probe()).offers.find((o) => o.technology === 'container')!;
    expect(guests.guests[0]!.distributions).toEqual({ 'windows-server': ['2019', '2022'] });
    expect(guests.windowsIsolation).toEqual(['process', 'hyperv']);
    const older = (await winDriver('10.0.17763').probe()).offers.find((o) => o.technology === 'container')!;
    expect(older.guests[0]!.distributions).toEqual({ 'windows-server': ['2019'] });
  });

  it.each([
    ['10.0.20348', '2022', '20348', undefined, 'process'],
    ['10.0.20348', '2019', '17763', undefined, 'hyperv'],
    ['10.0.20348', '2022', '20348', 'strict', 'hyperv'],
    ['10.0.26100', '2022', '20348', undefined, 'hyperv'],
  ] as const)('a host of %s runs a windows-server-%s container (build %s, security %s) with %s isolation', async (kernel, version, build, security, isolation) => {
    const made = await winDriver(kernel).create(spec({ template: ws(version, build), ...(security ? { isolation: { security } } : {}) }));
    expect(made.details).toMatchObject({ isolation });
  });

  it('refuses a newer image as the real host does: Unavailable (host-specific), so another host is tried', async () => {
    await expect(winDriver('10.0.17763').create(spec({ template: ws('2022', '20348') }))).rejects.toMatchObject({
      code: 'Unavailable',
      hostSpecific: true,
      message: 'a simulated Windows host of build 17763 cannot run windows-server-2022 (build 20348) containers',
    });
  });
});
