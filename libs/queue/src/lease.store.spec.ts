import { createHash, randomBytes, randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import { AgentRedisUsers } from './agent-acl';
import { LeaseStore } from './lease.store';

// Against the real Redis; keys and users under a random prefix, removed after.
const REDIS_URL = process.env.HYPERPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379';

describe('HA leases', () => {
  const prefix = `hpt${randomBytes(4).toString('hex')}`;
  const admin = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });

  afterAll(async () => {
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length) await admin.del(...keys);
    const users = (await admin.call('ACL', 'USERS')) as string[];
    for (const u of users.filter((x) => x.startsWith(prefix))) await admin.call('ACL', 'DELUSER', u);
    admin.disconnect();
  });

  it('lives in the agent\'s own key patterns: it renews its hosts\' leases and cannot touch another agent\'s', async () => {
    const agentId = randomUUID();
    const other = randomUUID();
    const user = await new AgentRedisUsers(admin, prefix).put(agentId, createHash('sha256').update('pw').digest('hex'));
    const agent = new IORedis(REDIS_URL, { username: user, password: 'pw', maxRetriesPerRequest: 1 });
    try {
      const host = randomUUID();
      await new LeaseStore(agent, prefix).renew(agentId, [host], 5000);
      const left = (await new LeaseStore(admin, prefix).remaining([{ id: host, agentId }])).get(host);
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(5000);
      await expect(new LeaseStore(agent, prefix).renew(other, [host], 5000)).rejects.toThrow(/NOPERM|permission/i);
    } finally {
      agent.disconnect();
    }
  });

  it('is gone once it expires, and a restart-after note keeps the first time', async () => {
    const store = new LeaseStore(admin, prefix);
    const agentId = randomUUID();
    const host = randomUUID();
    expect((await store.remaining([{ id: host, agentId }])).get(host)).toBeNull();
    await store.renew(agentId, [host], 2000);
    await admin.pexpire(`${prefix}:host-${agentId}-lease:${host}`, 1);
    // Redis expires it on its own clock: poll, with a deadline.
    const deadline = Date.now() + 5000;
    while ((await store.remaining([{ id: host, agentId }])).get(host) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect((await store.remaining([{ id: host, agentId }])).get(host)).toBeNull();
    expect(await store.noteRestartAfter(host, 1000)).toBe(1000);
    expect(await store.noteRestartAfter(host, 500)).toBe(1000);
    await store.raiseRestartAfter(host, 2000);
    expect((await store.restartAfter([host])).get(host)).toBe(2000);
    expect(await store.notedHosts()).toContain(host);
    await store.clearRestartAfter([host]);
    expect((await store.restartAfter([host])).size).toBe(0);
    expect(await store.notedHosts()).not.toContain(host);
  });
});
