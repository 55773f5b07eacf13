import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_TEMPLATES, TemplateSpec } from '@hyperplane/domain';
import { describeConformance } from '../../test/conformance';
import { FAKE_POWERSHELL, FakeHvHost } from '../../test/fakes/hyperv/fake-hv-harness';
import { InstanceSpec } from '../driver';
import { REAL_DRIVER_FACTORIES } from '../driver.registry';
import { runCommand } from '../exec/run-command';
import { createHypervDriver, HypervDriver, HypervDriverOptions, hvNameOf } from './hyperv.driver';
import { HYPERV_SCRIPT_DIR, HYPERV_SCRIPTS, POWERSHELL_PREFIX } from './hyperv-shell';

const template = (name: string): TemplateSpec => BUILTIN_TEMPLATES.find((t) => t.name === name)!;
const FAST_RETRY = { unavailableAttempts: 3, unavailableBackoffMs: 5 };

function makeDriver(host: FakeHvHost, extra: Partial<HypervDriverOptions> = {}): HypervDriver {
  const stateDir = join(host.dir, 'driver');
  return new HypervDriver({ stateDir, hostOs: 'windows', hostArch: 'x86_64', templateDir: host.templateDir, env: host.env, retry: FAST_RETRY, settleTimeoutMs: 5_000, ...extra });
}

function makeSpec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  return { id: randomUUID(), name: 'hv-test', template: template('windows-server-2022'), technology: 'vm', arch: 'x86_64', resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 40 }, ...overrides };
}

let conformanceHost: FakeHvHost;
describeConformance(
  'hyperv (fake PowerShell host on the PATH)',
  async () => {
    conformanceHost = new FakeHvHost(undefined, { FAKE_HV_NOISE: '1' });
    // No binary named: the driver finds `powershell` on the PATH the fake is put on.
    return { driver: makeDriver(conformanceHost), spec: (o) => makeSpec(o), cleanup: async () => conformanceHost.cleanup() };
  },
  { timeoutMs: 20_000 },
);

describe('HypervDriver against the fake: what Hyper-V really does', () => {
  jest.setTimeout(30_000);
  const hosts: FakeHvHost[] = [];
  function setup(extra: Partial<HypervDriverOptions> = {}, disks?: string[]) {
    const host = new FakeHvHost(disks);
    hosts.push(host);
    return { host, driver: makeDriver(host, { powershell: FAKE_POWERSHELL, ...extra }) };
  }
  afterAll(() => hosts.forEach((h) => h.cleanup()));
  const vmId = async (driver: HypervDriver, id: string): Promise<string> => (await driver.inspect(id)).details!.vmId as string;

  it('runs every script as powershell -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File <script> with named parameters, addressing the VM by GUID', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await driver.start(spec.id);
    await driver.stop(spec.id, { force: true });
    const guid = await vmId(driver, spec.id);
    const calls = host.calls();
    for (const argv of calls) expect(argv.slice(0, 7)).toEqual([...POWERSHELL_PREFIX, expect.stringMatching(/[\\/]scripts[\\/][a-z-]+\.ps1$/)]);
    const create = calls.find((c) => c[6]!.endsWith('create.ps1'))!;
    expect(create.slice(7)).toEqual(['-Name', hvNameOf(spec.id), '-BaseVhdx', join(host.templateDir, 'windows-server-2022.vhdx'), '-InstanceDir', expect.stringContaining(spec.id), '-ProcessorCount', '2', '-MemoryBytes', String(2048 * 1024 * 1024), '-GuestOs', 'windows']);
    expect(calls.find((c) => c[6]!.endsWith('start.ps1'))!.slice(7)).toEqual(['-VmId', guid]);
    expect(calls.find((c) => c[6]!.endsWith('stop.ps1'))!.slice(7)).toEqual(['-VmId', guid, '-TimeoutSeconds', '60', '-TurnOff']);
    // The instance id reaches PowerShell only inside the VM's name and its folder.
    expect(guid).not.toBe(spec.id);
  });

  it('creates a Generation 2 VM on a differencing disk over the base VHDX, sized with Set-VMProcessor/Set-VMMemory', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    const status = await driver.create(spec);
    expect(status).toMatchObject({ state: 'stopped', resources: { vcpus: 2, memoryMiB: 2048 }, details: { generation: 2, hvState: 'Off' } });
    const vm = Object.values((await host.state()).vms)[0]!;
    expect(JSON.parse(readFileSync(vm.disks[0]!, 'utf8'))).toEqual({ type: 'differencing', parent: join(host.templateDir, 'windows-server-2022.vhdx') });
    expect(host.cmdlets().map((c) => c[0])).toEqual(expect.arrayContaining(['New-VHD', 'New-VM', 'Set-VMProcessor', 'Set-VMMemory']));
    expect(host.cmdlets().some((c) => c[0] === 'Set-VMFirmware')).toBe(false);
    // A Linux guest boots under the UEFI CA's Secure Boot keys.
    await driver.create(makeSpec({ template: template('debian-12') }));
    expect(host.cmdlets().filter((c) => c[0] === 'Set-VMFirmware').map((c) => c.slice(2))).toEqual([['-SecureBootTemplate', 'MicrosoftUEFICertificateAuthority']]);
  });

  it('destroys a saved VM by dropping its saved state first', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await driver.start(spec.id);
    await driver.suspend(spec.id);
    await driver.destroy(spec.id);
    expect(host.cmdlets().slice(-3).map((c) => c[0])).toEqual(['Remove-VMSavedState', 'Get-VMHardDiskDrive', 'Remove-VM']);
  });

  it('shuts the guest down, then turns it off when the shutdown outlasts the timeout', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await driver.start(spec.id);
    const guid = await vmId(driver, spec.id);
    await host.update((s) => (s.vms[guid]!.hangOnShutdown = true));
    const stopped = await driver.stop(spec.id, { timeoutS: 1 });
    expect(stopped).toMatchObject({ state: 'stopped', details: { escalated: true } });
    expect(host.cmdlets().filter((c) => c[0] === 'Stop-VM')).toEqual([['Stop-VM', guid], ['Stop-VM', guid, '-TurnOff']]);
  });

  it('suspends with Save-VM and resumes with Start-VM; a saved VM stops by dropping its saved state', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await driver.start(spec.id);
    expect((await driver.suspend(spec.id)).details).toMatchObject({ hvState: 'Saved' });
    await driver.resume(spec.id);
    await driver.suspend(spec.id);
    expect((await driver.stop(spec.id)).state).toBe('stopped');
    expect(host.cmdlets().map((c) => c[0]!).filter((c) => /Save|Start|Suspend|SavedState/.test(c))).toEqual(['Start-VM', 'Save-VM', 'Start-VM', 'Save-VM', 'Remove-VMSavedState']);
    await expect(driver.suspend(spec.id)).rejects.toMatchObject({ code: 'Conflict' });
  });

  it('resizes only while Off', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await driver.start(spec.id);
    await expect(driver.resize(spec.id, { vcpus: 4, memoryMiB: 4096, diskGiB: 40 })).rejects.toMatchObject({ code: 'Unsupported' });
    await driver.stop(spec.id, { force: true });
    expect((await driver.resize(spec.id, { vcpus: 4, memoryMiB: 4096, diskGiB: 40 })).resources).toEqual({ vcpus: 4, memoryMiB: 4096, diskGiB: 40 });
    const vm = (await host.state()).vms[await vmId(driver, spec.id)]!;
    expect([vm.processorCount, vm.memoryStartupBytes]).toEqual([4, 4096 * 1024 * 1024]);
  });

  it('deletes the VM and its disks, checkpoint disks included (Remove-VM alone keeps them)', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await driver.snapshotCreate(spec.id, 'one');
    const vm = (await host.state()).vms[await vmId(driver, spec.id)]!;
    expect(readdirSync(vm.path).sort()).toEqual(['Virtual Machines', 'disk.vhdx', expect.stringMatching(/^disk_.*\.avhdx$/)]);
    await driver.destroy(spec.id);
    expect(existsSync(vm.path)).toBe(false);
    expect((await host.state()).vms).toEqual({});
    expect(existsSync(join(host.templateDir, 'windows-server-2022.vhdx'))).toBe(true);
  });

  it('the fake leaves the disks behind when delete.ps1 does not remove them', async () => {
    const { host, driver: original } = setup();
    const scripts = mkdtempSync(join(tmpdir(), 'hp-hv-scripts-'));
    cpSync(HYPERV_SCRIPT_DIR, scripts, { recursive: true });
    const file = join(scripts, 'delete.ps1');
    writeFileSync(file, readFileSync(file, 'utf8').split('\n').filter((l) => !l.includes('Remove-Item')).join('\n'));
    const spec = makeSpec();
    await original.create(spec);
    const vm = (await host.state()).vms[await vmId(original, spec.id)]!;
    const naive = makeDriver(host, { powershell: FAKE_POWERSHELL, scriptDir: scripts });
    await naive.destroy(spec.id);
    expect((await host.state()).vms).toEqual({});
    expect(existsSync(vm.disks[0]!)).toBe(true);
    rmSync(scripts, { recursive: true, force: true });
  });

  it('waits out a transitional state (Stopping) before acting, reading the state by name', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    const guid = await vmId(driver, spec.id);
    await host.update((s) => (s.vms[guid]!.passing = ['Stopping', 'Stopping']));
    expect((await driver.start(spec.id)).state).toBe('running');
    const runs = host.calls().map((c) => c[6]!.replace(/^.*[\\/]/, ''));
    expect(runs.slice(-4)).toEqual(['get.ps1', 'get.ps1', 'get.ps1', 'start.ps1']);
  });

  it('refuses parameter values PowerShell would read as another parameter or a closing quote', () => {
    const { driver } = setup();
    expect(() => driver.shell.argv('get', { VmId: '-Force' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => driver.shell.argv('probe', { TemplateDir: 'C:\\x" -Evil "' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(driver.shell.argv('stop', { VmId: 'a', TimeoutSeconds: 5, TurnOff: false })).toEqual([...POWERSHELL_PREFIX, join(HYPERV_SCRIPT_DIR, 'stop.ps1'), '-VmId', 'a', '-TimeoutSeconds', '5']);
  });

  it('retries while VMMS is unreachable, and ends Transient when it stays so', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await host.update((s) => (s.faults.vmmsDown = 2));
    expect((await driver.inspect(spec.id)).state).toBe('stopped');
    await host.update((s) => (s.faults.vmmsDown = 50));
    await expect(driver.start(spec.id)).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/Virtual Machine Management service/) });
  });

  it('reports a VM in a state the cmdlet refuses as Conflict', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    await host.update((s) => (s.faults.invalidState = { 'start.ps1': 1 }));
    await expect(driver.start(spec.id)).rejects.toMatchObject({ code: 'Conflict', details: { fqid: 'InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVM' } });
    expect((await driver.start(spec.id)).state).toBe('running');
  });

  it('a create on a host without the base disk is host-specific; a different spec for an existing id is a Conflict', async () => {
    const { driver } = setup({}, ['windows-server-2022']);
    await expect(driver.create(makeSpec({ template: template('debian-12') }))).rejects.toMatchObject({ code: 'Unavailable' });
    const spec = makeSpec();
    await driver.create(spec);
    await expect(driver.create({ ...spec, resources: { vcpus: 1, memoryMiB: 2048, diskGiB: 40 } })).rejects.toMatchObject({ code: 'Conflict' });
    await expect(driver.create(makeSpec({ technology: 'container' }))).rejects.toMatchObject({ code: 'Unsupported' });
  });

  it('finds a VM again by its name when its record is lost', async () => {
    const { host, driver } = setup();
    const spec = makeSpec();
    await driver.create(spec);
    const again = makeDriver(host, { powershell: FAKE_POWERSHELL, stateDir: mkdtempSync(join(host.dir, 'lost-')) });
    expect((await again.inspect(spec.id)).id).toBe(spec.id);
    expect((await again.list()).map((s) => s.id)).toEqual([spec.id]);
  });

  describe('probe', () => {
    it('offers VMs of exactly the base disks present', async () => {
      const probe = await setup({}, ['windows-server-2022', 'ubuntu-24.04', 'not a template']).driver.probe();
      expect(probe).toMatchObject({ installed: true, build: 20348, version: expect.stringMatching(/^Hyper-V 10\.0\.20348\.1 on Windows 10\.0\.20348/) });
      expect(probe.offers).toEqual([
        {
          technology: 'vm',
          guests: [
            { os: 'linux', archs: ['x86_64'], distributions: { ubuntu: ['24.04'] } },
            { os: 'windows', archs: ['x86_64'], distributions: { 'windows-server': ['2022'] } },
          ],
          capabilities: ['suspend', 'snapshot'],
          overhead: expect.objectContaining({ memoryMiB: expect.any(Number) }),
        },
      ]);
    });

    it.each([
      ['moduleAvailable', /Hyper-V PowerShell module is not installed/],
      ['hypervisorPresent', /enable virtualization/],
      ['vmmsRunning', /vmms\) is not running/],
    ] as const)('is unusable without %s, saying why', async (fact, why) => {
      const { host, driver } = setup();
      await host.update((s) => (s.host[fact] = false));
      expect(await driver.probe()).toMatchObject({ installed: false, offers: [], error: expect.stringMatching(why) });
    });

    it('is unusable without base disks, on a host that is not Windows, and where PowerShell is missing', async () => {
      expect(await setup({}, []).driver.probe()).toMatchObject({ installed: false, error: expect.stringMatching(/no base disks/) });
      expect(await setup({ hostOs: 'linux' }).driver.probe()).toMatchObject({ installed: false, error: expect.stringMatching(/Windows hosts only/) });
      expect(await setup({ powershell: '/nonexistent/powershell' }).driver.probe()).toMatchObject({ installed: false, error: expect.stringMatching(/not installed/) });
    });

    it('is registered, and runs the PowerShell HYPERPLANE_POWERSHELL names', async () => {
      expect(REAL_DRIVER_FACTORIES.hyperv).toBe(createHypervDriver);
      const host = new FakeHvHost();
      hosts.push(host);
      const saved = { ps: process.env.HYPERPLANE_POWERSHELL, state: process.env.FAKE_HV_STATE };
      process.env.HYPERPLANE_POWERSHELL = FAKE_POWERSHELL;
      process.env.FAKE_HV_STATE = host.env.FAKE_HV_STATE;
      try {
        const driver = createHypervDriver({ stateDir: host.dir, hostOs: 'windows', hostArch: 'x86_64' });
        // Its default template directory is <stateDir>/templates: the host's.
        expect(await driver.probe()).toMatchObject({ installed: true });
        expect(host.calls()).toHaveLength(1);
      } finally {
        for (const [key, value] of [['HYPERPLANE_POWERSHELL', saved.ps], ['FAKE_HV_STATE', saved.state]] as const) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
    });
  });
});

describe('the fake PowerShell host fails loudly on what powershell.exe and the scripts refuse', () => {
  let host: FakeHvHost;
  beforeAll(() => {
    host = new FakeHvHost();
  });
  afterAll(() => host.cleanup());
  const script = (name: string) => join(HYPERV_SCRIPT_DIR, name);
  const run = (args: string[]) => runCommand(FAKE_POWERSHELL, args, { env: host.env, okCodes: Array.from({ length: 256 }, (_, i) => i) });
  const guid = '6f1c2b1e-8a4d-4d8e-9d1a-0c1e2f3a4b5c';

  it.each([
    [['-NoProfile', '-NoLogo', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', script('get.ps1')], 64, /'-NoProfile' is not -NoLogo at position 1/],
    [['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', 'Get-VM'], 64, /'-Command' is not -File/],
    [[...POWERSHELL_PREFIX, script('nope.ps1')], 64, /to the -File parameter does not exist/],
    [[...POWERSHELL_PREFIX, script('get.ps1'), '-VmId', guid, '-Bogus', 'x'], 1, /A parameter cannot be found that matches parameter name 'Bogus'/],
    [[...POWERSHELL_PREFIX, script('get.ps1')], 1, /missing mandatory parameters: VmId\./],
    [[...POWERSHELL_PREFIX, script('get.ps1'), '-VmId', 'x; Remove-VM *'], 1, /Cannot convert value "x; Remove-VM \*" to type "System.Guid"/],
    [[...POWERSHELL_PREFIX, script('get.ps1'), '-VmId'], 1, /Missing an argument for parameter 'VmId'/],
    [[...POWERSHELL_PREFIX, script('get.ps1'), guid], 1, /positional parameter cannot be found/],
    [[...POWERSHELL_PREFIX, script('stop.ps1'), '-VmId', guid, '-TimeoutSeconds', 'soon'], 1, /Cannot convert value "soon" to type "System.Int32"/],
    [[...POWERSHELL_PREFIX, script('get.ps1'), '-VmId', guid, '-VmId', guid], 1, /specified more than once/],
  ])('powershell %j exits %i', async (args, code, message) => {
    const result = await run(args);
    expect([result.code, result.stderr]).toEqual([code, expect.stringMatching(message)]);
  });

  it('binds against each script\'s own param() block, so the fake and the scripts cannot drift', async () => {
    expect((await run([...POWERSHELL_PREFIX, script('stop.ps1'), '-TurnOff'])).stderr).toMatch(/missing mandatory parameters: VmId TimeoutSeconds\./);
    const dir = mkdtempSync(join(tmpdir(), 'hp-hv-drift-'));
    try {
      cpSync(HYPERV_SCRIPT_DIR, dir, { recursive: true });
      const get = join(dir, 'get.ps1');
      writeFileSync(get, readFileSync(get, 'utf8').replace(/\$VmId\b/g, '$VirtualMachineId'));
      expect((await run([...POWERSHELL_PREFIX, get, '-VmId', guid])).stderr).toMatch(/matches parameter name 'VmId'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(readdirSync(HYPERV_SCRIPT_DIR).filter((f) => f !== 'hyperv-common.ps1').sort()).toEqual(HYPERV_SCRIPTS.map((s) => `${s}.ps1`).sort());
  });

  it('refuses a script with PowerShell 7 syntax or a cmdlet that is not module-qualified', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hp-hv-lint-'));
    cpSync(HYPERV_SCRIPT_DIR, dir, { recursive: true });
    const get = join(dir, 'get.ps1');
    const original = readFileSync(get, 'utf8');
    try {
      writeFileSync(get, original.replace('Write-HpResult (ConvertTo-HpVm (Get-HpVm $VmId))', '$x = $null ?? 1; Write-HpResult $x'));
      expect((await run([...POWERSHELL_PREFIX, get, '-VmId', guid])).stderr).toMatch(/ParserError: Unexpected token '\?'/);
      writeFileSync(get, original.replace('Write-HpResult (ConvertTo-HpVm (Get-HpVm $VmId))', 'Write-HpResult (Get-VM)'));
      expect((await run([...POWERSHELL_PREFIX, get, '-VmId', guid])).stderr).toMatch(/calls Get-VM without its module/);
      writeFileSync(get, original.replace('# One VM by GUID.', '# One VM by GUID — its state.'));
      expect((await run([...POWERSHELL_PREFIX, get, '-VmId', guid])).stderr).toMatch(/non-ASCII text without a UTF-8 BOM/);
      writeFileSync(join(dir, 'hyperv-common.ps1'), readFileSync(join(dir, 'hyperv-common.ps1'), 'utf8').replace("$ErrorActionPreference = 'Stop'", ''));
      writeFileSync(get, original);
      expect((await run([...POWERSHELL_PREFIX, get, '-VmId', guid])).stderr).toMatch(/does not set \$ErrorActionPreference = 'Stop'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
