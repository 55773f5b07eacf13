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
  const token = 'all-in-one-admin-token-0123456789';
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
      HYPERPLANE_ADMIN_TOKEN: token,
      HYPERPLANE_SIM_HOSTS: '3',
      HYPERPLANE_SIM_TIME_SCALE: '0.01',
      HYPERPLANE_DATA_DIR: dataDir,
      HYPERPLANE_HEARTBEAT_INTERVAL_S: '1',
    });
    await waitFor('the all-in-one to answer', async () => (await fetch(`${base}/readyz`).catch(() => null))?.ok, 60_000, 250).catch((e: Error) => {
      throw new Error(`${e.message}; it said: ${proc.output()}`);
    });
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

  it('lists this machine and the simulated hosts, ready', async () => {
    const hosts = await waitFor(
      'four ready hosts',
      async () => {
        const r = await fetch(`${base}/v1/hosts?status=ready`, { headers: { Authorization: `Bearer ${token}` } });
        const body = (await r.json()) as { items: { name: string; simulated: boolean; os: string }[] };
        return body.items.length === 4 && body.items;
      },
      30_000,
      250,
    );
    const local = hosts.find((h) => !h.simulated)!;
    expect(local.name).toBe(hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-'));
    expect(local.os).toBe('linux');
    expect(hosts.filter((h) => h.simulated)).toHaveLength(3);
  });

  it('creates an instance end to end', async () => {
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
