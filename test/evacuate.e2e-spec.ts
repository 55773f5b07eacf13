import { allocationsMatchClaims, simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

// Evacuation (issue 14 §3): POST /v1/hosts/{id}/actions/evacuate drains the host and moves
// every instance off it — one `evacuate` parent, one `migrate` child per instance — respecting
// anti-affinity groups and capacity. 200 simulated instances of mixed technologies.

jest.setTimeout(600_000);

const BIG = { capacity: { vcpus: 512, memoryMiB: 524288, diskGiB: 10000 } };
const FLEET = [simHost('src', 'linux', 'x86_64', BIG), simHost('dst-1', 'linux', 'x86_64', BIG), simHost('dst-2', 'linux', 'x86_64', BIG), simHost('dst-3', 'linux', 'x86_64', BIG), simHost('win-src', 'windows', 'x86_64'), simHost('win-dst', 'windows', 'x86_64')];
const VM = { template: 'debian-12', technology: 'vm', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 2 } };
const CONTAINER = { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } };

describe('evacuating a host', () => {
  let stack: Stack;
  const hostIdOf = new Map<string, string>();

  beforeAll(async () => {
    stack = await startStack({ simHosts: FLEET });
    for (const h of (await stack.client.get('/v1/hosts?limit=100')).body.items) hostIdOf.set(h.name, h.id);
  });
  afterAll(() => stack?.stop());

  it('moves 200 instances (VMs live, containers offline) off the host, the group kept apart, claims right', async () => {
    const src = hostIdOf.get('src')!;
    expect((await stack.client.post('/v1/placement-groups', { name: 'apart', policy: 'anti-affinity', strict: true })).status).toBe(201);
    await stack.client.createAndWait({ ...CONTAINER, name: 'apart-1', placement: { group: 'apart', hostId: hostIdOf.get('dst-1') } });
    await stack.client.createAndWait({ ...CONTAINER, name: 'apart-2', placement: { group: 'apart', hostId: hostIdOf.get('dst-2') } });
    const member = (await stack.client.createAndWait({ ...CONTAINER, name: 'apart-3', placement: { group: 'apart', hostId: src } })).instance;
    for (const [prefix, spec, count] of [['vm', VM, 100], ['ct', CONTAINER, 99]] as const) {
      const b = await stack.client.post('/v1/instances/batch', { count, namePrefix: prefix, spec: { ...spec, placement: { hostId: src } } });
      expect(b.status).toBe(202);
      expect((await stack.client.waitOp(b.body.id, 300)).status).toBe('succeeded');
    }
    const before = (await stack.client.get(`/v1/instances?limit=500`)).body.items.filter((i: any) => i.hostId === src);
    expect(before).toHaveLength(200);

    expect((await stack.client.post('/v1/hosts/00000000-0000-4000-8000-000000000000/actions/evacuate')).status).toBe(404);
    const r = await stack.client.post(`/v1/hosts/${src}/actions/evacuate`);
    expect(r.status).toBe(202);
    expect(r.body.kind).toBe('evacuate');
    expect((await stack.client.get(`/v1/hosts/${src}`)).body.status).toBe('draining');
    const parent = await stack.client.waitOp(r.body.id, 500);
    expect(parent.status).toBe('succeeded');
    expect(parent.result).toMatchObject({ total: 200, succeeded: 200 });

    const children = await waitFor('the children listed', async () => {
      const c = (await stack.client.get(`/v1/operations?parent=${r.body.id}&limit=500`)).body.items;
      return c.length === 200 ? c : null;
    });
    expect(children.every((c: any) => c.kind === 'migrate' && c.status === 'succeeded')).toBe(true);
    const modes = new Set(children.map((c: any) => c.result.mode));
    expect(modes).toEqual(new Set(['live', 'offline']));

    const after = (await stack.client.get(`/v1/instances?limit=500`)).body.items;
    expect(after.filter((i: any) => i.hostId === src)).toEqual([]);
    // What moved where: each child names the host it left and the one the instance is on now.
    const hostNow = new Map(after.map((i: any) => [i.id, i.hostId]));
    const nameOf = new Map([...hostIdOf].map(([name, id]) => [id, name]));
    expect(children.filter((c: any) => !(c.fromHostId === src && c.fromHostName === 'src' && c.toHostId === hostNow.get(c.instanceId) && c.toHostName === nameOf.get(c.toHostId)))).toEqual([]);
    expect(parent).toMatchObject({ fromHostId: src, fromHostName: 'src', result: { moved: 200, remaining: 0 } });
    expect(after.filter((i: any) => before.some((b: any) => b.id === i.id)).every((i: any) => i.state === 'running')).toBe(true);
    // The group's member could only go where no other member is.
    expect(after.find((i: any) => i.id === member.id).hostId).toBe(hostIdOf.get('dst-3'));
    expect((await stack.client.get(`/v1/hosts/${src}`)).body.allocated).toMatchObject({ vcpus: 0, memoryMiB: 0, diskGiB: 0 });
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('an instance that fits nowhere: its child fails unschedulable with the reason, the others move, the parent ends failed with the counts', async () => {
    const src = hostIdOf.get('win-src')!;
    const size = { vcpus: 1, memoryMiB: 512, diskGiB: 5 };
    const wc = (await stack.client.createAndWait({ template: 'windows-server-2022', technology: 'container', resources: size, name: 'wc-stuck', placement: { hostId: src } })).instance;
    const vm = (await stack.client.createAndWait({ template: 'debian-12', technology: 'vm', resources: size, name: 'win-vm', placement: { hostId: src } })).instance;
    // (VMs of the first evacuation may have landed here too: they move as well.)
    const on = (await stack.client.get('/v1/instances?limit=500')).body.items.filter((i: any) => i.hostId === src).length;
    const r = await stack.client.post(`/v1/hosts/${src}/actions/evacuate`);
    expect(r.status).toBe(202);
    const parent = await stack.client.waitOp(r.body.id, 300);
    expect(parent.status).toBe('failed');
    expect(parent.error.code).toBe('partial');
    expect(parent.result).toMatchObject({ total: on, succeeded: on - 1, failed: 1 });
    const children = (await stack.client.get(`/v1/operations?parent=${r.body.id}&limit=500`)).body.items;
    const stuck = children.find((c: any) => c.instanceId === wc.id);
    expect(stuck.error.code).toBe('unschedulable');
    expect(stuck.error.message).toMatch(/cannot offline-migrate/);
    expect((await stack.client.get(`/v1/instances/${wc.id}`)).body).toMatchObject({ state: 'running', hostId: src });
    expect((await stack.client.get(`/v1/instances/${vm.id}`)).body.hostId).not.toBe(src);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});
