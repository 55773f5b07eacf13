import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Arch, BUILTIN_TEMPLATES, OsFamily, TemplateSpec } from '@hyperplane/domain';
import { describeConformance } from '../../test/conformance';
import { FAKE_PRLCTL, FakeFlavour, FakePrlHost } from '../../test/fakes/prlctl/fake-prl-harness';
import { InstanceSpec } from '../driver';
import { runCommand } from '../exec/run-command';
import { createPrlctlDriver, PrlctlDriver, PrlctlDriverOptions, prlNameOf } from './prlctl.driver';
import { REAL_DRIVER_FACTORIES } from '../driver.registry';

const template = (name: string): TemplateSpec => BUILTIN_TEMPLATES.find((t) => t.name === name)!;
const HOST: Record<FakeFlavour, { hostOs: OsFamily; hostArch: Arch }> = {
  virtuozzo: { hostOs: 'linux', hostArch: 'x86_64' },
  desktop: { hostOs: 'macos', hostArch: 'arm64' },
};
// Short waits: the retries are what is tested, not their length.
const FAST_RETRY = { unreachableAttempts: 4, unreachableBackoffMs: 5, syncAttempts: 3, syncRetryMs: 5 };

async function fakeDriver(host: FakePrlHost, extra: Partial<PrlctlDriverOptions> = {}): Promise<{ driver: PrlctlDriver; stateDir: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'hp-prlctl-driver-'));
  const driver = new PrlctlDriver({ stateDir, ...HOST[host.flavour], env: host.env, retry: FAST_RETRY, settleTimeoutMs: 5_000, ...extra });
  return { driver, stateDir };
}

function makeSpec(flavour: FakeFlavour, technology: 'container' | 'vm', overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    id: randomUUID(),
    name: 'prl-test',
    template: template('debian-12'),
    technology,
    arch: HOST[flavour].hostArch,
    resources: { vcpus: 1, memoryMiB: 512, diskGiB: 4 },
    ...overrides,
  };
}

for (const [flavour, technology] of [['virtuozzo', 'container'], ['virtuozzo', 'vm'], ['desktop', 'vm']] as const) {
  let host: FakePrlHost;
  let stateDir: string;
  describeConformance(
    `prlctl (${flavour} ${technology}, fake prlctl on the PATH)`,
    async () => {
      // Desktop's output gets text around its JSON, as some versions print.
      host = new FakePrlHost(flavour, flavour === 'desktop' ? { FAKE_PRL_NOISE: '1' } : {});
      // No binary named: the driver finds `prlctl` on the PATH the fake is put on.
      const made = await fakeDriver(host);
      stateDir = made.stateDir;
      return { driver: made.driver, spec: (o) => makeSpec(flavour, technology, o), cleanup: async () => {
        host.cleanup();
        await rm(stateDir, { recursive: true, force: true });
      } };
    },
    { timeoutMs: 20_000 },
  );
}

describe('PrlctlDriver against the fake: what prlctl really does', () => {
  // Each fake call is a Node process (~0.2 s); a lifecycle is a few dozen of them.
  jest.setTimeout(30_000);
  const hosts: FakePrlHost[] = [];
  const dirs: string[] = [];
  async function setup(flavour: FakeFlavour = 'virtuozzo', extraEnv: Record<string, string> = {}, extra: Partial<PrlctlDriverOptions> = {}) {
    const host = new FakePrlHost(flavour, extraEnv);
    hosts.push(host);
    const made = await fakeDriver(host, { prlctl: FAKE_PRLCTL, ...extra });
    dirs.push(made.stateDir);
    return { host, driver: made.driver };
  }
  afterAll(async () => {
    for (const h of hosts) h.cleanup();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const prlUuid = async (driver: PrlctlDriver, id: string): Promise<string> => (await driver.inspect(id)).details!.prlUuid as string;

  it('retries while the service is unreachable (exit 253) and succeeds once it answers', async () => {
    const { host, driver } = await setup();
    const spec = makeSpec('virtuozzo', 'vm');
    await driver.create(spec);
    await host.update((s) => (s.faults.unreachable = 2));
    expect((await driver.inspect(spec.id)).state).toBe('stopped');
    expect((await host.state()).faults.unreachable).toBe(0);
  });

  it('ends Transient, naming exit 253, when the service stays unreachable', async () => {
    const { host, driver } = await setup();
    await host.update((s) => (s.faults.unreachable = 50));
    await expect(driver.list()).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/unreachable \(exit 253\) after 4 tries/) });
  });

  it('tries snapshot-switch and snapshot-delete again while "Data synchronization is currently in progress"', async () => {
    const { host, driver } = await setup();
    const spec = makeSpec('virtuozzo', 'vm');
    await driver.create(spec);
    await driver.snapshotCreate(spec.id, 'base');
    await host.update((s) => (s.faults.dataSync = { 'snapshot-switch': 2, 'snapshot-delete': 1 }));
    expect((await driver.snapshotRestore(spec.id, 'base')).state).toBe('stopped');
    await driver.snapshotDelete(spec.id, 'base');
    expect(await driver.snapshotList(spec.id)).toEqual([]);
    const calls = host.calls();
    expect(calls.filter((c) => c[1] === 'snapshot-switch')).toHaveLength(3);
    expect(calls.filter((c) => c[1] === 'snapshot-delete')).toHaveLength(2);
  });

  it('reports a frozen VM (exit 254) as Fatal with the tool\'s stderr', async () => {
    const { host, driver } = await setup();
    const spec = makeSpec('virtuozzo', 'vm');
    await driver.create(spec);
    const uuid = await prlUuid(driver, spec.id);
    await host.update((s) => (s.faults.frozen = [uuid]));
    const error = await driver.start(spec.id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'Fatal', message: expect.stringMatching(/frozen \(exit 254\).*The virtual machine is frozen/), details: { exitCode: 254 } });
  });

  it('reports any other failure (exit 255) as Fatal with stderr in the message and details', async () => {
    const { host, driver } = await setup();
    const spec = makeSpec('virtuozzo', 'vm');
    await driver.create(spec);
    const uuid = await prlUuid(driver, spec.id);
    // A linked clone made outside Hyperplane pins its source.
    await host.update((s) => {
      s.vms['00000000-0000-4000-8000-0000000000aa'] = { ...s.vms[uuid]!, uuid: '00000000-0000-4000-8000-0000000000aa', name: 'other', linkedTo: uuid };
    });
    const error = await driver.destroy(spec.id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'Fatal', message: expect.stringMatching(/exited with 255: Failed to delete the VM: it has linked clones/), details: { exitCode: 255, stderr: expect.stringMatching(/linked clones/) } });
  });

  it('pulls the plug (stop --kill) when a graceful stop outlasts its timeout', async () => {
    const { host, driver } = await setup();
    const spec = makeSpec('virtuozzo', 'vm');
    await driver.create(spec);
    await driver.start(spec.id);
    const uuid = await prlUuid(driver, spec.id);
    await host.update((s) => (s.vms[uuid]!.hangOnShutdown = true));
    expect((await driver.stop(spec.id, { timeoutS: 1 })).state).toBe('stopped');
    const stops = host.calls().filter((c) => c[1] === 'stop');
    expect(stops.map((c) => c.slice(2))).toEqual([[uuid], [uuid, '--kill']]);
  });

  it('creates a VM as a linked clone of the host\'s template and a container from an OS template, addressing both by UUID only', async () => {
    const { host, driver } = await setup();
    const vm = makeSpec('virtuozzo', 'vm');
    const ct = makeSpec('virtuozzo', 'container');
    for (const spec of [vm, ct]) {
      await driver.create(spec);
      await driver.start(spec.id);
      await driver.snapshotCreate(spec.id, 'one');
      await driver.stop(spec.id, { force: true });
      await driver.destroy(spec.id);
    }
    const state = await host.state();
    const debianTemplate = Object.values(state.vms).find((v) => v.template && v.name === 'debian-12')!;
    const calls = host.calls();
    expect(calls).toContainEqual(['prlctl', 'clone', debianTemplate.uuid, '--name', prlNameOf(vm.id), '--linked']);
    expect(calls).toContainEqual(['prlctl', 'create', prlNameOf(ct.id), '--vmtype', 'ct', '--ostemplate', 'debian-12-x86_64', '--uuid', ct.id]);
    // Names appear only where prlctl takes a new name; every other reference is a UUID.
    const named = calls.filter((c) => c.some((a) => a.startsWith('hp-')) && !(c[1] === 'create' || c[1] === 'clone'));
    expect(named).toEqual([]);
    const targets = calls.filter((c) => c[0] === 'prlctl' && !['list', 'create', '--version'].includes(c[1]!)).map((c) => c[2]);
    for (const t of targets) expect(t).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a different spec for an existing id (Conflict) and a template the host lacks (Unsupported, host-specific)', async () => {
    const { driver } = await setup();
    const spec = makeSpec('virtuozzo', 'vm');
    await driver.create(spec);
    await expect(driver.create({ ...spec, resources: { ...spec.resources, vcpus: 2 } })).rejects.toMatchObject({ code: 'Conflict' });
    await expect(driver.create(makeSpec('virtuozzo', 'vm', { template: template('alpine-3.20') }))).rejects.toMatchObject({ code: 'Unavailable' });
  });

  it('resizes a stopped VM and a running container, and refuses a running VM', async () => {
    const { host, driver } = await setup();
    const vm = makeSpec('virtuozzo', 'vm');
    const ct = makeSpec('virtuozzo', 'container');
    await driver.create(vm);
    await driver.create(ct);
    expect((await driver.resize(vm.id, { vcpus: 2, memoryMiB: 2048, diskGiB: 4 })).resources).toEqual({ vcpus: 2, memoryMiB: 2048, diskGiB: 4 });
    await driver.start(ct.id);
    expect((await driver.resize(ct.id, { vcpus: 3, memoryMiB: 768, diskGiB: 4 })).resources).toMatchObject({ vcpus: 3, memoryMiB: 768 });
    await driver.start(vm.id);
    await expect(driver.resize(vm.id, { vcpus: 1, memoryMiB: 512, diskGiB: 4 })).rejects.toMatchObject({ code: 'Unsupported' });
    const fake = Object.values((await host.state()).vms).find((v) => v.name === prlNameOf(vm.id))!;
    expect([fake.cpus, fake.memsize]).toEqual([2, 2048]);
  });

  it('stops a suspended Desktop VM by dropping its saved state', async () => {
    const { host, driver } = await setup('desktop');
    const spec = makeSpec('desktop', 'vm');
    await driver.create(spec);
    await driver.start(spec.id);
    await driver.suspend(spec.id);
    expect((await driver.stop(spec.id)).state).toBe('stopped');
    expect(host.calls().filter((c) => c[1] === 'stop').map((c) => c[3])).toEqual(['--drop-state']);
  });

  it('finds an instance again by its prlctl name when its record is lost', async () => {
    const { host, driver } = await setup();
    const spec = makeSpec('virtuozzo', 'vm');
    await driver.create(spec);
    const stateDir = await mkdtemp(join(tmpdir(), 'hp-prlctl-lost-'));
    try {
      const again = new PrlctlDriver({ stateDir, ...HOST.virtuozzo, prlctl: FAKE_PRLCTL, env: host.env });
      expect((await again.inspect(spec.id)).id).toBe(spec.id);
      expect((await again.list()).map((s) => s.id)).toContain(spec.id);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  describe('probe', () => {
    it('offers Virtuozzo containers from OS templates and VMs from VM templates, only those the host has', async () => {
      const { driver } = await setup('virtuozzo');
      const probe = await driver.probe();
      expect(probe).toMatchObject({ installed: true, flavour: 'virtuozzo', version: expect.stringMatching(/^9\.0\.26 \(Server 7/) });
      const ct = probe.offers.find((o) => o.technology === 'container')!;
      const vm = probe.offers.find((o) => o.technology === 'vm')!;
      expect(ct.guests).toEqual([{ os: 'linux', archs: ['x86_64'], distributions: { debian: ['12'], ubuntu: ['24.04'] } }]);
      expect(ct.capabilities).toContain('liveResize');
      expect(vm.guests).toEqual([
        { os: 'linux', archs: ['x86_64'], distributions: { debian: ['12'] } },
        { os: 'windows', archs: ['x86_64'], distributions: { 'windows-server': ['2022'] } },
      ]);
      expect(vm.capabilities).not.toContain('liveResize');
    });

    it('offers macOS guests on Apple silicon only, and no containers on Desktop', async () => {
      const arm = (await (await setup('desktop')).driver.probe());
      expect(arm.offers.map((o) => o.technology)).toEqual(['vm']);
      expect(arm.offers[0]!.guests.map((g) => g.os)).toEqual(['linux', 'windows', 'macos']);
      const intel = await (await setup('desktop', {}, { hostArch: 'x86_64' })).driver.probe();
      expect(intel.offers[0]!.guests.map((g) => g.os)).toEqual(['linux', 'windows']);
      const { driver } = await setup('desktop');
      await expect(driver.create(makeSpec('desktop', 'container'))).rejects.toMatchObject({ code: 'Unsupported' });
    });

    it('is unusable on Desktop editions below Pro, saying why', async () => {
      const probe = await (await setup('desktop', { FAKE_PRL_EDITION: 'standard' })).driver.probe();
      expect(probe).toMatchObject({ installed: false, offers: [], error: expect.stringMatching(/standard edition: prlctl needs the Pro, Business or Enterprise edition/) });
      expect((await (await setup('desktop', { FAKE_PRL_EDITION: 'business' })).driver.probe()).installed).toBe(true);
    });

    it('is registered, and runs the prlctl HYPERPLANE_PRLCTL names with the prlsrvctl beside it', async () => {
      expect(REAL_DRIVER_FACTORIES.prlctl).toBe(createPrlctlDriver);
      const host = new FakePrlHost('virtuozzo');
      hosts.push(host);
      const saved = { prlctl: process.env.HYPERPLANE_PRLCTL, state: process.env.FAKE_PRL_STATE };
      process.env.HYPERPLANE_PRLCTL = FAKE_PRLCTL;
      process.env.FAKE_PRL_STATE = host.dir;
      try {
        const driver = createPrlctlDriver({ stateDir: host.dir, hostOs: 'linux', hostArch: 'x86_64' });
        expect(await driver.probe()).toMatchObject({ installed: true, flavour: 'virtuozzo' });
        expect(host.calls().map((c) => c[0])).toEqual(expect.arrayContaining(['prlctl', 'prlsrvctl']));
      } finally {
        for (const [key, value] of [['HYPERPLANE_PRLCTL', saved.prlctl], ['FAKE_PRL_STATE', saved.state]] as const) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
    });

    it('is unusable where prlctl is missing, or on a Windows host', async () => {
      const missing = await (await setup('virtuozzo', {}, { prlctl: '/nonexistent/prlctl' })).driver.probe();
      expect(missing).toMatchObject({ installed: false, error: expect.stringMatching(/not installed/) });
      const windows = await (await setup('virtuozzo', {}, { hostOs: 'windows' })).driver.probe();
      expect(windows).toMatchObject({ installed: false, error: expect.stringMatching(/no Parallels hypervisor for Windows/) });
    });
  });
});

describe('the fake prlctl fails loudly on what the real one refuses', () => {
  let host: FakePrlHost;
  beforeAll(() => {
    host = new FakePrlHost('virtuozzo');
  });
  afterAll(() => host.cleanup());
  const run = (args: string[], env: NodeJS.ProcessEnv = host.env) => runCommand(FAKE_PRLCTL, args, { env, okCodes: Array.from({ length: 256 }, (_, i) => i) });

  it.each([
    [['list', '--bogus'], 1, /Unrecognized option: --bogus/],
    [['snapshot-list', 'x', '--id'], 1, /The `id' option requires an argument\./],
    [['snapshot-list', '00000000-0000-4000-8000-000000000001', '--json'], 1, /Unrecognized option: --json/],
    [['start', '00000000-0000-4000-8000-000000000001'], 255, /virtual machine does not exist/],
    [['frobnicate'], 1, /Invalid action: frobnicate/],
    [['set', '00000000-0000-4000-8000-000000000001', '--cpus'], 1, /requires an argument/],
    // The target comes right after the action (CmdParam.cpp reads it from argv[2]).
    [['stop', '--kill', '00000000-0000-4000-8000-000000000001'], 1, /Unrecognized option: 00000000-0000-4000-8000-000000000001/],
    [['start'], 1, /Invalid usage/],
  ])('prlctl %j exits %i', async (args, code, message) => {
    const result = await run(args);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
  });

  it('knows Desktop has no --vmtype and no containers', async () => {
    const desktop = new FakePrlHost('desktop');
    try {
      const result = await run(['create', 'x', '--vmtype', 'ct'], desktop.env);
      expect([result.code, result.stderr.trim()]).toEqual([1, 'Unrecognized option: --vmtype']);
    } finally {
      desktop.cleanup();
    }
  });
});
