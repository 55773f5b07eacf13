import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { dropRedisPrefix, freePort, freshDatabase, Proc, REDIS_URL, spawnApp, waitFor } from '@hyperplane/testing';

// What `npm start` runs: api + controller + a local agent (+ simulated hosts), one process.
describe('the all-in-one (npm start)', () => {
  let proc: Proc;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let base: string;
  // No HYPERPLANE_ADMIN_TOKEN: the token is made at this first start and shown in the banner.
  let token: string;
  const prefix = `hpa${randomBytes(3).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-aio-'));

  beforeAll(async () => {
    db = await freshDatabase();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    proc = spawnApp('all-in-one', {
      DATABASE_URL: db.url,
      REDIS_URL,
      HYPERPLANE_REDIS_PREFIX: prefix,
      PORT: String(port),
      LOG_LEVEL: 'log',
      HYPERPLANE_SIM_HOSTS: '3',
      HYPERPLANE_SIM_TIME_SCALE: '0.01',
      HYPERPLANE_DATA_DIR: dataDir,
      HYPERPLANE_HEARTBEAT_INTERVAL_S: '1',
    });
    // What a newcomer does: wait for "ready", then go (the tests below do not wait for hosts).
    await waitFor('the all-in-one to say it is ready', async () => /Hyperplane is ready/.test(proc.output()), 60_000, 100).catch((e: Error) => {
      throw new Error(`${e.message}; it said: ${proc.output()}`);
    });
    token = /admin token {2}(hp_\S+)/.exec(proc.output())?.[1] ?? '';
  });
  afterAll(async () => {
    await proc?.stop();
    await db?.drop();
    await dropRedisPrefix(REDIS_URL, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the API docs and the OpenAPI document', async () => {
    const docs = await fetch(`${base}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger/i);
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/instances', '/v1/hosts', '/v1/operations/{id}/wait']));
  });

  it('ends its start-up with a banner: the URL, the docs and the new admin token, after no route mapping', () => {
    const out = proc.output();
    const banner = out.slice(out.indexOf('Hyperplane is ready'));
    expect(banner).toContain(`API          ${base}`);
    expect(banner).toContain(`API docs     ${base}/docs`);
    expect(banner).toContain(`portal       ${base}/`);
    expect(token).toMatch(/^hp_[A-Za-z0-9_-]{40,}$/);
    expect(banner).toContain('shown this once');
    // Nest's route mapping (RouterExplorer, RoutesResolver) is debug output now.
    expect(out).not.toMatch(/Mapped \{|RouterExplorer|RoutesResolver/);
  });

  it('says ready only once this machine and the simulated hosts are ready', async () => {
    const r = await fetch(`${base}/v1/hosts`, { headers: { Authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const hosts = ((await r.json()) as { items: { name: string; simulated: boolean; os: string; status: string }[] }).items;
    expect(hosts.map((h) => h.status)).toEqual(['ready', 'ready', 'ready', 'ready']);
    expect(proc.output()).toMatch(/Hyperplane is ready: 4 host\(s\) ready/);
    const local = hosts.find((h) => !h.simulated)!;
    expect(local.name).toBe(hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-'));
    expect(local.os).toBe('linux');
    // A newcomer's small simulated fleet shows every OS.
    expect(hosts.filter((h) => h.simulated).map((h) => h.os).sort()).toEqual(['linux', 'macos', 'windows']);
  });

  it('creates an instance end to end, right after it says ready', async () => {
    const post = await fetch(`${base}/v1/instances`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'hello', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } }),
    });
    expect(post.status).toBe(202);
    const op = (await post.json()) as { id: string };
    const done = (await (await fetch(`${base}/v1/operations/${op.id}/wait?timeoutS=30`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { status: string };
    expect(done.status).toBe('succeeded');
  });
});
