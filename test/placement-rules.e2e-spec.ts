import { MIXED_FLEET, simHost, startStack, Stack } from '@hyperplane/testing';

// Many hosts of each kind, so a wrong placement would have had plenty of chances.
const FLEET = [
  ...MIXED_FLEET,
  simHost('lin-x86-3', 'linux', 'x86_64', { capacity: { vcpus: 64, memoryMiB: 262144, diskGiB: 4000 } }),
  simHost('win-2022-2', 'windows', 'x86_64', { capacity: { vcpus: 64, memoryMiB: 262144, diskGiB: 4000 } }),
  simHost('mac-2', 'macos', 'arm64', { capacity: { vcpus: 24, memoryMiB: 131072, diskGiB: 2000 } }),
];

describe('placement rules through the API', () => {
  let stack: Stack;
  let hosts: Map<string, any>;

  beforeAll(async () => {
    stack = await startStack({ simHosts: FLEET });
    hosts = new Map((await stack.client.get('/v1/hosts')).body.items.map((h: any) => [h.id, h]));
  });
  afterAll(() => stack.stop());

  async function createMany(prefix: string, body: Record<string, unknown>, n: number): Promise<any[]> {
    const posts = await Promise.all(Array.from({ length: n }, (_, i) => stack.client.post('/v1/instances', { ...body, name: `${prefix}-${i}` })));
    const ops = await Promise.all(posts.map((p) => stack.client.waitOp(p.body.id)));
    expect(ops.map((o) => o.status)).toEqual(Array(n).fill('succeeded'));
    return Promise.all(posts.map(async (p) => (await stack.client.get(`/v1/instances/${p.body.instanceId}`)).body));
  }

  it('puts a Linux container only on a Linux host', async () => {
    const made = await createMany('lc', { template: 'ubuntu-24.04', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } }, 12);
    expect(new Set(made.map((i) => hosts.get(i.hostId).os))).toEqual(new Set(['linux']));
    for (const i of made) expect(i.arch).toBe(hosts.get(i.hostId).arch);
  });

  it('puts a Windows container only on a Windows host of the same build', async () => {
    const made = await createMany('wc', { template: 'windows-server-2022', technology: 'container', resources: { vcpus: 1, memoryMiB: 512, diskGiB: 10 } }, 8);
    for (const i of made) {
      const host = hosts.get(i.hostId);
      expect([host.os, host.kernel]).toEqual(['windows', '10.0.20348']);
    }
  });

  it('puts a macOS guest only on a macOS host, two per Mac at most, and says why a third is refused', async () => {
    const made = await createMany('mv', { template: 'macos-15', technology: 'vm', resources: { vcpus: 2, memoryMiB: 4096, diskGiB: 40 } }, 4);
    expect(new Set(made.map((i) => hosts.get(i.hostId).os))).toEqual(new Set(['macos']));
    // Apple's licence: two macOS guests per Mac; both Macs (mac-1, mac-2) now run two.
    const perHost = made.reduce((m, i) => m.set(i.hostId, (m.get(i.hostId) ?? 0) + 1), new Map<string, number>());
    expect([...perHost.values()]).toEqual([2, 2]);
    const { op, instance } = await stack.client.createAndWait({ name: 'mv-third', template: 'macos-15', technology: 'vm', resources: { vcpus: 2, memoryMiB: 4096, diskGiB: 40 } });
    expect([op.status, instance.state]).toEqual(['failed', 'unschedulable']);
    expect(instance.stateReason).toMatch(/2 are Macs at the macOS licence limit: hosts mac-1 and mac-2 already run 2 macOS guests each, the most macOS allows/);
    // A stopped macOS guest frees its slot, once the controller's fleet snapshot is reloaded
    // (every couple of seconds): ask again until it is, or a deadline passes.
    const stopped = await stack.client.post(`/v1/instances/${made[0].id}/actions/stop`);
    expect((await stack.client.waitOp(stopped.body.id)).status).toBe('succeeded');
    const deadline = Date.now() + 20_000;
    let again: { op: any; instance: any };
    let attempt = 0;
    do {
      again = await stack.client.createAndWait({ name: `mv-after-stop-${attempt++}`, template: 'macos-15', technology: 'vm', resources: { vcpus: 2, memoryMiB: 4096, diskGiB: 40 } });
    } while (again.op.status !== 'succeeded' && Date.now() < deadline);
    expect([again.op.status, again.instance.hostId]).toEqual(['succeeded', made[0].hostId]);
  });

  it('honours an arm64 request only on arm64 hosts', async () => {
    const made = await createMany('arm', { template: 'debian-12', technology: 'container', arch: 'arm64', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } }, 4);
    for (const i of made) expect([hosts.get(i.hostId).os, hosts.get(i.hostId).arch]).toEqual(['linux', 'arm64']);
  });

  it('takes no new instance on a drained host or one in maintenance, and takes them again once activated', async () => {
    const host = [...hosts.values()].find((h) => h.name === 'lin-x86-3');
    const spec = (name: string): Record<string, unknown> => ({ name, template: 'debian-12', technology: 'container', placement: { hostId: host.id }, resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
    const drained = await stack.client.post(`/v1/hosts/${host.id}/actions/drain`, { reason: 'kernel upgrade' });
    expect([drained.status, drained.body.status, drained.body.statusReason]).toEqual([200, 'draining', 'kernel upgrade']);
    // Asking again changes nothing.
    expect((await stack.client.post(`/v1/hosts/${host.id}/actions/drain`)).body).toMatchObject({ status: 'draining', statusReason: 'kernel upgrade' });
    const refused = await stack.client.createAndWait(spec('on-drained'));
    expect([refused.op.status, refused.instance.state]).toEqual(['failed', 'unschedulable']);
    expect(refused.instance.stateReason).toMatch(/; 1 is not ready \(draining\)$/);

    const maintenance = await stack.client.post(`/v1/hosts/${host.id}/actions/maintenance`);
    expect([maintenance.status, maintenance.body.status, maintenance.body.statusReason]).toEqual([200, 'maintenance', 'in maintenance: takes no new instances']);
    expect((await stack.client.createAndWait(spec('in-maintenance'))).instance.stateReason).toMatch(/; 1 is not ready \(maintenance\)$/);

    const active = await stack.client.post(`/v1/hosts/${host.id}/actions/activate`);
    expect([active.status, active.body.status, active.body.statusReason]).toEqual([200, 'ready', null]);
    const placed = await stack.client.createAndWait(spec('after-activate'));
    expect([placed.op.status, placed.instance.state, placed.instance.hostId]).toEqual(['succeeded', 'running', host.id]);
    // The events stream saw each change (after the first heartbeat's enrolling → ready).
    const events = (await stack.sql.query(`SELECT data->>'status' AS status FROM events WHERE type = 'host.status' AND subject_id = $1 ORDER BY id`, [host.id])).rows;
    expect(events.map((e: any) => e.status)).toEqual(['ready', 'draining', 'maintenance', 'ready']);
  });

  it('refuses host actions it cannot do, and callers who may not', async () => {
    const host = [...hosts.values()].find((h) => h.name === 'mac-2');
    const problem = (r: { status: number; body: any }): unknown[] => [r.status, r.body.detail ?? r.body.errors];
    expect((await stack.client.post(`/v1/hosts/${host.id}/actions/reboot`)).status).toBe(404);
    expect((await stack.client.post(`/v1/hosts/00000000-0000-4000-8000-00000000beef/actions/drain`)).status).toBe(404);
    const long = await stack.client.post(`/v1/hosts/${host.id}/actions/drain`, { reason: 'x'.repeat(201) });
    expect(long.status).toBe(400);
    expect(JSON.stringify(long.body)).toContain('reason');
    expect((await stack.client.post(`/v1/hosts/${host.id}/actions/drain`, { reason: 'x', force: true })).status).toBe(400);
    const activeAlready = await stack.client.post(`/v1/hosts/${host.id}/actions/activate`);
    expect([activeAlready.status, activeAlready.body.status]).toEqual([200, 'ready']);
    await stack.sql.query(`UPDATE hosts SET status = 'down' WHERE id = $1`, [host.id]);
    try {
      expect(problem(await stack.client.post(`/v1/hosts/${host.id}/actions/activate`))).toEqual([409, 'host mac-2 is down; it becomes ready by itself when its agent heartbeats again']);
    } finally {
      await stack.sql.query(`UPDATE hosts SET status = 'ready' WHERE id = $1`, [host.id]);
    }
    const operator = await stack.client.post('/v1/tokens', { name: 'operator', role: 'operator' });
    expect((await stack.client.as(operator.body.token).post(`/v1/hosts/${host.id}/actions/drain`)).status).toBe(403);
    expect((await stack.client.get(`/v1/hosts/${host.id}`)).body.status).toBe('ready');
  });

  it('pins to a host when asked, and refuses a pin the host cannot take', async () => {
    const win = [...hosts.values()].find((h) => h.name === 'win-2022-2');
    const ok = await stack.client.createAndWait({ name: 'pinned', template: 'windows-server-2022', technology: 'vm', placement: { hostId: win.id }, resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 } });
    expect(ok.instance.hostId).toBe(win.id);
    const bad = await stack.client.createAndWait({ name: 'pinned-bad', template: 'debian-12', technology: 'container', placement: { hostId: win.id }, resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
    expect(bad.op.status).toBe('failed');
    expect(bad.instance.state).toBe('unschedulable');
  });

  it('ends a request no host can take as unschedulable, with a reason a person can read', async () => {
    const { op, instance } = await stack.client.createAndWait({ name: 'huge', template: 'debian-12', technology: 'vm', resources: { vcpus: 4, memoryMiB: 4 * 1024 * 1024, diskGiB: 10 } });
    expect(op.status).toBe('failed');
    expect(op.error.code).toBe('unschedulable');
    expect(instance.state).toBe('unschedulable');
    expect(instance.hostId).toBeNull();
    expect(instance.stateReason).toMatch(/^0 of 9 hosts fit: /);
    expect(instance.stateReason).toMatch(/lack 4194304 MiB of free memory/);
    expect(instance.placementExplanation.rejections.reduce((n: number, r: any) => n + r.count, 0)).toBe(9);
  });

  it('explains, host by host, why a Windows container fits nowhere', async () => {
    const { instance } = await stack.client.createAndWait({ name: 'too-big-win', template: 'windows-server-2022', technology: 'container', resources: { vcpus: 1, memoryMiB: 500000, diskGiB: 1 } });
    expect(instance.state).toBe('unschedulable');
    // 6 Linux and macOS hosts cannot share a Windows kernel; the 2019 host is the wrong build;
    // the two 2022 hosts are too small.
    expect(instance.stateReason).toMatch(/^0 of 9 hosts fit: /);
    expect(instance.stateReason).toMatch(/6 do not run Windows/);
    expect(instance.stateReason).toMatch(/1 .*build/);
    expect(instance.stateReason).toMatch(/2 lack 500000 MiB of free memory/);
  });

  it('an unschedulable instance holds nothing and can be deleted at once', async () => {
    const { instance } = await stack.client.createAndWait({ name: 'nowhere', template: 'macos-15', technology: 'vm', resources: { vcpus: 200, memoryMiB: 1024, diskGiB: 10 } });
    expect(instance.state).toBe('unschedulable');
    const del = await stack.client.delete(`/v1/instances/${instance.id}`);
    expect((await stack.client.waitOp(del.body.id)).status).toBe('succeeded');
    expect((await stack.client.get(`/v1/instances/${instance.id}`)).status).toBe(404);
  });
});
