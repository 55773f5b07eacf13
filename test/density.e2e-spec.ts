import { allocationsMatchClaims, simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

// Issue 15 §3: a host holds as many containers as the seed says (~100), with the default policy.
const TWO_CORES = simHost('dense-1', 'linux', 'x86_64', { capacity: { vcpus: 2, memoryMiB: 24_576, diskGiB: 500 } });
const SMALL = { vcpus: 0.25, memoryMiB: 128, diskGiB: 1 };

describe('density: fractional vCPUs on one 2-core host with the default policy', () => {
  let stack: Stack;
  let hostId: string;

  beforeAll(async () => {
    stack = await startStack({ simHosts: [TWO_CORES] });
    hostId = (await stack.waitForHosts(1))[0].id;
  });
  afterAll(() => stack.stop());

  const host = async (): Promise<any> => (await stack.client.get(`/v1/hosts/${hostId}`)).body;
  const batch = async (count: number, namePrefix: string): Promise<any> => {
    const r = await stack.client.post('/v1/instances/batch', { count, namePrefix, spec: { template: 'alpine-3.20', technology: 'container', resources: SMALL } });
    expect(r.status).toBe(202);
    return stack.client.waitOp(r.body.id, 240);
  };

  it('runs 100 containers of 0.25 vCPU, then exactly up to 16:1 (128), and refuses the 129th for vCPUs', async () => {
    expect((await batch(100, 'small')).status).toBe('succeeded');
    let { rows } = await stack.sql.query(`SELECT state, count(*)::int AS n, count(DISTINCT host_id)::int AS hosts FROM instances GROUP BY state`);
    expect(rows).toEqual([{ state: 'running', n: 100, hosts: 1 }]);
    // Claims include the sim driver's per-container overhead (memory only): vCPUs are exact.
    expect((await host()).allocated).toMatchObject({ vcpus: 25, instances: 100 });
    // The API speaks decimal vCPUs; the database holds whole milli-vCPUs.
    const one = (await stack.client.get('/v1/instances?limit=1')).body.items[0];
    expect(one.resources.vcpus).toBe(0.25);
    expect((await stack.sql.query(`SELECT DISTINCT vcpus, claim_vcpus FROM instances`)).rows).toEqual([{ vcpus: 250, claim_vcpus: 250 }]);

    // The 101st … 128th still fit: 2 cores × 16 = 32 vCPUs of container caps.
    expect((await batch(28, 'more')).status).toBe('succeeded');
    expect((await host()).allocated).toMatchObject({ vcpus: 32, instances: 128 });
    expect((await stack.sql.query(`SELECT alloc_vcpus FROM hosts`)).rows).toEqual([{ alloc_vcpus: 32_000 }]);

    // The preview and the create both say no to the 129th, for vCPUs.
    const preview = await stack.client.post('/v1/placements/preview', { template: 'alpine-3.20', technology: 'container', resources: SMALL });
    expect(preview.body.ok).toBe(false);
    expect(preview.body.explanation.rejections).toEqual([expect.objectContaining({ code: 'vcpus', count: 1 })]);
    const { instance } = await stack.client.createAndWait({ name: 'one-too-many', template: 'alpine-3.20', technology: 'container', resources: SMALL });
    expect(instance.state).toBe('unschedulable');
    // Not even the smallest container: the host is at its ratio exactly.
    const tiny = await stack.client.post('/v1/placements/preview', { template: 'alpine-3.20', technology: 'container', resources: { ...SMALL, vcpus: 0.01 } });
    expect(tiny.body.ok).toBe(false);
    ({ rows } = await stack.sql.query(`SELECT state, count(*)::int AS n FROM instances GROUP BY state ORDER BY state`));
    expect(rows).toEqual([
      { state: 'running', n: 128 },
      { state: 'unschedulable', n: 1 },
    ]);
    expect(await allocationsMatchClaims(stack)).toBe(true);

    // Freeing a quarter of a CPU lets exactly one more in: the waiting one (freed capacity
    // wakes the rescheduler), and the host is at its ratio again.
    const victim = (await stack.sql.query(`SELECT id FROM instances WHERE state = 'running' LIMIT 1`)).rows[0];
    const del = await stack.client.delete(`/v1/instances/${victim.id}`);
    expect(del.status).toBe(202);
    await stack.client.waitOp(del.body.id);
    await waitFor('the waiting container to run', async () => (await stack.client.get(`/v1/instances/${instance.id}`)).body.state === 'running', 60_000);
    expect((await host()).allocated).toMatchObject({ vcpus: 32, instances: 128 });
    expect((await stack.client.post('/v1/placements/preview', { template: 'alpine-3.20', technology: 'container', resources: SMALL })).body.ok).toBe(false);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  }, 600_000);

  it('refuses sizes a technology cannot have, naming resources.vcpus', async () => {
    const refuse = async (technology: string, vcpus: unknown, template = 'alpine-3.20'): Promise<any> => {
      const r = await stack.client.post('/v1/instances', { name: `bad-${Math.random().toString(36).slice(2, 8)}`, template, technology, resources: { ...SMALL, vcpus } });
      expect(r.status).toBe(400);
      return r.body;
    };
    expect(JSON.stringify(await refuse('vm', 0.5))).toMatch(/resources\.vcpus.*whole vCPUs/);
    expect(JSON.stringify(await refuse('container', 0.0001))).toContain('resources.vcpus');
    expect(JSON.stringify(await refuse('container', 0.005))).toContain('resources.vcpus');
    expect(JSON.stringify(await refuse('container', '0.5'))).toContain('resources.vcpus');
    // macOS is offered only as a VM: a fractional `auto` request cannot become one.
    expect(JSON.stringify(await refuse('auto', 0.5, 'macos-15'))).toMatch(/resources\.vcpus.*only as a VM/);
  });

  it('accepts CPU units with a fractional size and keeps them', async () => {
    const policy = await stack.client.request('PUT', '/v1/projects/default/policy', { body: { ratios: { container: { vcpus: 64 } } } });
    expect(policy.status).toBe(200);
    try {
      const { instance } = await stack.client.createAndWait({ name: 'weighted', template: 'alpine-3.20', technology: 'container', resources: { ...SMALL, vcpus: 0.5 }, limits: { cpuUnits: 512 } });
      expect([instance.state, instance.stateReason ?? null]).toEqual(['running', null]);
      expect([instance.resources.vcpus, instance.limits]).toEqual([0.5, { cpuUnits: 512 }]);
    } finally {
      expect((await stack.client.request('PUT', '/v1/projects/default/policy', { body: {} })).status).toBe(200);
    }
  });

  it('previews under a changed project policy at once, as the next create decides', async () => {
    const body = { template: 'alpine-3.20', technology: 'container', resources: SMALL };
    // Warm every cache with the default policy: the host is full for containers at 16:1.
    expect((await stack.client.post('/v1/placements/preview', body)).body.ok).toBe(false);
    expect((await stack.client.request('PUT', '/v1/projects/default/policy', { body: { ratios: { container: { vcpus: 32 } } } })).status).toBe(200);
    const after = await stack.client.post('/v1/placements/preview', body);
    expect(after.body).toMatchObject({ ok: true, hostId });
    const { instance } = await stack.client.createAndWait({ ...body, name: 'after-policy' });
    expect([instance.state, instance.hostId]).toEqual(['running', hostId]);
    // And back: the very next preview and create refuse again.
    expect((await stack.client.request('PUT', '/v1/projects/default/policy', { body: {} })).status).toBe(200);
    expect((await stack.client.post('/v1/placements/preview', body)).body.ok).toBe(false);
    expect((await stack.client.createAndWait({ ...body, name: 'after-reset' })).instance.state).toBe('unschedulable');
    expect(await allocationsMatchClaims(stack)).toBe(true);
  }, 120_000);
});
