import { redisAuthOptions } from '@hyperplane/queue';
import { AgentApiClient } from './api.client';
import { requestOptions } from './http-request';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('TLS for the agent channels', () => {
  it('keeps rediss:// and gives ioredis the CA and the agent\'s own user', () => {
    expect(redisAuthOptions({ url: 'rediss://redis.example:6380', prefix: 'hp', username: 'hp-agent-1', password: 'pw', tlsCa: CA })).toEqual({
      username: 'hp-agent-1',
      password: 'pw',
      tls: { ca: CA },
    });
    // No CA: ioredis turns TLS on by itself for rediss:// (and verifies against the system's CAs).
    expect(redisAuthOptions({ url: 'rediss://redis.example:6380', prefix: 'hp' })).toEqual({});
    // A CA does not turn TLS on for a plain redis:// URL.
    expect(redisAuthOptions({ url: 'redis://127.0.0.1:6379', prefix: 'hp', tlsCa: CA })).toEqual({});
  });

  it('verifies https:// against the given CA, and never turns verification off', () => {
    const opts = requestOptions(new URL('https://api.example/v1/agents/enroll'), { method: 'POST', headers: {}, ca: CA });
    expect(opts.ca).toBe(CA);
    expect(opts).not.toHaveProperty('rejectUnauthorized');
    expect(requestOptions(new URL('http://127.0.0.1:3000/v1'), { method: 'POST', headers: {}, ca: CA })).not.toHaveProperty('ca');
  });

  it('accepts http:// and https:// API URLs and refuses others', () => {
    expect(() => new AgentApiClient('https://api.example')).not.toThrow();
    expect(() => new AgentApiClient('http://127.0.0.1:3000')).not.toThrow();
    expect(() => new AgentApiClient('ftp://api.example')).toThrow(/http:\/\/ or https:\/\//);
  });
});
