import { agentResultsQueueName, hostQueueName, JobName, JobQueue } from '@hyperplane/queue';
import { followEvents, startStack, Stack, waitFor } from '@hyperplane/testing';

// Every template with each technology it offers, on simulated Linux, Windows and macOS hosts.
// A container lands on a host of its OS family; a Linux or Windows VM on any host whose VM
// driver runs that guest (a macOS host runs Linux VMs too); a macOS VM only on macOS.
const CASES: { template: string; technology: 'container' | 'vm'; os: string }[] = [
  { template: 'debian-12', technology: 'container', os: 'linux' },
  { template: 'debian-12', technology: 'vm', os: 'any' },
  { template: 'ubuntu-24.04', technology: 'container', os: 'linux' },
  { template: 'ubuntu-24.04', technology: 'vm', os: 'any' },
  { template: 'alpine-3.20', technology: 'container', os: 'linux' },
  { template: 'alpine-3.20', technology: 'vm', os: 'any' },
  { template: 'windows-server-2022', technology: 'container', os: 'windows' },
  { template: 'windows-server-2022', technology: 'vm', os: 'any' },
  { template: 'macos-15', technology: 'vm', os: 'macos' },
];

describe('instance lifecycle over HTTP on simulated hosts', () => {
  let stack: Stack;
  let hosts: Map<string, any>;

  beforeAll(async () => {
    stack = await startStack();
    hosts = new Map((await stack.client.get('/v1/hosts')).body.items.map((h: any) => [h.id, h]));
  });
  afterAll(() => stack.stop());

  it.each(CASES)('creates a $technology from $template and it reaches running on a $os host', async ({ template, technology, os }) => {
    const name = `${template}-${technology}`.replace(/\./g, '-');
    const { op, instance } = await stack.client.createAndWait({ name, template, technology, resources: { vcpus: 1, memoryMiB: 512, diskGiB: 10 } });
    expect(op).toMatchObject({ status: 'succeeded', progress: 100, error: null });
    expect(op.finishedAt).not.toBeNull();
    expect(instance).toMatchObject({ state: 'running', technology, driver: 'sim' });
    const host = hosts.get(instance.hostId);
    if (os !== 'any') expect(host.os).toBe(os);
    expect(instance.arch).toBe(host.arch);
  });

  it('stops, starts, suspends, resumes, restarts and deletes, each ending in the right state, and streams the transitions', async () => {
    const sse = followEvents(stack.url, stack.client.token);
    await sse.ready;
    const { instance } = await stack.client.createAndWait({ name: 'cycle', template: 'debian-12', technology: 'vm', resources: { vcpus: 2, memoryMiB: 1024, diskGiB: 20 } });
    const id = instance.id;
    const steps: [string, string][] = [
      ['stop', 'stopped'],
      ['start', 'running'],
      ['suspend', 'suspended'],
      ['resume', 'running'],
      ['restart', 'running'],
    ];
    for (const [action, state] of steps) {
      const op = await stack.client.act(id, action);
      expect({ action, status: op.status, kind: op.kind }).toEqual({ action, status: 'succeeded', kind: action });
      expect((await stack.client.get(`/v1/instances/${id}`)).body.state).toBe(state);
    }
    const del = await stack.client.delete(`/v1/instances/${id}`);
    expect(del.status).toBe(202);
    expect((await stack.client.waitOp(del.body.id)).status).toBe('succeeded');
    expect((await stack.client.get(`/v1/instances/${id}`)).status).toBe(404);

    // The host no longer holds anything for it.
    const { rows } = await stack.sql.query('SELECT host_id, claim_memory_mib FROM instances WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ host_id: null, claim_memory_mib: 0 });

    await new Promise((r) => setTimeout(r, 1500));
    sse.stop();
    const states = sse.events.filter((e) => e.event === 'instance.state' && e.data.subjectId === id).map((e) => e.data.state);
    expect(states).toEqual(['pending', 'scheduling', 'provisioning', 'running', 'stopped', 'running', 'suspended', 'running', 'deleting', 'deleted']);
    const opEvents = sse.events.filter((e) => e.event === 'operation.status' && e.data.instanceId === id);
    expect(opEvents.filter((e) => e.data.status === 'succeeded')).toHaveLength(7);
    expect(opEvents.every((e) => e.data.projectId === instance.projectId)).toBe(true);
  });

  it('creates an instance stopped when asked not to start it', async () => {
    const { op, instance } = await stack.client.createAndWait({ name: 'cold', template: 'alpine-3.20', technology: 'container', start: false, resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } });
    expect(op.status).toBe('succeeded');
    expect(instance.state).toBe('stopped');
  });

  it('lists instances with filters and pages through them with a cursor', async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/instances?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page: any = (await stack.client.get(q)).body;
      all.push(...page.items.map((i: any) => i.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(CASES.length + 1);
    const vms = (await stack.client.get('/v1/instances?technology=vm&limit=500')).body.items;
    expect(vms.length).toBeGreaterThan(0);
    expect(vms.every((i: any) => i.technology === 'vm')).toBe(true);
    const stopped = (await stack.client.get('/v1/instances?state=stopped')).body.items;
    expect(stopped.map((i: any) => i.name)).toEqual(['cold']);
  });

  it('deletes an instance whose host answers the destroy with NotFound: nothing left there is a delete done', async () => {
    const linux = [...hosts.values()].find((h: any) => h.os === 'linux');
    const { instance } = await stack.client.createAndWait({ name: 'gone-there', template: 'alpine-3.20', technology: 'container', placement: { hostId: linux.id }, resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
    const queue = new JobQueue({ url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX }, 'test-destroy-missing');
    const hostQueue = queue.queue(hostQueueName(stack.agent!.id, linux.id));
    await hostQueue.pause(); // the host's own agent takes nothing: this answer is the driver's NotFound
    try {
      const r = await stack.client.delete(`/v1/instances/${instance.id}`);
      expect(r.status).toBe(202);
      const sent = await waitFor('the destroy sent to the host', async () => {
        const op = (await stack.client.get(`/v1/operations/${r.body.id}`)).body;
        return op.status === 'running' && op.progress >= 10 ? op : null;
      });
      await queue.enqueue({
        queue: agentResultsQueueName(stack.agent!.id),
        name: JobName.AgentResult,
        jobId: `res-${sent.id}-destroy`,
        data: { operationId: sent.id, instanceId: instance.id, hostId: linux.id, command: 'destroy', ok: false, error: { code: 'NotFound', message: `no simulated instance ${instance.id}` } },
      });
      const op = await stack.client.waitOp(r.body.id);
      expect(op.status).toBe('succeeded');
      expect((await stack.client.get(`/v1/instances/${instance.id}`)).status).toBe(404);
    } finally {
      await hostQueue.resume();
      await queue.close();
    }
  });

  it('applies a result from an agent older than command batches, which names no job', async () => {
    const linux = [...hosts.values()].find((h: any) => h.os === 'linux');
    const queue = new JobQueue({ url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX }, 'test-old-agent');
    const hostQueue = queue.queue(hostQueueName(stack.agent!.id, linux.id));
    await hostQueue.pause(); // the host's own agent takes nothing: the old agent answers instead
    try {
      const r = await stack.client.post('/v1/instances', { name: 'old-agent', template: 'alpine-3.20', technology: 'container', placement: { hostId: linux.id }, resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
      expect(r.status).toBe(202);
      const sent = await waitFor('the create sent to the host', async () => {
        const op = (await stack.client.get(`/v1/operations/${r.body.id}`)).body;
        return op.status === 'running' && op.progress >= 10 ? op : null;
      });
      await queue.enqueue({
        queue: agentResultsQueueName(stack.agent!.id),
        name: JobName.AgentResult,
        jobId: `res-${sent.id}-create`,
        data: { operationId: sent.id, instanceId: r.body.instanceId, hostId: linux.id, command: 'create', ok: true, state: 'running' },
      });
      const op = await stack.client.waitOp(r.body.id);
      expect(op.status).toBe('succeeded');
      expect((await stack.client.get(`/v1/instances/${r.body.instanceId}`)).body.state).toBe('running');
    } finally {
      await hostQueue.resume();
      await queue.close();
    }
  });
});
