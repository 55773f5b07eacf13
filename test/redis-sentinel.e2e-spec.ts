import IORedis from 'ioredis';
import { agentRedisUser, heartbeatKey } from '@hyperplane/queue';
import { MIXED_FLEET, RedisSentinel, runPipeline, startRedisSentinel, startStack, Stack, waitFor } from '@hyperplane/testing';

const small = { vcpus: 1, memoryMiB: 256, diskGiB: 1 };

/** REDIS_URL=redis+sentinel://…/<master>: one master, one replica, one Sentinel of the suite's own. */
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
