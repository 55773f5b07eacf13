import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Database, OutboxRepository } from '@hyperplane/db';
import { followEvents, MIXED_FLEET, Proc, spawnApp, startRedisServer, startStack, Stack, waitFor } from '@hyperplane/testing';

describe('crash safety', () => {
  describe('an agent killed with SIGKILL in the middle of an operation', () => {
    let stack: Stack;
    let agent: Proc | null = null;
    const dataDir = mkdtempSync(join(tmpdir(), 'hp-crash-agent-'));
    let env: Record<string, string>;

    beforeAll(async () => {
      stack = await startStack({ noAgent: true });
      env = {
        HYPERPLANE_API_URL: stack.url,
        HYPERPLANE_ENROLLMENT_TOKEN: await stack.enrollmentToken(),
        REDIS_URL: stack.redisUrl,
        HYPERPLANE_REDIS_PREFIX: stack.config.HYPERPLANE_REDIS_PREFIX,
        HYPERPLANE_LOCAL_AGENT: 'false',
        HYPERPLANE_SIM_HOSTS: '1',
        HYPERPLANE_SIM_TIME_SCALE: '1',
        HYPERPLANE_DATA_DIR: dataDir,
        HYPERPLANE_JOB_LOCK_MS: String(stack.config.HYPERPLANE_JOB_LOCK_MS),
        HYPERPLANE_HEARTBEAT_INTERVAL_S: '1',
      };
      agent = spawnApp('agent', env);
      await stack.waitForHosts(1).catch((e: Error) => {
        throw new Error(`${e.message}; the agent said: ${agent?.output()}`);
      });
    });
    afterAll(async () => {
      await agent?.stop();
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('finishes the operation exactly once after the agent is started again', async () => {
      const sse = followEvents(stack.url, stack.client.token);
      await sse.ready;
      const post = await stack.client.post('/v1/instances', { name: 'survivor', template: 'debian-12', technology: 'vm', resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } });
      expect(post.status).toBe(202);
      const opId = post.body.id;
      // The agent has the job: it reported progress on it.
      await waitFor('the agent to be working', async () => {
        const op = (await stack.client.get(`/v1/operations/${opId}`)).body;
        return op.status === 'running' && op.progress > 10 && op;
      });
      await agent!.kill9();
      const during = (await stack.client.get(`/v1/operations/${opId}`)).body;
      expect(during.status).toBe('running');

      agent = spawnApp('agent', env);
      const op = await stack.client.waitOp(opId, 90);
      expect(op.status).toBe('succeeded');
      const instance = (await stack.client.get(`/v1/instances/${post.body.instanceId}`)).body;
      expect(instance.state).toBe('running');

      // Once: one instance on the simulated host, one success, one transition to running.
      const simState = JSON.parse(readFileSync(join(dataDir, 'agent', 'sim', 'sim-sim-linux-1.json'), 'utf8'));
      expect(simState.instances.filter((i: any) => i.id === instance.id)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 500));
      sse.stop();
      expect(sse.events.filter((e) => e.data.subjectId === opId && e.data.status === 'succeeded')).toHaveLength(1);
      expect(sse.events.filter((e) => e.data.subjectId === instance.id && e.data.state === 'running')).toHaveLength(1);
      // The agent came back as the same host, not a new one.
      expect((await stack.client.get('/v1/hosts')).body.items).toHaveLength(1);
    });

    it('runs work accepted while the controller was stopped once it is back', async () => {
      await stack.stopController();
      const post = await stack.client.post('/v1/instances', { name: 'waited', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
      expect(post.status).toBe(202);
      // Committed with its outbox message, and nothing relayed it.
      const { rows } = await stack.sql.query(`SELECT job_id FROM outbox`);
      expect(rows).toEqual([{ job_id: `run-${post.body.id}` }]);
      await new Promise((r) => setTimeout(r, 1000));
      expect((await stack.client.get(`/v1/operations/${post.body.id}`)).body.status).toBe('queued');

      await stack.startController();
      const op = await stack.client.waitOp(post.body.id, 60);
      expect(op.status).toBe('succeeded');
      expect((await stack.sql.query(`SELECT count(*)::int AS n FROM outbox`)).rows[0].n).toBe(0);
    });
  });

  describe('the outbox relay', () => {
    let stack: Stack;

    beforeAll(async () => {
      // No controller: nothing else relays while the test takes the rows itself.
      stack = await startStack({ noController: true, noAgent: true });
    });
    afterAll(() => stack.stop());

    it('keeps the messages whose delivery failed, and two relays at once deliver each message once, in order', async () => {
      const outbox = stack.api.get(OutboxRepository);
      await outbox.relayBatch(1000, async () => undefined); // what the API wrote at boot
      const ids = Array.from({ length: 10 }, (_, i) => `relay-test-${i}`);
      await stack.api.get(Database).transaction((em) => outbox.add(em, ids.map((jobId) => ({ queue: 'q', jobName: 'n', jobId, payload: { jobId } }))));

      await expect(outbox.relayBatch(100, async () => Promise.reject(new Error('redis is down')))).rejects.toThrow('redis is down');
      expect(await outbox.count()).toBe(10);

      const first: string[] = [];
      const second: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const a = outbox.relayBatch(4, async (m) => {
        first.push(...m.map((x) => x.jobId));
        await held; // still delivering: its rows stay locked
      });
      await waitFor('the first relay to take its rows', async () => first.length > 0, 10_000, 5);
      expect(await outbox.relayBatch(100, async (m) => void second.push(...m.map((x) => x.jobId)))).toBe(6);
      release();
      expect(await a).toBe(4);
      expect(first).toEqual(ids.slice(0, 4));
      expect(second).toEqual(ids.slice(4));
      expect(await outbox.count()).toBe(0);
    });
  });

  describe('a Redis that loses everything (FLUSHALL) with operations in flight', () => {
    let stack: Stack;
    let redis: Awaited<ReturnType<typeof startRedisServer>>;

    beforeAll(async () => {
      redis = await startRedisServer();
      // One command at a time per host: most work is still waiting in Redis when it is flushed.
      stack = await startStack({ redisUrl: redis.url, timeScale: 0.3, agent: { concurrency: 1 } });
    });
    afterAll(async () => {
      await stack.stop();
      await redis.stop();
    });

    it('finishes every operation, rebuilt from PostgreSQL', async () => {
      const posts = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          stack.client.post('/v1/instances', {
            name: `flush-${i}`,
            template: 'debian-12',
            technology: i % 2 ? 'vm' : 'container',
            resources: { vcpus: 1, memoryMiB: 512, diskGiB: 5 },
          }),
        ),
      );
      expect(posts.every((p) => p.status === 202)).toBe(true);
      // And a batch, whose creates travel to their hosts as command batches (one job each).
      const batch = await stack.client.post('/v1/instances/batch', { count: 12, namePrefix: 'flushed', spec: { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } } });
      expect(batch.status).toBe(202);
      // Some have reached their hosts, most wait in host queues: then Redis forgets it all.
      await waitFor('work on hosts', async () => {
        const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE status = 'running' AND job_queue LIKE 'host-%'`);
        return rows[0].n >= 32;
      });
      // Sent in command batches, keeping no copy of the command: a resend makes it from the instance.
      const sentInBatches = (await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE parent_id = $1 AND job_id LIKE 'cmds-%' AND job_data IS NULL`, [batch.body.id])).rows[0].n;
      expect(sentInBatches).toBe(12);
      const client = new IORedis(redis.url);
      const waiting = (await client.keys(`${stack.config.HYPERPLANE_REDIS_PREFIX}:host-*:wait`)).length;
      expect(waiting).toBeGreaterThan(0);
      await client.flushall();
      client.disconnect();

      const ops = await Promise.all(posts.map((p) => stack.client.waitOp(p.body.id, 120)));
      expect(ops.map((o) => o.status)).toEqual(Array(24).fill('succeeded'));
      // The batch's lost commands were sent again, each alone under its own job id.
      const parent = await stack.client.waitOp(batch.body.id, 120);
      expect(parent.result).toMatchObject({ total: 12, succeeded: 12, failed: 0 });
      const resent = (await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE parent_id = $1 AND job_id = 'cmd-' || id || '-create'`, [batch.body.id])).rows[0].n;
      expect(resent).toBeGreaterThan(0);
      const states = (await stack.client.get('/v1/instances?limit=100')).body.items.map((i: any) => i.state);
      expect(states).toEqual(Array(36).fill('running'));
      // Hosts came back too: heartbeats resumed, nobody went down for good.
      const hosts = (await stack.client.get('/v1/hosts')).body.items;
      await waitFor('hosts ready', async () => (await stack.client.get('/v1/hosts?status=ready')).body.items.length === MIXED_FLEET.length);
      expect(hosts).toHaveLength(MIXED_FLEET.length);
    });
  });
});
