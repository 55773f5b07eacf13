import { createHash, randomBytes, randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import { agentAclRules, AgentRedisUsers } from './agent-acl';

// Against the real Redis (7.0 here); users are named after a random prefix and removed after.

const REDIS_URL = process.env.HYPERPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379';

describe('agents\' Redis users', () => {
  const prefix = `hpt${randomBytes(4).toString('hex')}`;
  const admin = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });

  afterAll(async () => {
    const users = (await admin.call('ACL', 'USERS')) as string[];
    for (const u of users.filter((x) => x.startsWith(prefix))) await admin.call('ACL', 'DELUSER', u);
    admin.disconnect();
  });

  it('has three key patterns however many hosts the agent has, and no channels', () => {
    const rules = agentAclRules('hp', randomUUID(), 'a'.repeat(64));
    expect(rules.filter((r) => r.startsWith('~'))).toHaveLength(3);
    expect(rules).toContain('resetchannels');
    expect(rules).toContain('-@dangerous');
  });

  it('is on when this connection may make users, off when Redis says no', async () => {
    expect(await new AgentRedisUsers(admin, prefix).supported()).toBe(true);
    await admin.call('ACL', 'SETUSER', `${prefix}-limited`, 'reset', 'on', '>pw', '~*', '+@all', '-@dangerous');
    const limited = new IORedis(REDIS_URL, { username: `${prefix}-limited`, password: 'pw', maxRetriesPerRequest: 1, enableReadyCheck: false });
    try {
      expect(await new AgentRedisUsers(limited, prefix).supported()).toBe(false);
    } finally {
      limited.disconnect();
    }
  });

  it('makes a user that logs in with the password whose SHA-256 it was given, and removes it', async () => {
    const users = new AgentRedisUsers(admin, prefix);
    const agentId = randomUUID();
    const user = await users.put(agentId, createHash('sha256').update('secret-pw').digest('hex'));
    const agent = new IORedis(REDIS_URL, { username: user, password: 'secret-pw', maxRetriesPerRequest: 1, lazyConnect: true });
    agent.on('error', () => undefined);
    try {
      expect(await agent.ping()).toBe('PONG');
      await users.remove(agentId);
      expect(await admin.call('ACL', 'GETUSER', user)).toBeNull();
    } finally {
      agent.disconnect();
    }
  });
});
