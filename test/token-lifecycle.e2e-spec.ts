import { INestApplication } from '@nestjs/common';
import { createApiApp, ResolvedConfig } from '@hyperplane/api';
import { ADMIN_TOKEN, ApiClient, Reply, startStack, Stack } from '@hyperplane/testing';

// How tokens end: enrollment tokens expire and run out by default, a revoked admin's tokens can
// be found and revoked with it, a new HYPERPLANE_ADMIN_TOKEN retires the old one, and a
// revocation reaches every API process at once, not after the 10 s authentication cache.
jest.setTimeout(60_000);

const BOOTSTRAP_ENROLLMENT = 'bootstrap-enrollment-0123456789';
const DAY_S = 86_400;

function inventory(hostname: string): Record<string, unknown> {
  return {
    hostname,
    os: 'linux',
    osVersion: 'Debian GNU/Linux 12 (bookworm)',
    kernel: '6.1.0-25-amd64',
    arch: 'x86_64',
    cpus: 8,
    memoryMiB: 16384,
    diskGiB: 200,
    simulated: true,
    drivers: [{ name: 'sim', installed: true, version: '1', offers: [] }],
  };
}

/** Polls until `probe` answers true; the time it took, or an error after `deadlineMs`. */
async function within(what: string, deadlineMs: number, probe: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('token lifecycle', () => {
  let stack: Stack;
  let admin: ApiClient;
  /** A second API process on the same database. */
  let second: INestApplication;
  let onSecond: ApiClient;
  const extra: INestApplication[] = [];

  async function startApi(overrides: Partial<ResolvedConfig> = {}): Promise<{ app: INestApplication; url: string }> {
    const app = await createApiApp({ ...stack.config, ...overrides });
    extra.push(app);
    await app.listen(0, '127.0.0.1');
    return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
  }

  async function issue(by: ApiClient, name: string, role: string): Promise<{ id: string; secret: string }> {
    const r = await by.post('/v1/tokens', { name, role });
    expect(r.status).toBe(201);
    return { id: r.body.id, secret: r.body.token };
  }

  const enroll = (token: string, hosts: string[]): Promise<Reply> => admin.request('POST', '/v1/agents/enroll', { token, body: { hosts: hosts.map(inventory) } });
  const status = async (client: ApiClient): Promise<number> => (await client.get('/v1/templates')).status;
  const fields = (r: Reply): string[] => (r.body.errors ?? []).map((e: { field: string }) => e.field);

  beforeAll(async () => {
    stack = await startStack({ noAgent: true, noController: true, simHosts: [], config: { HYPERPLANE_ENROLLMENT_TOKEN: BOOTSTRAP_ENROLLMENT } });
    admin = stack.client;
    second = (await startApi()).app;
    onSecond = new ApiClient(`http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`, ADMIN_TOKEN);
  });
  afterAll(async () => {
    for (const app of extra) await app.close().catch(() => undefined);
    await stack.stop();
  });

  describe('enrollment tokens', () => {
    it('gives a token made without limits a one-day expiry and 100 hosts', async () => {
      const before = Date.now();
      const r = await admin.post('/v1/enrollment-tokens', { name: 'no limits given' });
      expect(r.status).toBe(201);
      expect(r.body.maxHosts).toBe(100);
      const expires = Date.parse(r.body.expiresAt);
      expect(expires).toBeGreaterThanOrEqual(before + DAY_S * 1000 - 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + DAY_S * 1000 + 1000);
      const listed = (await admin.get('/v1/enrollment-tokens')).body.items.find((t: any) => t.id === r.body.id);
      expect(listed).toMatchObject({ maxHosts: 100, expiresAt: r.body.expiresAt, bootstrap: false });
    });

    it('takes its defaults from HYPERPLANE_ENROLLMENT_TOKEN_MAX_HOSTS and _TTL_S, and enrolls no more hosts than that', async () => {
      const { url } = await startApi({ HYPERPLANE_ENROLLMENT_TOKEN_MAX_HOSTS: 2, HYPERPLANE_ENROLLMENT_TOKEN_TTL_S: 600 });
      const before = Date.now();
      const r = await new ApiClient(url, ADMIN_TOKEN).post('/v1/enrollment-tokens', { name: 'configured defaults' });
      expect(r.status).toBe(201);
      expect(r.body.maxHosts).toBe(2);
      expect(Math.abs(Date.parse(r.body.expiresAt) - (before + 600_000))).toBeLessThan(5000);
      expect([401, 403]).toContain((await enroll(r.body.token, ['default-a', 'default-b', 'default-c'])).status);
      expect((await enroll(r.body.token, ['default-a', 'default-b'])).status).toBe(201);
      expect([401, 403]).toContain((await enroll(r.body.token, ['default-c'])).status);
    });

    it('takes explicit limits within bounds and refuses others with a 400 naming the field', async () => {
      const ok = await admin.post('/v1/enrollment-tokens', { name: 'explicit', maxHosts: 5000, expiresInS: 3600 });
      expect(ok.status).toBe(201);
      expect(ok.body.maxHosts).toBe(5000);
      expect(Math.abs(Date.parse(ok.body.expiresAt) - (Date.now() + 3_600_000))).toBeLessThan(5000);
      const bad: [Record<string, unknown>, string][] = [
        [{ maxHosts: 0 }, 'maxHosts'],
        [{ maxHosts: 1_000_001 }, 'maxHosts'],
        [{ maxHosts: 2.5 }, 'maxHosts'],
        [{ expiresInS: 59 }, 'expiresInS'],
        [{ expiresInS: 31_536_001 }, 'expiresInS'],
        [{ expiresInS: 'tomorrow' }, 'expiresInS'],
      ];
      for (const [body, field] of bad) {
        const r = await admin.post('/v1/enrollment-tokens', { name: 'bad', ...body });
        expect({ body, status: r.status, fields: fields(r) }).toEqual({ body, status: 400, fields: [field] });
      }
    });

    it('keeps the configured bootstrap enrollment token unlimited, and a new configured value revokes it', async () => {
      const boot = (await admin.get('/v1/enrollment-tokens')).body.items.filter((t: any) => t.bootstrap);
      expect(boot).toEqual([expect.objectContaining({ maxHosts: null, expiresAt: null, revokedAt: null, createdBy: null })]);
      expect((await enroll(BOOTSTRAP_ENROLLMENT, ['boot-1'])).status).toBe(201);

      const next = 'bootstrap-enrollment-the-next-one-42';
      await startApi({ HYPERPLANE_ENROLLMENT_TOKEN: next });
      expect([401, 403]).toContain((await enroll(BOOTSTRAP_ENROLLMENT, ['boot-2'])).status);
      expect((await enroll(next, ['boot-3'])).status).toBe(201);
      const after = (await admin.get('/v1/enrollment-tokens')).body.items.filter((t: any) => t.bootstrap);
      expect(after.map((t: any) => t.revokedAt === null).sort()).toEqual([false, true]);
      // Starting again with the old value does not bring it back.
      await startApi({ HYPERPLANE_ENROLLMENT_TOKEN: BOOTSTRAP_ENROLLMENT });
      expect([401, 403]).toContain((await enroll(BOOTSTRAP_ENROLLMENT, ['boot-4'])).status);
    });
  });

  describe('what a revoked admin minted', () => {
    it('lists the live tokens of a revoked maker, and revokes a whole lineage with cascade=true', async () => {
      const x = await issue(admin, 'admin x', 'admin');
      const asX = admin.as(x.secret);
      const y = await issue(asX, 'operator from x', 'operator');
      const z = await issue(asX, 'admin from x', 'admin');
      const w = await issue(admin.as(z.secret), 'viewer from z', 'viewer');
      const e = (await asX.post('/v1/enrollment-tokens', { name: 'enrollment from x' })).body;
      const outsider = await issue(admin, 'outsider', 'operator');
      const listed = (await admin.get('/v1/tokens')).body.items.find((t: any) => t.id === y.id);
      expect(listed.createdBy).toBe(x.id);

      expect((await admin.delete(`/v1/tokens/${x.id}`)).status).toBe(204);
      expect(await status(asX)).toBe(401);
      const orphans = (await admin.get('/v1/tokens?createdByRevoked=true')).body.items.map((t: any) => t.id);
      expect(orphans.sort()).toEqual([y.id, z.id].sort());
      const orphanEnrollment = (await admin.get('/v1/enrollment-tokens?createdByRevoked=true')).body.items.map((t: any) => t.id);
      expect(orphanEnrollment).toEqual([e.id]);
      // A plain revocation leaves them working: that is why they are listed.
      expect(await status(admin.as(y.secret))).toBe(200);

      // A token of the lineage cannot cut its own branch.
      expect((await admin.as(z.secret).delete(`/v1/tokens/${x.id}?cascade=true`)).status).toBe(409);
      expect((await admin.delete(`/v1/tokens/${x.id}?cascade=true`)).status).toBe(204);
      for (const t of [y, z, w]) expect({ name: t.id, status: await status(admin.as(t.secret)) }).toEqual({ name: t.id, status: 401 });
      expect(await status(admin.as(outsider.secret))).toBe(200);
      expect([401, 403]).toContain((await enroll(e.token, ['from-x'])).status);
      expect((await admin.get('/v1/tokens?createdByRevoked=true')).body.items).toEqual([]);
      expect((await admin.get('/v1/enrollment-tokens?createdByRevoked=true')).body.items).toEqual([]);
    });

    it('refuses a createdByRevoked or cascade that is not true or false: 400 naming it', async () => {
      const t = await issue(admin, 'query check', 'viewer');
      for (const [method, path, field] of [
        ['GET', '/v1/tokens?createdByRevoked=yes', 'createdByRevoked'],
        ['GET', '/v1/enrollment-tokens?createdByRevoked=1', 'createdByRevoked'],
        ['DELETE', `/v1/tokens/${t.id}?cascade=maybe`, 'cascade'],
      ] as const) {
        const r = await admin.request(method, path);
        expect({ path, status: r.status, fields: fields(r) }).toEqual({ path, status: 400, fields: [field] });
      }
      expect(await status(admin.as(t.secret))).toBe(200);
    });
  });

  describe('across API processes', () => {
    it('refuses a token revoked on one API process on another at once, not after the 10 s cache', async () => {
      const t = await issue(admin, 'used on both', 'operator');
      // Both processes have it cached as valid.
      expect(await status(admin.as(t.secret))).toBe(200);
      expect(await status(onSecond.as(t.secret))).toBe(200);
      expect((await admin.delete(`/v1/tokens/${t.id}`)).status).toBe(204);
      const ms = await within('the second API process refusing the revoked token', 1000, async () => (await status(onSecond.as(t.secret))) === 401);
      expect(ms).toBeLessThan(1000);
    });

    it('also forgets a token revoked outside the API (SQL)', async () => {
      const t = await issue(admin, 'revoked by sql', 'viewer');
      expect(await status(admin.as(t.secret))).toBe(200);
      expect(await status(onSecond.as(t.secret))).toBe(200);
      await stack.sql.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [t.id]);
      await within('the first API process refusing it', 1000, async () => (await status(admin.as(t.secret))) === 401);
      await within('the second API process refusing it', 1000, async () => (await status(onSecond.as(t.secret))) === 401);
    });
  });

  describe('bootstrap admin token', () => {
    // Last: it retires the suite's admin token.
    it('a new HYPERPLANE_ADMIN_TOKEN revokes the previous one on every process; its tokens are listed; the old value stays revoked', async () => {
      const minted = await issue(admin, 'minted by the old bootstrap', 'viewer');
      expect(await status(admin)).toBe(200);
      expect(await status(onSecond)).toBe(200);
      const next = 'the-next-admin-token-0123456789';
      await startApi({ HYPERPLANE_ADMIN_TOKEN: next });
      await within('the old admin token refused on the first process', 1000, async () => (await status(admin)) === 401);
      await within('the old admin token refused on the second process', 1000, async () => (await status(onSecond)) === 401);
      const root = admin.as(next);
      expect(await status(root)).toBe(200);

      const boot = (await root.get('/v1/tokens')).body.items.filter((t: any) => t.bootstrap);
      expect(boot.map((t: any) => t.revokedAt === null).sort()).toEqual([false, true]);
      const orphans = (await root.get('/v1/tokens?createdByRevoked=true')).body.items.map((t: any) => t.id);
      expect(orphans).toContain(minted.id);

      // A process started with the old value again (a stale replica) does not revive it.
      await startApi({ HYPERPLANE_ADMIN_TOKEN: ADMIN_TOKEN });
      expect(await status(admin)).toBe(401);
      expect(await status(root)).toBe(200);
    });
  });
});
