import { INestApplication } from '@nestjs/common';
import { createApiApp } from '@hyperplane/api';
import { ApiClient, ADMIN_TOKEN, simHost, startStack, Stack } from '@hyperplane/testing';

const SMALL = { vcpus: 1, memoryMiB: 256, diskGiB: 1 };

async function projectWithQuota(client: ApiClient, name: string, quota: Record<string, unknown>): Promise<void> {
  expect((await client.post('/v1/projects', { name })).status).toBe(201);
  const r = await client.request('PUT', `/v1/projects/${name}/quota`, { body: quota });
  expect(r.status).toBe(200);
}

describe('quotas: exact under concurrency, across two API processes (no controller: instances stay pending)', () => {
  let stack: Stack;
  let second: INestApplication;
  let other: ApiClient;

  beforeAll(async () => {
    stack = await startStack({ noAgent: true, noController: true });
    second = await createApiApp(stack.config);
    await second.listen(0, '127.0.0.1');
    other = new ApiClient(`http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`, ADMIN_TOKEN);
  });
  afterAll(async () => {
    await second.close();
    await stack.stop();
  });

  it('200 concurrent creates against a quota of 50 through two APIs: exactly 50 accepted, the rest 409 naming the quota', async () => {
    await projectWithQuota(stack.client, 'tenant', { instances: 50 });
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? other : stack.client).post('/v1/instances', { name: `q-${i}`, project: 'tenant', template: 'alpine-3.20', technology: 'container', resources: SMALL }),
      ),
    );
    expect(replies.filter((r) => r.status === 202)).toHaveLength(50);
    const refused = replies.filter((r) => r.status !== 202);
    expect(refused).toHaveLength(150);
    for (const r of refused) {
      expect(r.status).toBe(409);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(r.body).toMatchObject({ type: expect.stringMatching(/quota-exceeded$/), project: 'tenant', technology: 'all', resource: 'instances', limit: 50, usage: 50, requested: 1 });
    }
    const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM instances i JOIN projects p ON p.id = i.project_id WHERE p.name = 'tenant'`);
    expect(rows[0].n).toBe(50);
    expect((await stack.client.get('/v1/projects/tenant/usage')).body).toMatchObject({ quota: { instances: 50 }, usage: { instances: 50, vcpus: 50, memoryMiB: 50 * 256, diskGiB: 50 } });
  });

  it('refuses a whole batch that does not fit, and counts an unplaced auto instance against each technology', async () => {
    await projectWithQuota(stack.client, 'mixed', { vcpus: 10, perTechnology: { vm: { instances: 1 } } });
    const spec = { template: 'alpine-3.20', technology: 'container', resources: { ...SMALL, vcpus: 2 } };
    const batch = await stack.client.post('/v1/instances/batch', { count: 6, namePrefix: 'b', spec: { ...spec, project: 'mixed' } });
    expect(batch.status).toBe(409);
    expect(batch.body).toMatchObject({ resource: 'vcpus', limit: 10, usage: 0, requested: 12 });
    expect((await stack.client.post('/v1/instances/batch', { count: 4, namePrefix: 'b', spec: { ...spec, project: 'mixed' } })).status).toBe(202);
    const auto = await stack.client.post('/v1/instances', { name: 'a1', project: 'mixed', template: 'debian-12', technology: 'auto', resources: SMALL });
    expect(auto.status).toBe(202);
    // The auto instance may become a VM: the VM limit (1) is taken until it is placed.
    const vm = await stack.client.post('/v1/instances', { name: 'v1', project: 'mixed', template: 'debian-12', technology: 'vm', resources: SMALL });
    expect(vm.status).toBe(409);
    expect(vm.body).toMatchObject({ technology: 'vm', resource: 'instances', limit: 1, usage: 1, requested: 1 });
    // Not a VM: only the overall vCPU limit applies (8 + 1 of 10 used).
    expect((await stack.client.post('/v1/instances', { name: 'c1', project: 'mixed', template: 'alpine-3.20', technology: 'container', resources: SMALL })).status).toBe(202);
    expect((await stack.client.post('/v1/instances', { name: 'c2', project: 'mixed', template: 'alpine-3.20', technology: 'container', resources: SMALL })).status).toBe(409);
    const view = (await stack.client.get('/v1/projects/mixed/quota')).body;
    expect(view.usage).toMatchObject({ instances: 6, vcpus: 10, perTechnology: { container: { instances: 5, vcpus: 9 }, auto: { instances: 1, vcpus: 1 }, vm: { instances: 0 } } });
  });

  it('only admins set quotas; a tenant cannot read another tenant\'s quota or usage', async () => {
    await projectWithQuota(stack.client, 'alpha', { instances: 5 });
    await projectWithQuota(stack.client, 'beta', { instances: 5 });
    const token = async (project: string, role: string): Promise<ApiClient> => {
      const r = await stack.client.post('/v1/tokens', { name: `${project}-${role}`, role, project });
      expect([r.status, r.body]).toEqual([201, expect.anything()]);
      return stack.client.as(r.body.token);
    };
    const alpha = await token('alpha', 'operator');
    expect((await alpha.get('/v1/projects/alpha/quota')).status).toBe(200);
    expect((await alpha.get('/v1/projects/beta/quota')).status).toBe(404);
    expect((await alpha.get('/v1/projects/beta/usage')).status).toBe(404);
    expect((await alpha.get('/v1/usage?project=beta')).status).toBe(404);
    expect((await alpha.request('PUT', '/v1/projects/beta/quota', { body: { instances: 99 } })).status).toBe(403);
    expect((await alpha.request('PUT', '/v1/projects/alpha/quota', { body: { instances: 99 } })).status).toBe(403);
    expect((await (await token('beta', 'viewer')).get('/v1/projects/beta/usage')).status).toBe(200);
    // Without a project filter a tenant sees only its own projects.
    expect((await stack.client.post('/v1/instances', { name: 'b-1', project: 'beta', template: 'alpine-3.20', technology: 'container', resources: SMALL })).status).toBe(202);
    await stack.sql.query(`INSERT INTO usage_intervals (instance_id, project_id, technology, state, vcpus, memory_mib, disk_gib, started_at, ended_at)
      SELECT id, project_id, 'container', 'running', 1000, 256, 1, now() - interval '2 hours', now() - interval '1 hour' FROM instances WHERE project_id = (SELECT id FROM projects WHERE name = 'beta')`);
    const mine = await alpha.get('/v1/usage?from=2000-01-01T00:00:00Z');
    expect(mine.status).toBe(200);
    expect(mine.body.projects).toEqual([]);
    expect((await stack.client.get('/v1/usage?from=2000-01-01T00:00:00Z')).body.projects.map((p: any) => p.project)).toEqual(['beta']);
    expect((await (await token('beta', 'viewer')).get('/v1/usage?from=2000-01-01T00:00:00Z')).body.projects[0].totals).toEqual({ instanceHours: 1, vcpuHours: 1, memoryGiBHours: 0.25, diskGiBHours: 1 });
    const bad = await stack.client.request('PUT', '/v1/projects/alpha/quota', { body: { instances: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('instances');
    expect((await stack.client.get('/v1/usage?from=yesterday')).status).toBe(400);
  });
});

describe('quotas through the controller: deletes and shrinks give room back; resizes reserve at once', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('host-1', 'linux', 'x86_64', { capacity: { vcpus: 16, memoryMiB: 16384, diskGiB: 200 } })] });
  });
  afterAll(() => stack.stop());

  it('a delete frees the instance\'s room; a resize over quota is refused at once; a smaller one frees room when done', async () => {
    await projectWithQuota(stack.client, 'p', { instances: 1, vcpus: 2 });
    const spec = { project: 'p', template: 'alpine-3.20', technology: 'container', resources: SMALL };
    const { instance } = await stack.client.createAndWait({ name: 'one', ...spec });
    expect((await stack.client.post('/v1/instances', { name: 'two', ...spec })).status).toBe(409);

    const over = await stack.client.post(`/v1/instances/${instance.id}/resize`, { resources: { ...SMALL, vcpus: 3 } });
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ resource: 'vcpus', limit: 2, usage: 0, requested: 3 });
    const grow = await stack.client.post(`/v1/instances/${instance.id}/resize`, { resources: { ...SMALL, vcpus: 2 } });
    expect(grow.status).toBe(202);
    expect((await stack.client.waitOp(grow.body.id)).status).toBe('succeeded');
    expect((await stack.client.get('/v1/projects/p/usage')).body.usage).toMatchObject({ instances: 1, vcpus: 2 });
    const shrink = await stack.client.post(`/v1/instances/${instance.id}/resize`, { resources: SMALL });
    expect((await stack.client.waitOp(shrink.body.id)).status).toBe('succeeded');
    expect((await stack.client.get('/v1/projects/p/usage')).body.usage).toMatchObject({ instances: 1, vcpus: 1 });

    const del = await stack.client.delete(`/v1/instances/${instance.id}`);
    expect((await stack.client.waitOp(del.body.id)).status).toBe('succeeded');
    expect((await stack.client.get('/v1/projects/p/usage')).body.usage).toMatchObject({ instances: 0, vcpus: 0 });
    const two = await stack.client.post('/v1/instances', { name: 'two', ...spec });
    expect(two.status).toBe(202);
    expect((await stack.client.waitOp(two.body.id)).status).toBe('succeeded');
    // A clone is a new instance: over the quota of one.
    const clone = await stack.client.post(`/v1/instances/${two.body.instanceId}/clone`, { name: 'copy' });
    expect(clone.status).toBe(409);
    expect(clone.body).toMatchObject({ resource: 'instances', limit: 1, usage: 1, requested: 1 });
    // The real life was metered: the deleted instance's running interval is closed.
    const { rows } = await stack.sql.query(`SELECT state, ended_at IS NOT NULL AS closed FROM usage_intervals WHERE instance_id = $1 ORDER BY id`, [instance.id]);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.every((r: any) => r.state === 'running' && r.closed)).toBe(true);
  });

  it('an auto instance, once placed, counts only against its technology', async () => {
    await projectWithQuota(stack.client, 'auto', { perTechnology: { vm: { instances: 1 } } });
    const { op } = await stack.client.createAndWait({ name: 'a', project: 'auto', template: 'alpine-3.20', technology: 'auto', resources: SMALL });
    expect(op.status).toBe('succeeded');
    const view = (await stack.client.get('/v1/projects/auto/usage')).body;
    expect(view.usage.perTechnology).toMatchObject({ container: { instances: 1 }, auto: { instances: 0 }, vm: { instances: 0 } });
    expect((await stack.client.post('/v1/instances', { name: 'v', project: 'auto', template: 'debian-12', technology: 'vm', resources: SMALL })).status).toBe(202);
  });
});
