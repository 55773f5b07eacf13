import { hostQueueName, JobQueue } from '@hyperplane/queue';
import { ApiClient, simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

// GET /v1/instances/{id}/console: the API puts a console-read job on the host's queue and the
// agent (with its own Redis user) answers in the job's return value; the API never calls a host.
describe('console log of an instance', () => {
  let stack: Stack;
  let admin: ApiClient;
  let vm: { id: string; hostId: string };
  let container: { id: string };

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('con-lin-1', 'linux', 'x86_64')] });
    admin = stack.client;
    const resources = { vcpus: 2, memoryMiB: 1024, diskGiB: 10 };
    const v = await admin.createAndWait({ name: 'con-vm', template: 'ubuntu-24.04', technology: 'vm', resources }, 60);
    expect(v.op.status).toBe('succeeded');
    vm = v.instance;
    const c = await admin.createAndWait({ name: 'con-ct', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } }, 60);
    expect(c.op.status).toBe('succeeded');
    container = c.instance;
  });
  afterAll(() => stack?.stop());

  it("answers the last lines of a VM's console, as its host's agent read them", async () => {
    const r = await admin.get(`/v1/instances/${vm.id}/console`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ instanceId: vm.id, hostId: vm.hostId, driver: 'sim' });
    expect(r.body.lines.length).toBeGreaterThan(5);
    expect(r.body.lines.join('\n')).toContain('con-vm login:');
    const three = await admin.get(`/v1/instances/${vm.id}/console?lines=3`);
    expect(three.status).toBe(200);
    expect(three.body.lines).toEqual(r.body.lines.slice(-3));
  });

  it('lets a viewer read it, and hides it from a token of another project', async () => {
    const viewer = (await admin.post('/v1/tokens', { name: 'console viewer', role: 'viewer' })).body.token as string;
    expect((await admin.as(viewer).get(`/v1/instances/${vm.id}/console?lines=2`)).status).toBe(200);
    expect((await admin.post('/v1/projects', { name: 'elsewhere' })).status).toBe(201);
    const other = (await admin.post('/v1/tokens', { name: 'elsewhere op', role: 'operator', project: 'elsewhere' })).body.token as string;
    expect((await admin.as(other).get(`/v1/instances/${vm.id}/console`)).status).toBe(404);
  });

  it('refuses what it cannot answer: a driver without a console, an unknown instance, a bad line count', async () => {
    const ct = await admin.get(`/v1/instances/${container.id}/console`);
    expect(ct.status).toBe(409);
    expect(ct.headers.get('content-type')).toMatch(/problem\+json/);
    expect(ct.body.detail).toMatch(/does not offer a console/);
    expect(ct.body.capability).toBe('console');
    expect((await admin.get('/v1/instances/00000000-0000-4000-8000-000000000000/console')).status).toBe(404);
    for (const bad of ['0', '100000', 'ten']) {
      const r = await admin.get(`/v1/instances/${vm.id}/console?lines=${bad}`);
      expect(r.status).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain('lines');
    }
  });

  it('answers 504 when the host does not answer, and leaves no read behind in its queue', async () => {
    const { rows } = await stack.sql.query('SELECT agent_id FROM hosts WHERE id = $1', [vm.hostId]);
    const queueName = hostQueueName(rows[0].agent_id as string, vm.hostId);
    await stack.agent!.stop();
    const r = await admin.get(`/v1/instances/${vm.id}/console`);
    expect(r.status).toBe(504);
    expect(r.body.detail).toMatch(/did not answer|is down/);
    const queue = new JobQueue({ url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX }, 'console-test');
    try {
      const counts = await queue.countJobs([queueName]);
      expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0 });
      // Once the host is marked down, the API says so without waiting for it.
      await waitFor('the host marked down', async () => (await admin.get(`/v1/hosts/${vm.hostId}`)).body.status === 'down', 30_000);
      const down = await admin.get(`/v1/instances/${vm.id}/console`);
      expect(down.status).toBe(504);
      expect(down.body.detail).toMatch(/is down/);
    } finally {
      await queue.close();
    }
  });
});
