import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { agentRedisUser } from '@hyperplane/queue';
import {
  allocationsMatchClaims,
  MIXED_FLEET,
  Proc,
  runPipeline,
  RedisCluster,
  spawnApp,
  startRedisCluster,
  startStack,
  Stack,
  waitFor,
} from '@hyperplane/testing';

const small = { vcpus: 1, memoryMiB: 256, diskGiB: 1 };

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
        // The node holding the installation's slot serves the agent's connections, logged in as its user.
        if ((await node.keys(`${stack.config.HYPERPLANE_REDIS_PREFIX}:*`)).length > 0) expect(String(await node.call('CLIENT', 'LIST'))).toContain(`user=${user}`);
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
  let dataDir = '';
  let agentEnv: Record<string, string>;
  let controllerEnv: Record<string, string>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hp-cluster-agent-'));
    cluster = await startRedisCluster();
    stack = await startStack({ redisUrl: cluster.url, noAgent: true, noController: true });
    const common = {
      REDIS_URL: cluster.url,
      // The processes make the hash tag themselves from the bare prefix.
      HYPERPLANE_REDIS_PREFIX: stack.config.HYPERPLANE_REDIS_PREFIX.replace(/[{}]/g, ''),
      HYPERPLANE_JOB_LOCK_MS: String(stack.config.HYPERPLANE_JOB_LOCK_MS),
      HYPERPLANE_HEARTBEAT_INTERVAL_S: '1',
      // Their logs are what a failure below prints: what was re-enqueued, ignored or resent.
      LOG_LEVEL: 'log',
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
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
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
    const parent = await stack.client.waitOp(batch.body.id, 90).catch(async (e: Error) => {
      // Seen once in CI (1 of 8 done after 90 s), never since: say where each child stands.
      const { rows } = await stack.sql.query(
        `SELECT o.status, o.step, o.job_queue, o.job_id, i.state, i.host_id FROM operations o JOIN instances i ON i.id = o.instance_id WHERE o.parent_id = $1`,
        [batch.body.id],
      );
      throw new Error(`${e.message}; children: ${JSON.stringify(rows)}; the controller said: ${controller?.output().slice(-3000)}; the agent said: ${agent?.output().slice(-3000)}`);
    });
    expect(parent.result).toMatchObject({ total: 8, succeeded: 8, failed: 0 });
    const states = (await stack.client.get('/v1/instances?limit=100')).body.items.filter((i: { name: string }) => i.name.startsWith('ckill')).map((i: { state: string }) => i.state);
    expect(states).toEqual(Array(8).fill('running'));
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});
