import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { agentRedisUser, heartbeatKey } from '@hyperplane/queue';
import {
  allocationsMatchClaims,
  MIXED_FLEET,
  Proc,
  RedisCluster,
  RedisSentinel,
  spawnApp,
  startRedisCluster,
  startRedisSentinel,
  startStack,
  Stack,
  waitFor,
} from '@hyperplane/testing';

const small = { vcpus: 1, memoryMiB: 256, diskGiB: 1 };

/** Creates, stops, starts and deletes instances of both technologies, and a batch. */
async function runPipeline(stack: Stack, tag: string): Promise<void> {
  const vm = await stack.client.createAndWait({ name: `${tag}-vm`, template: 'debian-12', technology: 'vm', resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } });
  const ct = await stack.client.createAndWait({ name: `${tag}-ct`, template: 'alpine-3.20', technology: 'container', resources: small });
  expect([vm.op.status, ct.op.status]).toEqual(['succeeded', 'succeeded']);
  expect([vm.instance.state, ct.instance.state]).toEqual(['running', 'running']);
  for (const action of ['stop', 'start']) {
    const ops = await Promise.all([vm, ct].map((x) => stack.client.act(x.instance.id, action)));
    expect(ops.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
  }
  const batch = await stack.client.post('/v1/instances/batch', { count: 10, namePrefix: `${tag}-b`, spec: { template: 'alpine-3.20', technology: 'container', resources: small } });
  expect(batch.status).toBe(202);
  const parent = await stack.client.waitOp(batch.body.id, 90);
  expect(parent.result).toMatchObject({ total: 10, succeeded: 10, failed: 0 });
  const del = await stack.client.delete(`/v1/instances/${ct.instance.id}`);
  expect(del.status).toBe(202);
  expect((await stack.client.waitOp(del.body.id)).status).toBe('succeeded');
  expect((await stack.client.get(`/v1/instances/${ct.instance.id}`)).status).toBe(404);
  expect(await allocationsMatchClaims(stack)).toBe(true);
}

describe('on a Redis Cluster of three masters', () => {
  let cluster: RedisCluster;
  let stack: Stack;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    stack = await startStack({ redisUrl: cluster.url });
  });
  afterAll(async () => {
    await stack?.stop();
    await cluster?.stop();
  });

  it('runs the pipeline, with every key of the installation in one hash slot', async () => {
    const prefix = stack.config.HYPERPLANE_REDIS_PREFIX;
    expect(prefix).toMatch(/^\{hpt[0-9a-f]+\}$/);
    await runPipeline(stack, 'cl');

    // Each master answers for its own keys only: count ours on each, and their slots.
    const slots = new Set<number>();
    let keys = 0;
    for (const port of cluster.ports) {
      const node = new IORedis({ port, host: '127.0.0.1' });
      try {
        const mine = await node.keys(`${prefix}:*`);
        keys += mine.length;
        for (const k of mine.slice(0, 50)) slots.add(Number(await node.call('CLUSTER', 'KEYSLOT', k)));
      } finally {
        node.disconnect();
      }
    }
    expect(keys).toBeGreaterThan(10);
    expect(slots.size).toBe(1);
  });

  it('makes the agent\'s Redis user on every node, and the agent works through it', async () => {
    const agentId = (await stack.sql.query('SELECT id FROM agents LIMIT 1')).rows[0].id as string;
    const user = agentRedisUser(stack.config.HYPERPLANE_REDIS_PREFIX, agentId);
    for (const port of cluster.ports) {
      const node = new IORedis({ port, host: '127.0.0.1' });
      try {
        expect((await node.call('ACL', 'USERS')) as string[]).toContain(user);
        // The agent is connected to the node holding our slot as that user, or at least known.
      } finally {
        node.disconnect();
      }
    }
    // Hosts beat through the agent's user: all are ready.
    const hosts = (await stack.client.get('/v1/hosts?status=ready')).body.items;
    expect(hosts).toHaveLength(MIXED_FLEET.length);
  });
});

describe('crash safety on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let stack: Stack;
  let agent: Proc | null = null;
  let controller: Proc | null = null;
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-cluster-agent-'));
  let agentEnv: Record<string, string>;
  let controllerEnv: Record<string, string>;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    stack = await startStack({ redisUrl: cluster.url, noAgent: true, noController: true });
    const common = {
      REDIS_URL: cluster.url,
      // The processes make the hash tag themselves from the bare prefix.
      HYPERPLANE_REDIS_PREFIX: stack.config.HYPERPLANE_REDIS_PREFIX.replace(/[{}]/g, ''),
      HYPERPLANE_JOB_LOCK_MS: String(stack.config.HYPERPLANE_JOB_LOCK_MS),
      HYPERPLANE_HEARTBEAT_INTERVAL_S: '1',
    };
    controllerEnv = {
      ...common,
      DATABASE_URL: stack.config.DATABASE_URL,
      HYPERPLANE_MIGRATE: 'false',
      HYPERPLANE_HEARTBEAT_TIMEOUT_S: '4',
      HYPERPLANE_RECONCILE_INTERVAL_S: '2',
    };
    agentEnv = {
      ...common,
      HYPERPLANE_API_URL: stack.url,
      HYPERPLANE_ENROLLMENT_TOKEN: await stack.enrollmentToken(),
      HYPERPLANE_LOCAL_AGENT: 'false',
      HYPERPLANE_SIM_HOSTS: '2',
      HYPERPLANE_SIM_TIME_SCALE: '1',
      HYPERPLANE_DATA_DIR: dataDir,
    };
    controller = spawnApp('controller', controllerEnv);
    agent = spawnApp('agent', agentEnv);
    await stack.waitForHosts(2).catch((e: Error) => {
      throw new Error(`${e.message}; the agent said: ${agent?.output()}; the controller said: ${controller?.output()}`);
    });
  });
  afterAll(async () => {
    await agent?.stop();
    await controller?.stop();
    await stack?.stop();
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes an operation exactly once after its agent is killed with SIGKILL mid-work', async () => {
    const post = await stack.client.post('/v1/instances', { name: 'survivor', template: 'debian-12', technology: 'vm', resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } });
    expect(post.status).toBe(202);
    await waitFor('the agent to be working', async () => {
      const op = (await stack.client.get(`/v1/operations/${post.body.id}`)).body;
      return op.status === 'running' && op.progress > 10 && op;
    });
    await agent!.kill9();
    expect((await stack.client.get(`/v1/operations/${post.body.id}`)).body.status).toBe('running');
    agent = spawnApp('agent', agentEnv);
    const op = await stack.client.waitOp(post.body.id, 90);
    expect(op.status).toBe('succeeded');
    const instance = (await stack.client.get(`/v1/instances/${post.body.instanceId}`)).body;
    expect(instance.state).toBe('running');
    // Once: one instance over all the simulated hosts.
    const simDir = join(dataDir, 'agent', 'sim');
    const copies = readdirSync(simDir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => JSON.parse(readFileSync(join(simDir, f), 'utf8')).instances as { id: string }[])
      .filter((i) => i.id === instance.id);
    expect(copies).toHaveLength(1);
    const running = (await stack.sql.query(`SELECT count(*)::int AS n FROM events WHERE subject_id = $1 AND data->>'state' = 'running'`, [instance.id])).rows[0].n;
    expect(running).toBe(1);
  });

  it('finishes a batch after the controller is killed with SIGKILL in the middle of it', async () => {
    const batch = await stack.client.post('/v1/instances/batch', { count: 8, namePrefix: 'ckill', spec: { template: 'alpine-3.20', technology: 'container', resources: small } });
    expect(batch.status).toBe(202);
    await waitFor('some children on hosts', async () => {
      const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE parent_id = $1 AND status = 'running'`, [batch.body.id]);
      return rows[0].n > 0;
    });
    await controller!.kill9();
    controller = spawnApp('controller', controllerEnv);
    const parent = await stack.client.waitOp(batch.body.id, 90);
    expect(parent.result).toMatchObject({ total: 8, succeeded: 8, failed: 0 });
    const states = (await stack.client.get('/v1/instances?limit=100')).body.items.filter((i: { name: string }) => i.name.startsWith('ckill')).map((i: { state: string }) => i.state);
    expect(states).toEqual(Array(8).fill('running'));
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});

describe('behind Redis Sentinel', () => {
  let sentinel: RedisSentinel;
  let stack: Stack;

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
    stack = await startStack({ redisUrl: sentinel.url });
  });
  afterAll(async () => {
    await stack?.stop();
    await sentinel?.stop();
  });

  it('finds the master through the Sentinel and runs the pipeline', async () => {
    expect(stack.config.HYPERPLANE_REDIS_PREFIX).toMatch(/^hpt/);
    await runPipeline(stack, 'se');
    const master = new IORedis({ port: sentinel.masterPort, host: '127.0.0.1' });
    try {
      expect((await master.keys(`${stack.config.HYPERPLANE_REDIS_PREFIX}:*`)).length).toBeGreaterThan(10);
    } finally {
      master.disconnect();
    }
  });

  it('keeps working after the master is killed and Sentinel promotes the replica', async () => {
    await sentinel.killMaster();
    await waitFor('Sentinel to promote the replica', async () => (await sentinel.currentMasterPort().catch(() => 0)) === sentinel.replicaPort, 60_000, 500);
    const promoted = Date.now();
    // The suite's 4 s heartbeat timeout is shorter than a failover: hosts may go down for a
    // while. They come back once the API has made the agent's user on the new master and the
    // agent beats there.
    const agentId = (await stack.sql.query('SELECT id FROM agents LIMIT 1')).rows[0].id as string;
    const newMaster = new IORedis({ port: sentinel.replicaPort, host: '127.0.0.1' });
    try {
      await waitFor('beats on the new master', async () => {
        const beats = await newMaster.zrangebyscore(heartbeatKey(stack.config.HYPERPLANE_REDIS_PREFIX, agentId), promoted, '+inf');
        return beats.length === MIXED_FLEET.length;
      }, 60_000, 250).catch(async (e: Error) => {
        const users = await newMaster.call('ACL', 'USERS');
        const all = await newMaster.zrange(heartbeatKey(stack.config.HYPERPLANE_REDIS_PREFIX, agentId), 0, -1, 'WITHSCORES');
        const clients = await newMaster.call('CLIENT', 'LIST');
        throw new Error(`${e.message}: promoted ${promoted}, users ${JSON.stringify(users)}, beats ${JSON.stringify(all)}, role ${JSON.stringify(await newMaster.role())}\n${String(clients)}`);
      });
      expect(await newMaster.call('ACL', 'USERS')).toContain(agentRedisUser(stack.config.HYPERPLANE_REDIS_PREFIX, agentId));
    } finally {
      newMaster.disconnect();
    }
    await waitFor('hosts ready again', async () => (await stack.client.get('/v1/hosts?status=ready')).body.items.length === MIXED_FLEET.length, 60_000, 500);
    // Work accepted after the failover runs on the new master.
    const { op, instance } = await stack.client.createAndWait({ name: 'after-failover', template: 'alpine-3.20', technology: 'container', resources: small }, 90);
    expect([op.status, op.error]).toEqual(['succeeded', null]);
    expect(instance.state).toBe('running');
  });
});
