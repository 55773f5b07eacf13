import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import IORedis, { Redis } from 'ioredis';
import { AgentRuntime } from '@hyperplane/agent';
import { ResultApplier } from '@hyperplane/controller';
import { agentRedisUser, agentResultsQueueName, heartbeatKey, hostQueueName, JobName, JobQueue, QueueName } from '@hyperplane/queue';
import { allocationsMatchClaims, Reply, simHost, Stack, startStack, waitFor } from './support';

// Hosts cannot act for each other: each agent has its own Redis user (limited to its own
// queues, its results queue and its heartbeat set), a result is applied only from the host its
// command went to, host names are unique, hosts can be removed and credentials rotated.

jest.setTimeout(120_000);

interface SavedState {
  agentId: string;
  credential: string;
  redis: { username: string; password: string } | null;
  hosts: Record<string, string>;
}

function state(dir: string): SavedState {
  return JSON.parse(readFileSync(join(dir, 'agent-state.json'), 'utf8')) as SavedState;
}

function expectProblem(r: Reply, status: number, detail?: RegExp): void {
  expect([r.status, r.headers.get('content-type')]).toEqual([status, expect.stringContaining('application/problem+json')]);
  if (detail) expect(r.body.detail).toMatch(detail);
}

const NOPERM = /NOPERM/;

describe('agents cannot act for each other', () => {
  let stack: Stack;
  let prefix: string;
  let bDir: string;
  let a: SavedState;
  let b: SavedState;
  let agentB: AgentRuntime;
  const opened: Redis[] = [];

  /** A connection as an agent's own Redis user. */
  function as(s: SavedState | { redis: { username: string; password: string } | null }): Redis {
    const r = new IORedis(stack.redisUrl, { username: s.redis!.username, password: s.redis!.password, maxRetriesPerRequest: 1, lazyConnect: true });
    r.on('error', () => undefined);
    opened.push(r);
    return r;
  }

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('ident-a-1', 'linux', 'x86_64'), simHost('ident-a-2', 'linux', 'x86_64')] });
    prefix = stack.config.HYPERPLANE_REDIS_PREFIX;
    bDir = mkdtempSync(join(tmpdir(), 'hp-agent-b-'));
    agentB = await stack.startAgent({ dataDir: bDir, simHosts: [simHost('ident-b-1', 'linux', 'x86_64')] });
    await stack.waitForHosts(3);
    a = state(stack.dataDir);
    b = state(bDir);
  });

  afterAll(async () => {
    for (const r of opened) r.disconnect();
    await stack?.stop();
    rmSync(bDir, { recursive: true, force: true });
  });

  it('gives each agent its own Redis user, and the agents run their hosts with it', async () => {
    expect(a.redis?.username).toBe(agentRedisUser(prefix, a.agentId));
    expect(b.redis?.username).toBe(agentRedisUser(prefix, b.agentId));
    expect(a.agentId).not.toBe(b.agentId);
    // The agents' connections are logged in as their users (and the hosts are ready: they beat and consume).
    const admin = new IORedis(stack.redisUrl);
    opened.push(admin);
    const clients = String(await admin.client('LIST'));
    expect(clients).toContain(`user=${a.redis!.username}`);
    expect(clients).toContain(`user=${b.redis!.username}`);
    const { instance } = await stack.client.createAndWait({ name: 'on-b', template: 'alpine-3.20', technology: 'container', placement: { hostId: b.hosts['ident-b-1'] }, resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
    expect(instance.state).toBe('running');
  });

  it("refuses an agent's Redis user another host's queue keys, other agents' results and heartbeats, and dangerous commands", async () => {
    const redisA = as(a);
    const bQueue = `${prefix}:${hostQueueName(b.agentId, b.hosts['ident-b-1']!)}`;
    const aQueue = `${prefix}:${hostQueueName(a.agentId, a.hosts['ident-a-1']!)}`;
    // Its own: allowed.
    await redisA.lrange(`${aQueue}:wait`, 0, -1);
    await redisA.zadd(heartbeatKey(prefix, a.agentId), Date.now(), a.hosts['ident-a-1']!);
    // Another host's queue: neither read nor written.
    await expect(redisA.lrange(`${bQueue}:wait`, 0, -1)).rejects.toThrow(NOPERM);
    await expect(redisA.hgetall(`${bQueue}:cmd-x-create`)).rejects.toThrow(NOPERM);
    await expect(redisA.lpush(`${bQueue}:wait`, 'forged')).rejects.toThrow(NOPERM);
    await expect(redisA.del(`${bQueue}:meta`)).rejects.toThrow(NOPERM);
    // Another agent's results and heartbeats, the control queue.
    await expect(redisA.xadd(`${prefix}:${agentResultsQueueName(b.agentId)}:events`, '*', 'event', 'x')).rejects.toThrow(NOPERM);
    await expect(redisA.zadd(heartbeatKey(prefix, b.agentId), 0, b.hosts['ident-b-1']!)).rejects.toThrow(NOPERM);
    await expect(redisA.lrange(`${prefix}:${QueueName.Control}:wait`, 0, -1)).rejects.toThrow(NOPERM);
    // Nor the commands that would reach everything.
    for (const args of [['KEYS', '*'], ['SCAN', '0'], ['FLUSHALL'], ['ACL', 'LIST'], ['CONFIG', 'GET', '*'], ['CLIENT', 'LIST']]) {
      await expect(redisA.call(args[0]!, ...args.slice(1))).rejects.toThrow(NOPERM);
    }
    // Through BullMQ as an agent would: a job on another host's queue or another agent's results queue is refused.
    const conn = as(a);
    const other = new Queue(hostQueueName(b.agentId, b.hosts['ident-b-1']!), { connection: conn, prefix });
    const theirResults = new Queue(agentResultsQueueName(b.agentId), { connection: conn, prefix });
    const control = new Queue(QueueName.Control, { connection: conn, prefix });
    try {
      await expect(other.add(JobName.HostCommand, { forged: true })).rejects.toThrow(NOPERM);
      await expect(theirResults.add(JobName.AgentResult, { forged: true })).rejects.toThrow(NOPERM);
      await expect(control.add(JobName.RunOperation, { operationId: 'x' })).rejects.toThrow(NOPERM);
    } finally {
      await Promise.all([other.close(), theirResults.close(), control.close()]);
    }
  });

  it('refuses a forged result from another host, which changes nothing', async () => {
    const applier = stack.controller!.get(ResultApplier);
    const admin = new JobQueue({ url: stack.redisUrl, prefix }, 'test-admin');
    const bHost = b.hosts['ident-b-1']!;
    const bQueue = admin.queue(hostQueueName(b.agentId, bHost));
    await bQueue.pause(); // the command waits on B's queue: only a forger could answer it
    const forger = new JobQueue({ url: stack.redisUrl, prefix, username: a.redis!.username, password: a.redis!.password }, 'test-forger');
    try {
      const r = await stack.client.post('/v1/instances', { name: 'forged', template: 'alpine-3.20', technology: 'container', placement: { hostId: bHost }, resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
      expect(r.status).toBe(202);
      const sent = await waitFor('the create sent to host b', async () => {
        const op = (await stack.client.get(`/v1/operations/${r.body.id}`)).body;
        return op.status === 'running' && op.progress >= 10 ? op : null;
      });
      const before = applier.rejected;
      const result = { jobId: `cmd-${sent.id}-create`, operationId: sent.id, instanceId: r.body.instanceId, command: 'create' as const };
      // On B's results queue: Redis refuses it.
      await expect(
        forger.enqueue({ queue: agentResultsQueueName(b.agentId), name: JobName.AgentResult, jobId: 'forged-0', data: { ...result, hostId: bHost, ok: true, state: 'running' } }),
      ).rejects.toThrow(NOPERM);
      // On A's own queue naming B's host, or naming A's host for B's command (a success applied
      // in bulk, a failure alone): the controller refuses all three.
      await forger.enqueue({ queue: agentResultsQueueName(a.agentId), name: JobName.AgentResult, jobId: 'forged-1', data: { ...result, hostId: bHost, ok: true, state: 'running' } });
      await forger.enqueue({ queue: agentResultsQueueName(a.agentId), name: JobName.AgentResult, jobId: 'forged-2', data: { ...result, hostId: a.hosts['ident-a-1']!, ok: true, state: 'running' } });
      await forger.enqueue({
        queue: agentResultsQueueName(a.agentId),
        name: JobName.AgentResult,
        jobId: 'forged-3',
        data: { ...result, hostId: a.hosts['ident-a-1']!, ok: false, error: { code: 'Fatal', message: 'forged' } },
      });
      await waitFor('three forged results refused', async () => applier.rejected >= before + 3);
      const op = (await stack.client.get(`/v1/operations/${sent.id}`)).body;
      const instance = (await stack.client.get(`/v1/instances/${r.body.instanceId}`)).body;
      expect([op.status, instance.state, instance.hostId]).toEqual(['running', 'provisioning', bHost]);
      // B's own agent then answers, and that is applied.
      await bQueue.resume();
      expect((await stack.client.waitOp(sent.id)).status).toBe('succeeded');
      expect((await stack.client.get(`/v1/instances/${r.body.instanceId}`)).body.state).toBe('running');
    } finally {
      await bQueue.resume();
      await forger.close();
      await admin.close();
    }
  });

  it('keeps host names unique: a second enrollment with a taken name is a 409 naming the host', async () => {
    const token = await stack.enrollmentToken();
    const inventory = { hostname: 'ident-b-1', os: 'linux', osVersion: 'x', kernel: '6.1', arch: 'x86_64', cpus: 65536, memoryMiB: 1024, diskGiB: 10, drivers: [] };
    const r = await stack.client.request('POST', '/v1/agents/enroll', { token, body: { hosts: [inventory] } });
    expectProblem(r, 409, new RegExp(`host name ident-b-1 is taken by host ${b.hosts['ident-b-1']}`));
    const twice = await stack.client.request('POST', '/v1/agents/enroll', { token, body: { hosts: [{ ...inventory, hostname: 'new-1' }, { ...inventory, hostname: 'new-1' }] } });
    expectProblem(twice, 400, /new-1 appears twice/);
    expect((await stack.sql.query("SELECT count(*)::int AS n FROM hosts WHERE name = 'ident-b-1' OR name = 'new-1'")).rows[0].n).toBe(1);
  });

  it('renames a host (admins), refusing a taken name (409) and a name that is not one (400)', async () => {
    const id = a.hosts['ident-a-2']!;
    const patch = (body: unknown, token?: string): Promise<Reply> => stack.client.request('PATCH', `/v1/hosts/${id}`, { body, ...(token ? { token } : {}) });
    const renamed = await patch({ name: 'ident-a-2-renamed' });
    expect([renamed.status, renamed.body.name]).toEqual([200, 'ident-a-2-renamed']);
    expect((await stack.client.get(`/v1/hosts/${id}`)).body.name).toBe('ident-a-2-renamed');
    expectProblem(await patch({ name: 'ident-b-1' }), 409, new RegExp(`taken by host ${b.hosts['ident-b-1']}`));
    const bad = await patch({ name: '../x' });
    expectProblem(bad, 400);
    expect(bad.body.errors[0].field).toBe('name');
    expectProblem(await stack.client.request('PATCH', '/v1/hosts/7f1d4c52-0b4e-4f7e-9a51-3c2f8e0d9a11', { body: { name: 'x' } }), 404);
    const viewer = await stack.client.post('/v1/tokens', { name: 'viewer', role: 'viewer' });
    expectProblem(await patch({ name: 'by-viewer' }, viewer.body.token), 403);
    expectProblem(await stack.client.request('DELETE', `/v1/hosts/${id}`, { token: viewer.body.token }), 403);
  });

  it('rotates an agent credential: a new credential and Redis password, the old ones stop working', async () => {
    const rotated = await stack.client.request('POST', '/v1/agents/rotate', { token: b.credential, body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ agentId: b.agentId, redis: { username: b.redis!.username } });
    expect(rotated.body.credential).not.toBe(b.credential);
    // The old credential no longer reports inventory nor rotates; the new one does.
    const report = (token: string): Promise<Reply> => stack.client.request('PUT', '/v1/agents/inventory', { token, body: { hosts: [{ hostId: b.hosts['ident-b-1'], inventory: { hostname: 'ident-b-1', os: 'linux', osVersion: 'x', kernel: '6.1', arch: 'x86_64', cpus: 8, memoryMiB: 1024, diskGiB: 10, drivers: [] } }] } });
    expectProblem(await report(b.credential), 401);
    expectProblem(await stack.client.request('POST', '/v1/agents/rotate', { token: b.credential, body: {} }), 401);
    expect((await report(rotated.body.credential)).status).toBe(204);
    // Redis: the old password is refused, the new one logs in.
    await expect(as(b).ping()).rejects.toThrow(/WRONGPASS/);
    expect(await as(rotated.body).ping()).toBe('PONG');
    b = { ...b, credential: rotated.body.credential, redis: rotated.body.redis };
    await agentB.stop(); // it holds the old password
  });

  it('removes a host only without instances, or with force for a lost host (its instances go to error, claims released)', async () => {
    const id = a.hosts['ident-a-1']!;
    const { instance } = await stack.client.createAndWait({ name: 'on-a-1', template: 'alpine-3.20', technology: 'container', placement: { hostId: id }, resources: { vcpus: 2, memoryMiB: 512, diskGiB: 5 } });
    const refused = await stack.client.delete(`/v1/hosts/${id}`);
    expectProblem(refused, 409, /still has 1 instance/);
    expect(refused.body.instances).toBe(1);
    expect((await stack.client.delete(`/v1/hosts/${id}?force=maybe`)).status).toBe(400);
    expect((await stack.client.delete(`/v1/hosts/${id}?force=true`)).status).toBe(204);
    expectProblem(await stack.client.get(`/v1/hosts/${id}`), 404);
    const lost = (await stack.client.get(`/v1/instances/${instance.id}`)).body;
    expect([lost.state, lost.hostId]).toEqual(['error', null]);
    expect(lost.stateReason).toMatch(/its host ident-a-1 was removed/);
    expect(await allocationsMatchClaims(stack)).toBe(true);
    // A still has a host: its credential and Redis user stay.
    expect(await as(a).ping()).toBe('PONG');
    expectProblem(await stack.client.delete('/v1/hosts/7f1d4c52-0b4e-4f7e-9a51-3c2f8e0d9a11'), 404);
    // The lost instance can be deleted (nothing to remove anywhere).
    const del = await stack.client.delete(`/v1/instances/${instance.id}`);
    expect((await stack.client.waitOp(del.body.id)).status).toBe('succeeded');
  });

  it("revokes the agent's credential and Redis user with its last host", async () => {
    const admin = new IORedis(stack.redisUrl);
    opened.push(admin);
    expect(await admin.call('ACL', 'GETUSER', b.redis!.username)).not.toBeNull();
    const r = await stack.client.delete(`/v1/hosts/${b.hosts['ident-b-1']}?force=true`);
    expect(r.status).toBe(204);
    expect(await admin.call('ACL', 'GETUSER', b.redis!.username)).toBeNull();
    expect((await stack.sql.query('SELECT count(*)::int AS n FROM agents WHERE id = $1', [b.agentId])).rows[0].n).toBe(0);
    expectProblem(await stack.client.request('POST', '/v1/agents/rotate', { token: b.credential, body: {} }), 401);
    await expect(as(b).ping()).rejects.toThrow(/WRONGPASS/);
  });
});

describe('agents sharing the Redis credential (HYPERPLANE_REDIS_AGENT_ACL=off)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('shared-1', 'linux', 'x86_64')], config: { HYPERPLANE_REDIS_AGENT_ACL: 'off' } });
  });
  afterAll(async () => stack?.stop());

  it('enrolls without a Redis user, and the agent runs its host with REDIS_URL', async () => {
    expect(state(stack.dataDir).redis).toBeNull();
    expect((await stack.sql.query('SELECT redis_user FROM agents')).rows).toEqual([{ redis_user: null }]);
    const { instance } = await stack.client.createAndWait({ name: 'shared', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
    expect(instance.state).toBe('running');
  });
});
