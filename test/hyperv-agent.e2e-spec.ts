import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { MIXED_FLEET, startStack, Stack } from '@hyperplane/testing';

// An agent on this Linux machine with the fake Windows PowerShell host (Hyper-V) on its PATH,
// reporting itself as a Windows Server 2022 host (a test-only agent option), enrolls beside the
// simulated fleet; a VM request for a Windows template lands on it through the hyperv driver,
// runs its lifecycle over the API, and the fake's state agrees with the API's at each step.
const ROOT = join(__dirname, '..');
const FAKE_DIR = join(ROOT, 'libs', 'drivers', 'test', 'fakes', 'hyperv');

interface FakeVm {
  id: string;
  name: string;
  state: string;
  processorCount: number;
  memoryStartupBytes: number;
  path: string;
  disks: string[];
  checkpoints: { name: string }[];
}

describe('a Hyper-V host through the API (fake PowerShell on the agent PATH)', () => {
  let stack: Stack;
  let dir: string;
  let localId: string;
  const saved = { PATH: process.env.PATH, FAKE_HV_STATE: process.env.FAKE_HV_STATE, HYPERPLANE_HYPERV_TEMPLATE_DIR: process.env.HYPERPLANE_HYPERV_TEMPLATE_DIR };

  const fakeVm = (id: string): FakeVm | undefined => {
    const state = JSON.parse(readFileSync(join(dir, 'fake', 'state.json'), 'utf8')) as { vms: Record<string, FakeVm> };
    return Object.values(state.vms).find((v) => v.name === `hp-${id}`);
  };

  async function change(method: 'post' | 'delete', path: string, body?: unknown): Promise<void> {
    const r = method === 'post' ? await stack.client.post(path, body) : await stack.client.delete(path);
    expect(r.status).toBe(202);
    const op = await stack.client.waitOp(r.body.id, 60);
    expect([op.status, op.error]).toEqual(['succeeded', null]);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-fake-hv-e2e-'));
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'templates', 'windows-server-2022.vhdx'), 'base disk');
    // The agent runs in this process: its drivers see this environment.
    process.env.PATH = `${FAKE_DIR}${delimiter}${process.env.PATH ?? ''}`;
    process.env.FAKE_HV_STATE = join(dir, 'fake');
    process.env.HYPERPLANE_HYPERV_TEMPLATE_DIR = join(dir, 'templates');
    stack = await startStack({
      local: true,
      simHosts: MIXED_FLEET,
      agent: { localHostAs: { os: 'windows', osVersion: 'Windows Server 2022 Datacenter', kernel: '10.0.20348' } },
    });
    // Only hyperv may serve it, so the simulated Windows hosts never take it.
    await stack.sql.query(
      `INSERT INTO templates (name, description, os_family, distribution, version, archs, technologies, drivers, builtin)
       VALUES ('hv-windows-server-2022', 'Windows Server 2022 on Hyper-V', 'windows', 'windows-server', '2022', '["x86_64"]', '["vm"]', '["hyperv"]', false)`,
    );
    const hosts = (await stack.client.get('/v1/hosts?limit=500')).body.items as any[];
    localId = hosts.find((h) => h.drivers.some((d: any) => d.name === 'hyperv' && d.installed)).id;
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('enrolls the agent as a Windows host whose hyperv driver offers VMs of its base disks', async () => {
    const host = (await stack.client.get(`/v1/hosts/${localId}`)).body;
    expect(host.os).toBe('windows');
    const hv = host.drivers.find((d: any) => d.name === 'hyperv');
    expect(hv).toMatchObject({ installed: true, details: { build: 20348 } });
    expect(hv.offers).toEqual([expect.objectContaining({ technology: 'vm', guests: [{ os: 'windows', archs: ['x86_64'], distributions: { 'windows-server': ['2022'] } }] })]);
    expect((await stack.client.get('/v1/hosts?limit=500')).body.items.length).toBe(MIXED_FLEET.length + 1);
  });

  it('places a Windows VM request on it and runs the whole lifecycle; the fake agrees at each step', async () => {
    const { op, instance } = await stack.client.createAndWait({ name: 'hv-vm', template: 'hv-windows-server-2022', technology: 'vm', resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 40 } });
    expect([op.status, instance.state, instance.hostId, instance.technology, instance.driver]).toEqual(['succeeded', 'running', localId, 'vm', 'hyperv']);
    expect(fakeVm(instance.id)).toMatchObject({ state: 'Running', processorCount: 2, memoryStartupBytes: 2048 * 1024 * 1024 });
    const folder = fakeVm(instance.id)!.path;

    await change('post', `/v1/instances/${instance.id}/actions/suspend`);
    expect(fakeVm(instance.id)!.state).toBe('Saved');
    await change('post', `/v1/instances/${instance.id}/actions/resume`);
    expect(fakeVm(instance.id)!.state).toBe('Running');
    await change('post', `/v1/instances/${instance.id}/snapshots`, { name: 'before' });
    expect(fakeVm(instance.id)!.checkpoints.map((c) => c.name)).toEqual(['before']);
    await change('post', `/v1/instances/${instance.id}/actions/restart`);
    expect(fakeVm(instance.id)!.state).toBe('Running');
    await change('post', `/v1/instances/${instance.id}/actions/stop`);
    expect(fakeVm(instance.id)!.state).toBe('Off');
    expect((await stack.client.get(`/v1/instances/${instance.id}`)).body.state).toBe('stopped');
    await change('post', `/v1/instances/${instance.id}/resize`, { resources: { vcpus: 4, memoryMiB: 4096, diskGiB: 40 } });
    expect(fakeVm(instance.id)).toMatchObject({ processorCount: 4, memoryStartupBytes: 4096 * 1024 * 1024 });
    await change('delete', `/v1/instances/${instance.id}`);
    expect(fakeVm(instance.id)).toBeUndefined();
    // Its disks and folder went with it; the base disk stays.
    expect(existsSync(folder)).toBe(false);
    expect(existsSync(join(dir, 'templates', 'windows-server-2022.vhdx'))).toBe(true);
  });
});

describe('the built agent ships the Hyper-V scripts (npm test builds first)', () => {
  it('finds every script under dist and runs them through the fake', async () => {
    const built = join(ROOT, 'dist', 'libs', 'drivers', 'src', 'hyperv', 'hyperv.driver.js');
    expect(existsSync(built)).toBe(true);
    const shellModule = (await import(join(ROOT, 'dist', 'libs', 'drivers', 'src', 'hyperv', 'hyperv-shell.js'))) as typeof import('@hyperplane/drivers');
    for (const script of shellModule.HYPERV_SCRIPTS) expect(existsSync(join(shellModule.HYPERV_SCRIPT_DIR, `${script}.ps1`))).toBe(true);
    expect(shellModule.HYPERV_SCRIPT_DIR).toBe(join(ROOT, 'dist', 'libs', 'drivers', 'src', 'hyperv', 'scripts'));
    const { HypervDriver } = (await import(built)) as typeof import('@hyperplane/drivers');
    const dir = mkdtempSync(join(tmpdir(), 'hp-hv-dist-'));
    try {
      writeFileSync(join(dir, 'windows-server-2022.vhdx'), 'base disk');
      const driver = new HypervDriver({ stateDir: dir, hostOs: 'windows', hostArch: 'x86_64', templateDir: dir, powershell: join(FAKE_DIR, 'powershell'), env: { ...process.env, FAKE_HV_STATE: join(dir, 'fake') } });
      expect(await driver.probe()).toMatchObject({ installed: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
