import { allocationsMatchClaims as sums, simHost, startStack, Stack } from '@hyperplane/testing';

const FLEET = [
  simHost('host-1', 'linux', 'x86_64', { capacity: { vcpus: 8, memoryMiB: 8192, diskGiB: 100 } }),
  simHost('win-1', 'windows', 'x86_64', { capacity: { vcpus: 8, memoryMiB: 8192, diskGiB: 100 } }),
];

describe('snapshots, clones and resizes through the API (simulated hosts)', () => {
  let stack: Stack;
  let id: string;

  beforeAll(async () => {
    stack = await startStack({ simHosts: FLEET });
    ({ instance: { id } } = await stack.client.createAndWait({ name: 'subject', template: 'debian-12', technology: 'container', resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } }));
  });
  afterAll(() => stack.stop());

  it('takes, lists, restores and deletes a snapshot', async () => {
    const snap = await stack.client.post(`/v1/instances/${id}/snapshots`, { name: 'before' });
    expect(snap.status).toBe(202);
    expect((await stack.client.waitOp(snap.body.id)).status).toBe('succeeded');
    expect((await stack.client.get(`/v1/instances/${id}/snapshots`)).body.items.map((s: any) => s.name)).toEqual(['before']);
    expect((await stack.client.post(`/v1/instances/${id}/snapshots`, { name: 'before' })).status).toBe(409);
    await stack.client.act(id, 'stop');
    const restore = await stack.client.post(`/v1/instances/${id}/snapshots/before/restore`);
    expect((await stack.client.waitOp(restore.body.id)).status).toBe('succeeded');
    // The snapshot was taken running: restoring it brings the instance back running.
    expect((await stack.client.get(`/v1/instances/${id}`)).body.state).toBe('running');
    expect((await stack.client.post(`/v1/instances/${id}/snapshots/nope/restore`)).status).toBe(404);
    const del = await stack.client.delete(`/v1/instances/${id}/snapshots/before`);
    expect((await stack.client.waitOp(del.body.id)).status).toBe('succeeded');
    expect((await stack.client.get(`/v1/instances/${id}/snapshots`)).body.items).toEqual([]);
  });

  it('clones onto the same host, stopped, with its own claim', async () => {
    const r = await stack.client.post(`/v1/instances/${id}/clone`, { name: 'copy' });
    expect(r.status).toBe(202);
    const op = await stack.client.waitOp(r.body.id);
    expect(op.status).toBe('succeeded');
    const copy = (await stack.client.get(`/v1/instances/${op.result.instanceId}`)).body;
    const source = (await stack.client.get(`/v1/instances/${id}`)).body;
    expect(copy).toMatchObject({ name: 'copy', state: 'stopped', hostId: source.hostId, technology: 'container', resources: source.resources });
    expect(await sums(stack)).toBe(true);
    expect((await stack.client.post(`/v1/instances/${id}/clone`, { name: 'copy' })).status).toBe(409);
  });

  it('resizes live where the driver can, moving the host allocation by the difference', async () => {
    const host = async (): Promise<any> => (await stack.client.get('/v1/hosts')).body.items.find((h: any) => h.name === 'host-1');
    const before = await host();
    const r = await stack.client.post(`/v1/instances/${id}/resize`, { resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 10 } });
    expect(r.status).toBe(202);
    expect((await stack.client.waitOp(r.body.id)).status).toBe('succeeded');
    expect((await stack.client.get(`/v1/instances/${id}`)).body.resources).toEqual({ vcpus: 2, memoryMiB: 2048, diskGiB: 10 });
    const after = await host();
    expect([after.allocated.vcpus - before.allocated.vcpus, after.allocated.memoryMiB - before.allocated.memoryMiB]).toEqual([1, 1024]);
    expect(await sums(stack)).toBe(true);
  });

  it('refuses a resize the host has no room for, leaving the allocation as it was', async () => {
    const r = await stack.client.post(`/v1/instances/${id}/resize`, { resources: { vcpus: 2, memoryMiB: 64000, diskGiB: 10 } });
    const op = await stack.client.waitOp(r.body.id);
    expect([op.status, op.error.code]).toEqual(['failed', 'no-capacity']);
    expect((await stack.client.get(`/v1/instances/${id}`)).body.resources.memoryMiB).toBe(2048);
    expect(await sums(stack)).toBe(true);
  });

  it('refuses what the driver cannot do: suspending a Windows container, before anything is sent', async () => {
    const { instance } = await stack.client.createAndWait({ name: 'wc', template: 'windows-server-2022', technology: 'container', resources: { vcpus: 1, memoryMiB: 512, diskGiB: 5 } });
    const r = await stack.client.post(`/v1/instances/${instance.id}/actions/suspend`);
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/cannot suspend/);
    const resize = await stack.client.post(`/v1/instances/${instance.id}/resize`, { resources: { vcpus: 2, memoryMiB: 512, diskGiB: 5 } });
    expect(resize.status).toBe(409);
    expect(resize.body.detail).toMatch(/cannot resize/);
  });
});
