import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { MIXED_FLEET, startStack, Stack } from '@hyperplane/testing';

// An agent on this Linux machine with the fake prlctl/prlsrvctl (Virtuozzo flavour) on its PATH
// enrolls beside the simulated fleet and offers a Virtuozzo host: containers and VMs through the
// prlctl driver, the whole lifecycle over the API, and the fake's state agrees with the API's.
const FAKE_DIR = join(__dirname, '..', 'libs', 'drivers', 'test', 'fakes', 'prlctl');

interface FakeVm {
  uuid: string;
  name: string;
  type: 'VM' | 'CT';
  state: string;
  cpus: number;
  memsize: number;
  snapshots: { name: string }[];
}

describe('a Virtuozzo host through the API (fake prlctl on the agent PATH)', () => {
  let stack: Stack;
  let fakeState: string;
  let localId: string;
  const saved = { PATH: process.env.PATH, FAKE_PRL_STATE: process.env.FAKE_PRL_STATE, FAKE_PRL_FLAVOUR: process.env.FAKE_PRL_FLAVOUR };

  const fakeVm = (id: string): FakeVm | undefined => {
    const state = JSON.parse(readFileSync(join(fakeState, 'state.json'), 'utf8')) as { vms: Record<string, FakeVm> };
    return Object.values(state.vms).find((v) => v.name === `hp-${id}`);
  };

  async function change(method: 'post' | 'delete', path: string, body?: unknown): Promise<void> {
    const r = method === 'post' ? await stack.client.post(path, body) : await stack.client.delete(path);
    expect(r.status).toBe(202);
    const op = await stack.client.waitOp(r.body.id, 60);
    expect([op.status, op.error]).toEqual(['succeeded', null]);
  }

  beforeAll(async () => {
    fakeState = mkdtempSync(join(tmpdir(), 'hp-fake-vz-'));
    // The agent runs in this process: its drivers see this environment.
    process.env.PATH = `${FAKE_DIR}${delimiter}${process.env.PATH ?? ''}`;
    process.env.FAKE_PRL_STATE = fakeState;
    process.env.FAKE_PRL_FLAVOUR = 'virtuozzo';
    stack = await startStack({ local: true, simHosts: MIXED_FLEET });
    // A template only prlctl may serve, so the simulated hosts (and a real lxc here) never take it.
    await stack.sql.query(
      `INSERT INTO templates (name, description, os_family, distribution, version, archs, technologies, drivers, builtin)
       VALUES ('vz-debian-12', 'Debian 12 on Virtuozzo', 'linux', 'debian', '12', '["x86_64"]', '["container","vm"]', '["prlctl"]', false)`,
    );
    const hosts = (await stack.client.get('/v1/hosts?limit=500')).body.items as any[];
    localId = hosts.find((h) => h.drivers.some((d: any) => d.name === 'prlctl' && d.installed)).id;
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(fakeState, { recursive: true, force: true });
  });

  it('enrolls the agent as a Virtuozzo host offering containers and VMs of its templates', async () => {
    const host = (await stack.client.get(`/v1/hosts/${localId}`)).body;
    const prl = host.drivers.find((d: any) => d.name === 'prlctl');
    expect(prl).toMatchObject({ installed: true, details: { flavour: 'virtuozzo' } });
    expect(prl.offers.map((o: any) => o.technology).sort()).toEqual(['container', 'vm']);
    expect((await stack.client.get('/v1/hosts?limit=500')).body.items.length).toBe(MIXED_FLEET.length + 1);
  });

  it('places an auto request as a Virtuozzo container and runs its whole lifecycle; the fake agrees at each step', async () => {
    const { op, instance } = await stack.client.createAndWait({ name: 'vz-ct', template: 'vz-debian-12', technology: 'auto', resources: { vcpus: 1, memoryMiB: 512, diskGiB: 4 } });
    expect([op.status, instance.state, instance.hostId, instance.technology, instance.driver]).toEqual(['succeeded', 'running', localId, 'container', 'prlctl']);
    expect(fakeVm(instance.id)).toMatchObject({ type: 'CT', state: 'running', cpus: 1, memsize: 512 });

    await change('post', `/v1/instances/${instance.id}/actions/suspend`);
    expect(fakeVm(instance.id)!.state).toBe('suspended');
    await change('post', `/v1/instances/${instance.id}/actions/resume`);
    expect(fakeVm(instance.id)!.state).toBe('running');
    await change('post', `/v1/instances/${instance.id}/snapshots`, { name: 'before' });
    expect(fakeVm(instance.id)!.snapshots.map((s) => s.name)).toEqual(['before']);
    await change('post', `/v1/instances/${instance.id}/actions/stop`);
    expect(fakeVm(instance.id)!.state).toBe('stopped');
    expect((await stack.client.get(`/v1/instances/${instance.id}`)).body.state).toBe('stopped');
    await change('delete', `/v1/instances/${instance.id}`);
    expect(fakeVm(instance.id)).toBeUndefined();
  });

  it('places an explicit VM request as a Virtuozzo VM cloned from the host template', async () => {
    const { op, instance } = await stack.client.createAndWait({ name: 'vz-vm', template: 'vz-debian-12', technology: 'vm', resources: { vcpus: 2, memoryMiB: 1024, diskGiB: 8 } });
    expect([op.status, instance.state, instance.hostId, instance.technology, instance.driver]).toEqual(['succeeded', 'running', localId, 'vm', 'prlctl']);
    expect(fakeVm(instance.id)).toMatchObject({ type: 'VM', state: 'running', cpus: 2, memsize: 1024 });
    await change('post', `/v1/instances/${instance.id}/actions/restart`);
    expect(fakeVm(instance.id)!.state).toBe('running');
    await change('delete', `/v1/instances/${instance.id}`);
    expect(fakeVm(instance.id)).toBeUndefined();
  });
});
