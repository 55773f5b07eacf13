import { createHash } from 'node:crypto';
import { ADMIN_TOKEN, ApiClient, followEvents, Reply, startStack, Stack } from '@hyperplane/testing';

// Who may do what: bearer tokens (401 without a valid one), roles (viewer reads, operator
// changes, admin administers), project-scoped tokens that see only their project (also on
// the events stream), secrets stored hashed, and agent enrollment and credentials.
jest.setTimeout(60_000);

const RESOURCES = { vcpus: 1, memoryMiB: 256, diskGiB: 2 };
const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

function expectProblem(r: Reply, status: number): void {
  expect({ status: r.status, contentType: r.headers.get('content-type'), body: r.body }).toEqual({
    status,
    contentType: expect.stringMatching(/^application\/problem\+json/),
    body: expect.objectContaining({ status, title: expect.any(String), detail: expect.any(String) }),
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function inventory(hostname: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
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
    ...extra,
  };
}

describe('authentication and authorization', () => {
  let stack: Stack;
  let admin: ApiClient;
  const tokens: Record<string, { id: string; secret: string }> = {};
  const as = (who: string): ApiClient => admin.as(tokens[who]!.secret);

  async function issue(name: string, role: string, project?: string): Promise<{ id: string; secret: string }> {
    const r = await admin.post('/v1/tokens', { name, role, ...(project ? { project } : {}) });
    expect(r.status).toBe(201);
    expect(r.body.token).toMatch(/^hp_/);
    return { id: r.body.id, secret: r.body.token };
  }

  async function enrollmentToken(body: Record<string, unknown>): Promise<{ id: string; token: string }> {
    const r = await admin.post('/v1/enrollment-tokens', body);
    expect(r.status).toBe(201);
    return r.body;
  }

  const enroll = (token: string, hosts: Record<string, unknown>[]): Promise<Reply> => admin.request('POST', '/v1/agents/enroll', { body: { hosts }, token });
  const hostCount = async (): Promise<number> => Number((await stack.sql.query('SELECT count(*) AS n FROM hosts')).rows[0].n);

  beforeAll(async () => {
    stack = await startStack();
    admin = stack.client;
    for (const name of ['team-a', 'team-b']) expect((await admin.post('/v1/projects', { name })).status).toBe(201);
    tokens.viewer = await issue('viewer', 'viewer');
    tokens.operator = await issue('operator', 'operator');
    tokens.opA = await issue('operator of team-a', 'operator', 'team-a');
    tokens.viewerA = await issue('viewer of team-a', 'viewer', 'team-a');
    tokens.opB = await issue('operator of team-b', 'operator', 'team-b');
  });
  afterAll(() => stack.stop());

  describe('bearer tokens', () => {
    const PROTECTED: [string, string][] = [
      ['GET', '/v1/instances'],
      ['POST', '/v1/instances'],
      ['GET', '/v1/operations'],
      ['GET', '/v1/hosts'],
      ['GET', '/v1/templates'],
      ['GET', '/v1/events'],
      ['GET', '/v1/tokens'],
      ['POST', '/v1/projects'],
    ];

    it.each(PROTECTED)('refuses %s %s without a token: 401 problem+json', async (method, path) => {
      expectProblem(await admin.request(method, path, { token: null, ...(method === 'POST' ? { body: {} } : {}) }), 401);
    });

    it.each([
      ['a Basic scheme', 'Basic dGVzdDp0ZXN0'],
      ['Bearer without a token', 'Bearer'],
      ['Bearer and a blank', 'Bearer   '],
      ['a token too short to be one', 'Bearer abc'],
      ['two tokens', `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`],
      ['a token of 600 characters', `Bearer ${'x'.repeat(600)}`],
      ['another scheme with the admin token', `Token ${ADMIN_TOKEN}`],
      ['the admin token without a scheme', ADMIN_TOKEN],
    ])('refuses a malformed Authorization header (%s): 401', async (_what, header) => {
      const r = await admin.request('GET', '/v1/instances', { token: null, headers: { Authorization: header } });
      expectProblem(r, 401);
    });

    it('refuses an unknown token: 401', async () => {
      expectProblem(await admin.as('hp_this-token-was-never-issued-0000000000').get('/v1/instances'), 401);
      expectProblem(await admin.as(`${ADMIN_TOKEN}x`).get('/v1/instances'), 401);
    });

    it('takes the scheme in any case', async () => {
      expect((await admin.request('GET', '/v1/instances', { token: null, headers: { Authorization: `bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    });

    it('refuses a revoked token that was never used', async () => {
      const t = await issue('revoked-unused', 'operator');
      expect((await admin.delete(`/v1/tokens/${t.id}`)).status).toBe(204);
      expectProblem(await admin.as(t.secret).get('/v1/instances'), 401);
      const listed = (await admin.get('/v1/tokens')).body.items.find((x: any) => x.id === t.id);
      expect(listed.revokedAt).not.toBeNull();
    });

    it('refuses a revoked token that was in use (within the 10 s cache)', async () => {
      const t = await issue('revoked-used', 'operator');
      const user = admin.as(t.secret);
      expect((await user.get('/v1/instances')).status).toBe(200);
      expect((await admin.delete(`/v1/tokens/${t.id}`)).status).toBe(204);
      const refused = await waitFor('the revoked token to be refused', async () => {
        const r = await user.get('/v1/instances');
        return r.status === 401 ? r : null;
      });
      expectProblem(refused, 401);
      // Revoking twice is not an error worth a 500, and the token stays revoked.
      expect((await admin.delete(`/v1/tokens/${t.id}`)).status).toBeLessThan(500);
      expect((await user.get('/v1/instances')).status).toBe(401);
    });

    it('does not let a token revoke itself', async () => {
      const self = (await admin.get('/v1/tokens')).body.items.find((t: any) => t.name === 'bootstrap-admin');
      expectProblem(await admin.delete(`/v1/tokens/${self.id}`), 409);
      expect((await admin.get('/v1/instances')).status).toBe(200);
    });
  });

  describe('roles', () => {
    it('lets a viewer read everything fleet-wide', async () => {
      const viewer = as('viewer');
      for (const path of ['/v1/instances', '/v1/operations', '/v1/hosts', '/v1/templates']) {
        expect({ path, status: (await viewer.get(path)).status }).toEqual({ path, status: 200 });
      }
      const res = await fetch(`${stack.url}/v1/events`, { headers: { Authorization: `Bearer ${tokens.viewer!.secret}` }, signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await res.body?.cancel();
    });

    it('refuses a viewer every change with 403, and nothing changes', async () => {
      const { instance, op } = await admin.createAndWait({ name: 'viewed', template: 'debian-12', technology: 'container', resources: RESOURCES });
      const viewer = as('viewer');
      const before = Number((await stack.sql.query('SELECT count(*) AS n FROM operations')).rows[0].n);
      expectProblem(await viewer.post('/v1/instances', { name: 'by-viewer', template: 'debian-12', technology: 'container', resources: RESOURCES }), 403);
      expectProblem(await viewer.post(`/v1/instances/${instance.id}/actions/stop`), 403);
      expectProblem(await viewer.delete(`/v1/instances/${instance.id}`), 403);
      expectProblem(await viewer.post(`/v1/operations/${op.id}/cancel`), 403);
      expect(Number((await stack.sql.query('SELECT count(*) AS n FROM operations')).rows[0].n)).toBe(before);
      expect((await admin.get(`/v1/instances/${instance.id}`)).body.state).toBe('running');
    });

    it('lets a fleet-wide operator create and change instances', async () => {
      const op = as('operator');
      const { instance } = await op.createAndWait({ name: 'by-operator', template: 'alpine-3.20', technology: 'container', resources: RESOURCES });
      expect(instance.state).toBe('running');
      expect((await op.act(instance.id, 'stop')).status).toBe('succeeded');
    });

    const ADMIN_ONLY: [string, string, unknown?][] = [
      ['GET', '/v1/tokens'],
      ['POST', '/v1/tokens', { name: 'escalate', role: 'admin' }],
      ['DELETE', '/v1/tokens/7f1d4c52-0b4e-4f7e-9a51-3c2f8e0d9a11'],
      ['GET', '/v1/enrollment-tokens'],
      ['POST', '/v1/enrollment-tokens', { name: 'sneaky' }],
      ['DELETE', '/v1/enrollment-tokens/7f1d4c52-0b4e-4f7e-9a51-3c2f8e0d9a11'],
      ['GET', '/v1/projects'],
      ['POST', '/v1/projects', { name: 'sneaky' }],
    ];
    it.each(['viewer', 'operator', 'opA', 'viewerA'])('refuses the admin-only endpoints to the %s token with 403', async (who) => {
      const before = Number((await stack.sql.query('SELECT (SELECT count(*) FROM api_tokens) + (SELECT count(*) FROM enrollment_tokens) + (SELECT count(*) FROM projects) AS n')).rows[0].n);
      for (const [method, path, body] of ADMIN_ONLY) {
        const r = await as(who).request(method, path, body === undefined ? {} : { body });
        expect({ method, path, status: r.status }).toEqual({ method, path, status: 403 });
        expectProblem(r, 403);
      }
      expect(Number((await stack.sql.query('SELECT (SELECT count(*) FROM api_tokens) + (SELECT count(*) FROM enrollment_tokens) + (SELECT count(*) FROM projects) AS n')).rows[0].n)).toBe(before);
    });

    it('lets an admin use them', async () => {
      for (const path of ['/v1/tokens', '/v1/enrollment-tokens', '/v1/projects']) expect((await admin.get(path)).status).toBe(200);
    });

    it('does not issue a project-limited admin token', async () => {
      const r = await admin.post('/v1/tokens', { name: 'limited admin', role: 'admin', project: 'team-a' });
      expectProblem(r, 400);
      expect(r.body.errors.map((e: any) => e.field)).toContain('role');
    });
  });

  describe('project-scoped tokens', () => {
    let inA: any;
    let inDefault: any;
    let opInDefault: any;

    beforeAll(async () => {
      const a = await as('opA').createAndWait({ name: 'a-1', template: 'debian-12', technology: 'container', resources: RESOURCES });
      inA = a.instance;
      const d = await admin.createAndWait({ name: 'd-1', template: 'debian-12', technology: 'container', resources: RESOURCES });
      inDefault = d.instance;
      opInDefault = d.op;
    });

    it('creates in the token\'s own project when none is named', async () => {
      const projects = (await admin.get('/v1/projects')).body.items;
      expect(inA.projectId).toBe(projects.find((p: any) => p.name === 'team-a').id);
    });

    it('lists only the instances and operations of its project', async () => {
      for (const who of ['opA', 'viewerA']) {
        const instances = (await as(who).get('/v1/instances?limit=500')).body.items;
        expect(instances.length).toBeGreaterThan(0);
        expect(instances.every((i: any) => i.projectId === inA.projectId)).toBe(true);
        expect(instances.map((i: any) => i.id)).toContain(inA.id);
        const ops = (await as(who).get('/v1/operations?limit=500')).body.items;
        expect(ops.length).toBeGreaterThan(0);
        expect(ops.every((o: any) => o.projectId === inA.projectId)).toBe(true);
      }
      // Naming another project does not widen the view.
      expectProblem(await as('opA').get('/v1/instances?project=default'), 400);
      expectProblem(await as('opA').get('/v1/operations?project=team-b'), 400);
      expect((await as('opA').get(`/v1/operations?instance=${inDefault.id}`)).body.items).toEqual([]);
    });

    it('answers 404 for the instances and operations of other projects, as if they did not exist', async () => {
      const opA = as('opA');
      expectProblem(await opA.get(`/v1/instances/${inDefault.id}`), 404);
      expectProblem(await opA.get(`/v1/operations/${opInDefault.id}`), 404);
      expectProblem(await opA.get(`/v1/operations/${opInDefault.id}/wait?timeoutS=0`), 404);
      expectProblem(await opA.post(`/v1/operations/${opInDefault.id}/cancel`), 404);
      expectProblem(await opA.post(`/v1/instances/${inDefault.id}/actions/stop`), 404);
      expectProblem(await opA.delete(`/v1/instances/${inDefault.id}`), 404);
      expectProblem(await as('opB').get(`/v1/instances/${inA.id}`), 404);
      expect((await admin.get(`/v1/instances/${inDefault.id}`)).body.state).toBe('running');
      // Its own are there.
      expect((await opA.get(`/v1/instances/${inA.id}`)).status).toBe(200);
    });

    it('cannot create in another project', async () => {
      const r = await as('opA').post('/v1/instances', { name: 'elsewhere', template: 'debian-12', technology: 'container', resources: RESOURCES, project: 'team-b' });
      expectProblem(r, 400);
      expect(r.body.errors.map((e: any) => e.field)).toContain('project');
      expect((await admin.get('/v1/instances?project=team-b')).body.items.map((i: any) => i.name)).not.toContain('elsewhere');
    });

    it('cannot see hosts or pin an instance to one (403)', async () => {
      const host = (await admin.get('/v1/hosts')).body.items[0];
      expectProblem(await as('opA').get('/v1/hosts'), 403);
      expectProblem(await as('opA').get(`/v1/hosts/${host.id}`), 403);
      expectProblem(await as('viewerA').get('/v1/hosts'), 403);
      expectProblem(await as('opA').post('/v1/instances', { name: 'pinned', template: 'debian-12', technology: 'container', resources: RESOURCES, placement: { hostId: host.id } }), 403);
    });

    it('streams only its project\'s instance and operation events, and no host events', async () => {
      const all = followEvents(stack.url, ADMIN_TOKEN);
      const mine = followEvents(stack.url, tokens.opA!.secret);
      try {
        await Promise.all([all.ready, mine.ready]);
        // Elsewhere: a host joins and an instance is made in the default project.
        const token = await enrollmentToken({ name: 'sse-probe' });
        const enrolled = await enroll(token.token, [inventory('sse-probe-host')]);
        expect(enrolled.status).toBe(201);
        const other = await admin.createAndWait({ name: 'd-sse', template: 'alpine-3.20', technology: 'container', resources: RESOURCES });
        await waitFor('the admin stream to see them', () =>
          all.events.some((e) => e.data.subjectType === 'host' && e.data.subjectId === enrolled.body.hosts[0].id) &&
          all.events.some((e) => e.data.subjectId === other.instance.id && e.data.state === 'running'),
        );
        // In the project: only now, so that everything above was offered to both streams first.
        const { instance, op } = await as('opA').createAndWait({ name: 'a-sse', template: 'alpine-3.20', technology: 'container', resources: RESOURCES });
        await waitFor('the project stream to see its instance running', () => mine.events.some((e) => e.data.subjectId === instance.id && e.data.state === 'running'));
        await waitFor('the project stream to see its operation succeed', () => mine.events.some((e) => e.data.subjectId === op.id && e.data.status === 'succeeded'));

        expect(mine.events.length).toBeGreaterThan(0);
        const foreign = mine.events.filter((e) => e.data.subjectType === 'host' || e.data.projectId !== inA.projectId);
        expect(foreign.map((e) => `${e.event} ${e.data.subjectType} ${e.data.projectId}`)).toEqual([]);
        expect(new Set(mine.events.map((e) => e.data.subjectType))).toEqual(new Set(['instance', 'operation']));
        // The admin saw everything, the project's events included.
        expect(all.events.some((e) => e.data.subjectType === 'host')).toBe(true);
        expect(all.events.some((e) => e.data.subjectId === instance.id)).toBe(true);
      } finally {
        all.stop();
        mine.stop();
      }
    });

    it('does not replay other projects\' events to a project token that asks for the past', async () => {
      const past = followEvents(stack.url, tokens.opA!.secret, '?since=0');
      try {
        await past.ready;
        await waitFor('the replay of its own instance', () => past.events.some((e) => e.data.subjectId === inA.id));
        const foreign = past.events.filter((e) => e.data.subjectType === 'host' || e.data.projectId !== inA.projectId);
        expect(foreign).toEqual([]);
      } finally {
        past.stop();
      }
    });
  });

  describe('secrets', () => {
    it('stores API token secrets only as hashes', async () => {
      const t = await issue('hash-check', 'viewer');
      const { rows } = await stack.sql.query('SELECT id, secret_hash, prefix, row_to_json(t)::text AS everything FROM api_tokens t');
      for (const secret of [t.secret, ADMIN_TOKEN, tokens.opA!.secret]) {
        expect(rows.filter((r) => r.everything.includes(secret))).toEqual([]);
      }
      const row = rows.find((r) => r.id === t.id);
      expect(row.secret_hash).toBe(sha256(t.secret));
      expect(t.secret.startsWith(row.prefix)).toBe(true);
      expect(row.prefix.length).toBeLessThan(t.secret.length / 2);
      expect(rows.find((r) => r.secret_hash === sha256(ADMIN_TOKEN))).toBeDefined();
    });

    it('never shows a secret again once issued', async () => {
      const t = await issue('list-check', 'viewer');
      const listed = await admin.get('/v1/tokens');
      expect(JSON.stringify(listed.body)).not.toContain(t.secret);
      expect(JSON.stringify(listed.body)).not.toContain(ADMIN_TOKEN);
      const et = await enrollmentToken({ name: 'list-check' });
      expect(JSON.stringify((await admin.get('/v1/enrollment-tokens')).body)).not.toContain(et.token);
    });

    it('stores enrollment tokens and agent credentials only as hashes', async () => {
      const et = await enrollmentToken({ name: 'hash-check' });
      const r = await enroll(et.token, [inventory('hash-check-host')]);
      expect(r.status).toBe(201);
      const tokensText = (await stack.sql.query('SELECT row_to_json(t)::text AS t FROM enrollment_tokens t')).rows.map((x) => x.t).join('\n');
      expect(tokensText).not.toContain(et.token);
      expect(tokensText).toContain(sha256(et.token));
      // The agent's credential and Redis password are kept by its agent row, hashed; its hosts keep neither.
      const agentsText = (await stack.sql.query('SELECT row_to_json(a)::text AS a FROM agents a')).rows.map((x) => x.a).join('\n');
      const hostsText = (await stack.sql.query('SELECT row_to_json(h)::text AS h FROM hosts h')).rows.map((x) => x.h).join('\n');
      for (const secret of [r.body.credential, r.body.redis.password]) {
        expect(agentsText + hostsText).not.toContain(secret);
        expect(agentsText).toContain(sha256(secret));
      }
    });
  });

  describe('agents', () => {
    it('enrolls an agent with an enrollment token: a credential and a queue per host', async () => {
      const et = await enrollmentToken({ name: 'rack-1' });
      const r = await enroll(et.token, [inventory('rack1-a'), inventory('rack1-b', { arch: 'arm64' })]);
      expect(r.status).toBe(201);
      expect(r.body.credential).toMatch(/^hpa_/);
      expect(r.body.hosts).toHaveLength(2);
      for (const h of r.body.hosts) expect(h.queue).toBe(`host-${r.body.agentId}-${h.id}`);
      const host = (await admin.get(`/v1/hosts/${r.body.hosts[1].id}`)).body;
      expect(host).toMatchObject({ name: 'rack1-b', os: 'linux', arch: 'arm64', status: 'enrolling' });
      // An enrollment token is not an API token, and an API token does not enroll.
      expectProblem(await admin.as(et.token).get('/v1/instances'), 401);
      expectProblem(await enroll(ADMIN_TOKEN, [inventory('rack1-c')]), 401);
      expectProblem(await enroll('hpe_never-issued-000000000000000000', [inventory('rack1-c')]), 401);
    });

    it('refuses enrollment without a token, or with an inventory that is not one (400 naming the field)', async () => {
      const et = await enrollmentToken({ name: 'validation' });
      expectProblem(await admin.request('POST', '/v1/agents/enroll', { token: null, body: { hosts: [inventory('no-token')] } }), 401);
      const bad = await enroll(et.token, [inventory('bad-os', { os: 'beos', cpus: 0 })]);
      expectProblem(bad, 400);
      expect(bad.body.errors.map((e: any) => e.field)).toEqual(expect.arrayContaining(['hosts.0.os', 'hosts.0.cpus']));
      const names = (await admin.get('/v1/hosts?limit=500')).body.items.map((h: any) => h.name);
      expect(names).not.toContain('no-token');
      expect(names).not.toContain('bad-os');
    });

    it('refuses a revoked enrollment token and enrolls nothing', async () => {
      const et = await enrollmentToken({ name: 'revoked' });
      expect((await admin.delete(`/v1/enrollment-tokens/${et.id}`)).status).toBe(204);
      const before = await hostCount();
      const r = await enroll(et.token, [inventory('revoked-host')]);
      expect([401, 403]).toContain(r.status);
      expectProblem(r, r.status);
      expect(await hostCount()).toBe(before);
    });

    it('refuses an exhausted enrollment token (maxHosts) and enrolls nothing more', async () => {
      const et = await enrollmentToken({ name: 'two-hosts', maxHosts: 2 });
      // Asking for more than it allows takes nothing.
      const before = await hostCount();
      const tooMany = await enroll(et.token, [inventory('max-a'), inventory('max-b'), inventory('max-c')]);
      expect([401, 403]).toContain(tooMany.status);
      expect(await hostCount()).toBe(before);
      expect((await enroll(et.token, [inventory('max-a')])).status).toBe(201);
      expect((await enroll(et.token, [inventory('max-b')])).status).toBe(201);
      const third = await enroll(et.token, [inventory('max-c')]);
      expect([401, 403]).toContain(third.status);
      expectProblem(third, third.status);
      expect(await hostCount()).toBe(before + 2);
      const listed = (await admin.get('/v1/enrollment-tokens')).body.items.find((t: any) => t.id === et.id);
      expect(listed).toMatchObject({ maxHosts: 2, hostsEnrolled: 2 });
    });

    it('takes an inventory report only with the credential of the agent that enrolled the host', async () => {
      const et = await enrollmentToken({ name: 'two-agents' });
      const a = (await enroll(et.token, [inventory('agent-a-host')])).body;
      const b = (await enroll(et.token, [inventory('agent-b-host')])).body;
      const hostA = a.hosts[0].id;
      const report = (credential: string | null, hostId: string, cpus: number): Promise<Reply> =>
        admin.request('PUT', '/v1/agents/inventory', { token: credential, body: { hosts: [{ hostId, inventory: inventory('agent-a-host', { cpus }) }] } });

      expectProblem(await report(b.credential, hostA, 64), 401);
      expectProblem(await report(null, hostA, 64), 401);
      expectProblem(await report(ADMIN_TOKEN, hostA, 64), 401);
      // Mixing one's own host with another's is refused as a whole.
      const mixed = await admin.request('PUT', '/v1/agents/inventory', {
        token: b.credential,
        body: { hosts: [{ hostId: b.hosts[0].id, inventory: inventory('agent-b-host', { cpus: 2 }) }, { hostId: hostA, inventory: inventory('agent-a-host', { cpus: 64 }) }] },
      });
      expectProblem(mixed, 401);
      expect((await admin.get(`/v1/hosts/${hostA}`)).body.capacity.vcpus).not.toBe(64);

      expect((await report(a.credential, hostA, 12)).status).toBe(204);
      expect((await admin.get(`/v1/hosts/${hostA}`)).body.capacity.vcpus).toBe(12);
    });
  });
});
