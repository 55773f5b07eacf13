import { randomUUID } from 'node:crypto';
import { BUILTIN_TEMPLATES, TemplateSpec, WindowsIsolation } from '@hyperplane/domain';
import { describeConformance } from '../../test/conformance';
import { FAKE_DOCKER, FakeDockerHost, FakeDockerHostOptions, LTSC } from '../../test/fakes/wincontainer/fake-docker-harness';
import { InstanceSpec } from '../driver';
import { REAL_DRIVER_FACTORIES } from '../driver.registry';
import { runCommand } from '../exec/run-command';
import { createWincontainerDriver, dockerNameOf, WincontainerDriver, WincontainerDriverOptions } from './wincontainer.driver';

// Each fake call is a Node process (~0.2 s, more on a busy machine); a test makes a few dozen.
jest.setTimeout(30_000);

const template = (name: string): TemplateSpec => BUILTIN_TEMPLATES.find((t) => t.name === name)!;
// Short waits: the retries are what is tested, not their length.
const FAST = { retry: { unreachableAttempts: 3, unreachableBackoffMs: 5 }, settleTimeoutMs: 5_000 };

function makeSpec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    id: randomUUID(),
    name: 'win-test',
    template: template('windows-server-2022'),
    technology: 'container',
    arch: 'x86_64',
    resources: { vcpus: 2, memoryMiB: 1024, diskGiB: 20 },
    ...overrides,
  };
}

const hosts: FakeDockerHost[] = [];
afterAll(() => hosts.forEach((h) => h.cleanup()));

function setup(fake: FakeDockerHostOptions = {}, opts: Partial<WincontainerDriverOptions> = {}): { host: FakeDockerHost; driver: WincontainerDriver } {
  const host = new FakeDockerHost(fake);
  hosts.push(host);
  // No binary named: the driver finds `docker` on the PATH the fake is put on.
  const driver = new WincontainerDriver({ stateDir: host.dir, hostOs: 'windows', hostArch: 'x86_64', env: host.env, ...FAST, ...opts });
  return { host, driver };
}

// A Windows Server 2022 host with process isolation only; a Windows client (Hyper-V isolation
// only) running a Server 2019 image in a utility VM, where `docker pause` works.
const CONFORMANCE: [string, FakeDockerHostOptions, WindowsIsolation[], string][] = [
  ['process-only host, Server 2022 image', { build: 20348, images: { [LTSC[2022]]: 20348 } }, ['process'], 'windows-server-2022'],
  ['Hyper-V-only host, an older Server 2019 image', { build: 20348, hyperv: true, images: { [LTSC[2019]]: 17763 } }, ['hyperv'], 'windows-server-2019'],
];
for (const [label, fake, isolation, tpl] of CONFORMANCE) {
  describeConformance(`wincontainer (${label}, fake docker on the PATH)`, async () => {
    const { driver } = setup(fake, { isolation });
    return { driver, spec: (o) => makeSpec({ template: template(tpl), ...o }) };
  }, { timeoutMs: 20_000 });
}

describe('WincontainerDriver against the fake: what docker on Windows really does', () => {
  it('creates with the documented flags, the isolation the build rule picks, and labels that find it again', async () => {
    const { host, driver } = setup({ build: 20348, images: { [LTSC[2022]]: 20348 } });
    const spec = makeSpec();
    const made = await driver.create(spec);
    expect(made).toMatchObject({ id: spec.id, state: 'stopped', resources: spec.resources, details: { isolation: 'process' } });
    const create = host.calls().find((c) => c[1] === 'create')!;
    expect(create).toEqual([
      'docker', 'create', '--name', dockerNameOf(spec.id), '--isolation', 'process', '--cpus', '2', '--memory', '1024m',
      '--label', `hyperplane.instance=${spec.id}`, '--label', 'hyperplane.template=windows-server-2022', '--label', 'hyperplane.disk-gib=20',
      '--pull', 'never', LTSC[2022], 'ping', '-t', 'localhost',
    ]);
    expect(await host.container(dockerNameOf(spec.id))).toMatchObject({ isolation: 'process', nanoCpus: 2e9, memory: 1024 * 1024 * 1024, status: 'created' });
  });

  it('runs an older image with Hyper-V isolation on a newer host, and refuses it where the host has none', async () => {
    const both = setup({ build: 26100, hyperv: true, images: { [LTSC[2022]]: 20348 } }, { isolation: ['process', 'hyperv'] });
    const spec = makeSpec();
    expect((await both.driver.create(spec)).details).toMatchObject({ isolation: 'hyperv' });
    await both.driver.start(spec.id);
    expect((await both.driver.stop(spec.id)).state).toBe('stopped');

    const processOnly = setup({ build: 26100, images: { [LTSC[2022]]: 20348 } });
    await expect(processOnly.driver.create(makeSpec())).rejects.toMatchObject({
      code: 'Unavailable',
      hostSpecific: true,
      message: expect.stringMatching(/this host runs build 26100; .*ltsc2022 is build 20348: process isolation needs the same build, and this host offers no Hyper-V isolation/),
    });
    expect(processOnly.host.calls().some((c) => c[1] === 'create')).toBe(false);
  });

  it('gives a strict-isolation request Hyper-V isolation even on a host of the same build, and refuses it without', async () => {
    const both = setup({ build: 20348, hyperv: true }, { isolation: ['process', 'hyperv'] });
    const spec = makeSpec({ isolation: { security: 'strict' } });
    await both.driver.create(spec);
    expect((await both.host.container(dockerNameOf(spec.id)))!.isolation).toBe('hyperv');
    expect((await both.driver.create(makeSpec())).details).toMatchObject({ isolation: 'process' });
    const processOnly = setup({ build: 20348 });
    await expect(processOnly.driver.create(makeSpec({ isolation: { kernel: 'dedicated' } }))).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringMatching(/needs take Hyper-V isolation/) });
  });

  it('classifies the mismatch HCS reports at start as Unavailable (host-specific), with the real message', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await host.update((s) => {
      s.faults.mismatch = [dockerNameOf(spec.id)];
    });
    await expect(driver.start(spec.id)).rejects.toMatchObject({
      code: 'Unavailable',
      details: { exitCode: 1 },
      message: expect.stringContaining('The container operating system does not match the host operating system.'),
    });
  });

  it('reads the image build, not the template label: a mislabelled local image is not offered and not run', async () => {
    const { driver } = setup({ build: 20348, images: { [LTSC[2022]]: 17763 } });
    const probe = await driver.probe();
    expect(probe).toMatchObject({ installed: false, offers: [], error: expect.stringMatching(/no Windows image runs on this Windows Server 2022 host \(build 20348\)/) });
    await expect(driver.create(makeSpec())).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringMatching(/is build 17763/) });
  });

  it('fails a Hyper-V create as Unavailable (host-specific) where the Hyper-V role is missing', async () => {
    const { driver } = setup({ build: 20348, hyperv: false, images: { [LTSC[2019]]: 17763 } }, { isolation: ['hyperv'] });
    await expect(driver.create(makeSpec({ template: template('windows-server-2019') }))).rejects.toMatchObject({
      code: 'Unavailable',
      message: expect.stringContaining('a required feature is not installed'),
    });
  });

  it('retries an unreachable engine, then gives up as Transient', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await host.update((s) => {
      s.faults.unreachable = 2;
    });
    expect((await driver.create(spec)).state).toBe('stopped');
    await host.update((s) => {
      s.faults.unreachable = 10;
    });
    await expect(driver.inspect(spec.id)).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/engine is unreachable after 3 tries: error during connect/) });
  });

  it('refuses a different spec for an existing id (Conflict), and an image the host lacks (Unavailable)', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await expect(driver.create({ ...spec, resources: { ...spec.resources, vcpus: 4 } })).rejects.toMatchObject({ code: 'Conflict' });
    await expect(driver.create({ ...spec, template: template('windows-server-2019') })).rejects.toMatchObject({ code: 'Conflict' });
    const missing = driver.create(makeSpec({ template: template('windows-server-2025') }));
    await expect(missing).rejects.toMatchObject({ code: 'Unavailable', hostSpecific: true, message: expect.stringMatching(/this host has no image .*ltsc2025/) });
    await expect(missing).rejects.not.toHaveProperty('details.hostSpecific');
    expect(host.calls().filter((c) => c[1] === 'create')).toHaveLength(1);
  });

  it('pulls a missing image when allowed, and never offers one newer than the host', async () => {
    const { host, driver } = setup({ build: 20348, images: {}, registry: { [LTSC[2022]]: 20348, [LTSC[2025]]: 26100 } }, { pull: true });
    const probe = await driver.probe();
    expect(probe.offers[0]!.guests).toEqual([{ os: 'windows', archs: ['x86_64'], distributions: { 'windows-server': ['2022'] } }]);
    const spec = makeSpec();
    await driver.create(spec);
    expect(host.calls().filter((c) => c[1] === 'pull')).toEqual([['docker', 'pull', '--quiet', LTSC[2022]]]);
    expect(Object.keys((await host.state()).images)).toEqual([LTSC[2022]]);
  });

  it('stops with --time, and kills a container that outlives it', async () => {
    const { host, driver } = setup({}, { stopGraceMs: 300 });
    const spec = makeSpec();
    await driver.create(spec);
    await driver.start(spec.id);
    await host.update((s) => {
      s.faults.hangStop = [dockerNameOf(spec.id)];
    });
    expect((await driver.stop(spec.id, { timeoutS: 1 })).state).toBe('stopped');
    const tail = host.calls().map((c) => c.slice(1, 4)).filter((c) => c[0] === 'stop' || c[0] === 'kill');
    expect(tail).toEqual([['stop', '--time', '1'], ['kill', dockerNameOf(spec.id)]]);
    await driver.start(spec.id);
    expect((await driver.stop(spec.id, { force: true })).state).toBe('stopped');
    expect(host.calls().at(-2)!.slice(1)).toEqual(['kill', dockerNameOf(spec.id)]);
  });

  it('suspends only where the offer declares it (Hyper-V-only hosts): elsewhere Unsupported, even for a Hyper-V isolated container', async () => {
    const hypervOnly = setup({ build: 20348, hyperv: true, images: { [LTSC[2019]]: 17763 } }, { isolation: ['hyperv'] });
    const paused = makeSpec({ template: template('windows-server-2019') });
    await hypervOnly.driver.create(paused);
    await hypervOnly.driver.start(paused.id);
    expect((await hypervOnly.driver.suspend(paused.id)).state).toBe('suspended');
    expect((await hypervOnly.host.container(dockerNameOf(paused.id)))!.status).toBe('paused');
    expect((await hypervOnly.driver.resume(paused.id)).state).toBe('running');

    // A host with both modes declares no suspend: its process-isolated containers cannot pause.
    const both = setup({ build: 26100, hyperv: true, images: { [LTSC[2022]]: 20348 } }, { isolation: ['process', 'hyperv'] });
    expect((await both.driver.probe()).offers[0]!.capabilities).toEqual([]);
    const spec = makeSpec();
    expect((await both.driver.create(spec)).details).toMatchObject({ isolation: 'hyperv' });
    await both.driver.start(spec.id);
    await expect(both.driver.suspend(spec.id)).rejects.toMatchObject({ code: 'Unsupported', message: expect.stringMatching(/suspend is offered on Hyper-V-only hosts/) });
    await expect(both.driver.resume(spec.id)).rejects.toMatchObject({ code: 'Unsupported' });
    expect(both.host.calls().some((c) => c[1] === 'pause')).toBe(false);

    const processOnly = setup();
    const running = makeSpec();
    await processOnly.driver.create(running);
    await processOnly.driver.start(running.id);
    await expect(processOnly.driver.suspend(running.id)).rejects.toMatchObject({ code: 'Unsupported' });
    await expect(processOnly.driver.resume(running.id)).rejects.toMatchObject({ code: 'Unsupported' });
  });

  it('destroys with rm --force --volumes, and the fake agrees the container is gone', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await driver.start(spec.id);
    await driver.destroy(spec.id);
    expect(host.calls().find((c) => c[1] === 'rm')).toEqual(['docker', 'rm', '--force', '--volumes', dockerNameOf(spec.id)]);
    expect(await host.container(dockerNameOf(spec.id))).toBeUndefined();
    expect(await driver.list()).toEqual([]);
  });

  it('answers a destroy of a missing container with NotFound (rm --force alone would succeed), and spares one it did not make', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await driver.destroy(spec.id);
    await expect(driver.destroy(spec.id)).rejects.toMatchObject({ code: 'NotFound' });
    expect(host.calls().filter((c) => c[1] === 'rm')).toHaveLength(1);

    // A container under the instance's name without its label is someone else's.
    const foreign = makeSpec();
    await runCommand(FAKE_DOCKER, ['create', '--name', dockerNameOf(foreign.id), LTSC[2022]], { env: host.env });
    await expect(driver.destroy(foreign.id)).rejects.toMatchObject({ code: 'Conflict' });
    expect(await host.container(dockerNameOf(foreign.id))).toBeDefined();
  });

  describe('probe', () => {
    it('reads the host build from docker info and offers what its images and isolation modes allow', async () => {
      const { driver } = setup({ build: 26100, hyperv: true, images: { [LTSC[2019]]: 17763, [LTSC[2022]]: 20348, [LTSC[2025]]: 26100 } }, { isolation: ['process', 'hyperv'] });
      const probe = await driver.probe();
      expect(probe).toMatchObject({ installed: true, version: '27.3.1', hostBuild: 26100, isolation: ['process', 'hyperv'] });
      expect(probe.offers).toEqual([
        {
          technology: 'container',
          guests: [{ os: 'windows', archs: ['x86_64'], distributions: { 'windows-server': ['2019', '2022', '2025'] } }],
          capabilities: [],
          overhead: { vcpus: 0, memoryMiB: 128, diskGiB: 0 },
          windowsIsolation: ['process', 'hyperv'],
          hypervOverhead: { vcpus: 0, memoryMiB: 512, diskGiB: 0 },
        },
      ]);
      const processOnly = await setup({ build: 26100, images: { [LTSC[2022]]: 20348, [LTSC[2025]]: 26100 } }).driver.probe();
      expect(processOnly.offers[0]!.guests[0]!.distributions).toEqual({ 'windows-server': ['2025'] });
    });

    it('is unusable on a host that is not Windows, or where docker is missing, saying why', async () => {
      const linux = await setup({}, { hostOs: 'linux' }).driver.probe();
      expect(linux).toMatchObject({ installed: false, error: 'Windows containers run on Windows hosts only, not on linux' });
      const missing = await setup({}, { docker: '/nonexistent/docker' }).driver.probe();
      expect(missing).toMatchObject({ installed: false, error: expect.stringMatching(/not installed/) });
    });

    it('is registered, and runs the docker HYPERPLANE_DOCKER names with the modes HYPERPLANE_DOCKER_ISOLATION lists', async () => {
      expect(REAL_DRIVER_FACTORIES.wincontainer).toBe(createWincontainerDriver);
      const host = new FakeDockerHost({ build: 20348, hyperv: true });
      hosts.push(host);
      const keys = ['HYPERPLANE_DOCKER', 'HYPERPLANE_DOCKER_ISOLATION', 'FAKE_DOCKER_STATE', 'FAKE_DOCKER_BUILD', 'FAKE_DOCKER_IMAGES'] as const;
      const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
      Object.assign(process.env, { HYPERPLANE_DOCKER: FAKE_DOCKER, HYPERPLANE_DOCKER_ISOLATION: 'process, hyperv, bogus', FAKE_DOCKER_STATE: host.dir, FAKE_DOCKER_BUILD: '20348', FAKE_DOCKER_IMAGES: host.env.FAKE_DOCKER_IMAGES });
      try {
        const driver = createWincontainerDriver({ stateDir: host.dir, hostOs: 'windows', hostArch: 'x86_64' });
        expect(await driver.probe()).toMatchObject({ installed: true, isolation: ['process', 'hyperv'] });
      } finally {
        for (const k of keys) {
          if (saved[k] === undefined) delete process.env[k];
          else process.env[k] = saved[k];
        }
      }
    });
  });
});

describe('the fake docker fails loudly on what the real one refuses', () => {
  let host: FakeDockerHost;
  beforeAll(() => {
    host = new FakeDockerHost({ build: 17763, hyperv: true, images: { [LTSC[2022]]: 20348, [LTSC[2019]]: 17763 }, registry: { [LTSC[2025]]: 26100 } });
  });
  afterAll(() => host.cleanup());
  const run = (args: string[]) => runCommand(FAKE_DOCKER, args, { env: host.env, okCodes: Array.from({ length: 256 }, (_, i) => i) });

  it.each([
    [['create', '--bogus', 'x', 'img'], 125, /^unknown flag: --bogus\nSee 'docker create --help'\.$/],
    [['create', '--name'], 125, /^flag needs an argument: --name/],
    [['stop', '-z', 'x'], 125, /^unknown shorthand flag: 'z' in -z/],
    [['stop', '--time', 'soon', 'x'], 125, /invalid argument "soon" for "-t, --time" flag/],
    [['start'], 1, /^"docker start" requires at least 1 argument\./],
    [['frobnicate'], 1, /^docker: 'frobnicate' is not a docker command\./],
    [['-H', 'tcp://x', 'ps'], 125, /^unknown flag: -H/],
    [['container', 'inspect', 'hp-none'], 1, /^Error response from daemon: No such container: hp-none$/],
    [['image', 'inspect', 'nothing:here'], 1, /^Error response from daemon: No such image: nothing:here$/],
    [['create', '--isolation', 'vm', LTSC[2019]], 1, /Invalid isolation: "vm" - windows daemon only supports 'default', 'process', or 'hyperv'/],
    [['create', '--pull', 'never', 'nothing:here'], 1, /No such image: nothing:here/],
    [['pull', LTSC[2025]], 1, /^a Windows version 10\.0\.26100-based image is incompatible with a 10\.0\.17763 host$/],
  ])('docker %j exits %i', async (args, code, message) => {
    const result = await run(args);
    expect([result.code, result.stderr.trim()]).toEqual([code, expect.stringMatching(message)]);
  });

  it('emulates the kernel rules: process isolation needs the host build, Hyper-V runs older images only, only Hyper-V containers pause', async () => {
    await run(['create', '--name', 'newer', '--isolation', 'hyperv', LTSC[2022]]);
    expect((await run(['start', 'newer'])).stderr).toMatch(/a Windows version 10\.0\.20348-based image is incompatible with a 10\.0\.17763 host/);
    await run(['create', '--name', 'same', '--isolation', 'process', LTSC[2019], 'ping', '-t', 'localhost']);
    expect((await run(['start', 'same'])).code).toBe(0);
    expect((await run(['pause', 'same'])).stderr).toMatch(/cannot pause Windows Server Containers/);
    await host.update((s) => {
      s.host.build = 20348;
    });
    await run(['create', '--name', 'older', '--isolation', 'process', LTSC[2019]]);
    const mismatch = await run(['start', 'older']);
    expect([mismatch.code, mismatch.stderr]).toEqual([1, expect.stringMatching(/^Error response from daemon: hcsshim::CreateComputeSystem [0-9a-f]{64}: The container operating system does not match the host operating system\./)]);
    // `create`'s flags end at the image: what follows is the container's command.
    expect((await run(['create', '--name', 'cmd', LTSC[2019], 'ping', '--bogus'])).code).toBe(0);
    expect((await run(['create', '--name', 'cmd', LTSC[2019]])).stderr).toMatch(/Conflict\. The container name "\/cmd" is already in use/);
  });
});
