import { loadConfig } from './app-config';
import { parseRedisUrl, redisKeyPrefix } from './redis-url';

describe('parseRedisUrl', () => {
  it('reads one Redis, with a user, a password and a database', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ mode: 'single', tls: false, nodes: [{ host: '127.0.0.1', port: 6379 }] });
    expect(parseRedisUrl('rediss://u:p%40ss@redis.example:6380/2')).toMatchObject({ mode: 'single', tls: true, username: 'u', password: 'p@ss', db: 2 });
    expect(parseRedisUrl('redis://:secret@h')).toMatchObject({ password: 'secret', nodes: [{ host: 'h', port: 6379 }] });
    expect(parseRedisUrl('redis://u:p@h').username).toBe('u');
  });

  it('reads a cluster from its seed nodes', () => {
    expect(parseRedisUrl('redis+cluster://a:7000,b:7001,[::1]:7002')).toEqual({
      mode: 'cluster',
      tls: false,
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
  });

  it('reads Sentinels, the master name, a database and the Sentinels\' own credential', () => {
    expect(parseRedisUrl('redis+sentinel://u:p@s1,s2:26380/mymaster/3?sentinelPassword=sp')).toEqual({
      mode: 'sentinel',
      tls: false,
      nodes: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      username: 'u',
      password: 'p',
      masterName: 'mymaster',
      db: 3,
      sentinelPassword: 'sp',
    });
  });

  it.each([
    ['http://h:1', 'must look like'],
    ['redis://a:1,b:2', 'redis+cluster'],
    ['redis+cluster://a:1/0', 'no path'],
    ['redis+sentinel://a:1', 'master name'],
    ['redis+sentinel://a:1/m?x=1', 'unknown REDIS_URL option'],
    ['redis://h:99999', 'bad port'],
    ['redis://h/x', 'database number'],
  ])('refuses %s', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
  });
});

describe('the Redis key prefix', () => {
  it('is a hash tag on a cluster only', () => {
    expect(redisKeyPrefix('redis://h', 'hp')).toBe('hp');
    expect(redisKeyPrefix('redis+cluster://h:1', 'hp')).toBe('{hp}');
    expect(redisKeyPrefix('rediss+cluster://h:1', '{hp}')).toBe('{hp}');
    expect(loadConfig({ REDIS_URL: 'redis+cluster://a:7000,b:7001', HYPERPLANE_REDIS_PREFIX: 'x1' }).HYPERPLANE_REDIS_PREFIX).toBe('{x1}');
  });

  it('names REDIS_URL and says what is wrong with it', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis+sentinel://s:1' })).toThrow(/REDIS_URL: .*master name/);
  });
});
