import { RetentionPruner } from '@hyperplane/controller';
import { ApiClient, simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

describe('the audit trail', () => {
  let stack: Stack;
  let admin: ApiClient;
  let teamA: ApiClient;
  let teamB: ApiClient;
  let viewerA: ApiClient;
  let projectA: string;
  const spec = (name: string) => ({ project: 'team-a', name, template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
  const entries = async (client: ApiClient, query = ''): Promise<any[]> => {
    const r = await client.get(`/v1/audit?limit=500${query}`);
    expect(r.status).toBe(200);
    return r.body.items;
  };
  const entryFor = (client: ApiClient, requestId: string) =>
    waitFor(`the audit entry of ${requestId}`, async () => (await entries(client)).find((e) => e.requestId === requestId));

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('au-1', 'linux', 'x86_64')] });
    admin = stack.client;
    projectA = (await admin.post('/v1/projects', { name: 'team-a' })).body.id;
    await admin.post('/v1/projects', { name: 'team-b' });
    const token = async (name: string, role: string, project: string) => (await admin.post('/v1/tokens', { name, role, project })).body.token as string;
    teamA = admin.as(await token('operator of team-a', 'operator', 'team-a'));
    teamB = admin.as(await token('operator of team-b', 'operator', 'team-b'));
    viewerA = admin.as(await token('viewer of team-a', 'viewer', 'team-a'));
  });
  afterAll(() => stack?.stop());

  it('records who, what, when, from where, the request id and the outcome of a change', async () => {
    const before = Date.now() - 1000;
    const created = await teamA.request('POST', '/v1/instances', { body: spec('audited'), headers: { 'X-Request-Id': 'audit-create-1' } });
    expect(created.status).toBe(202);
    const e = await entryFor(admin, 'audit-create-1');
    expect(e).toMatchObject({ tokenName: 'operator of team-a', role: 'operator', projectId: projectA, action: 'POST /v1/instances', target: '/v1/instances', status: 202 });
    expect(e.source).toMatch(/127\.0\.0\.1/);
    expect(e.tokenId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(e.at)).toBeGreaterThan(before);
    await teamA.waitOp(created.body.id, 120);
  });

  it('records refusals too: bad input, a wrong token, a forbidden change', async () => {
    expect((await teamA.request('POST', '/v1/instances', { body: { ...spec('bad'), resources: { vcpus: -1 } }, headers: { 'X-Request-Id': 'audit-bad-1' } })).status).toBe(400);
    expect((await admin.request('POST', '/v1/instances', { body: spec('x'), token: 'not-a-real-token-at-all', headers: { 'X-Request-Id': 'audit-401' } })).status).toBe(401);
    expect((await viewerA.request('POST', '/v1/instances', { body: spec('v'), headers: { 'X-Request-Id': 'audit-403' } })).status).toBe(403);
    expect(await entryFor(admin, 'audit-bad-1')).toMatchObject({ status: 400, tokenName: 'operator of team-a' });
    expect(await entryFor(admin, 'audit-401')).toMatchObject({ status: 401, tokenId: null, action: 'POST /v1/instances' });
    expect(await entryFor(admin, 'audit-403')).toMatchObject({ status: 403, tokenName: 'viewer of team-a', projectId: projectA });
  });

  it('records fleet changes: hosts, tokens, projects, policies, webhooks; reads are not recorded', async () => {
    const host = (await admin.get('/v1/hosts')).body.items[0];
    const h = { 'X-Request-Id': 'audit-host' };
    expect((await admin.request('POST', `/v1/hosts/${host.id}/actions/drain`, { headers: h })).status).toBeLessThan(300);
    await admin.post(`/v1/hosts/${host.id}/actions/activate`);
    await admin.request('POST', '/v1/tokens', { body: { name: 'minted', role: 'viewer' }, headers: { 'X-Request-Id': 'audit-token' } });
    await admin.request('POST', '/v1/projects', { body: { name: 'team-c' }, headers: { 'X-Request-Id': 'audit-project' } });
    await admin.request('PUT', '/v1/projects/team-a/policy', { body: { strategy: 'spread' }, headers: { 'X-Request-Id': 'audit-policy' } });
    await teamA.request('POST', '/v1/webhooks', { body: { url: 'https://93.184.216.34/hook', events: ['operation.completed'] }, headers: { 'X-Request-Id': 'audit-webhook' } });
    await admin.request('GET', '/v1/hosts', { headers: { 'X-Request-Id': 'audit-read' } });

    expect(await entryFor(admin, 'audit-host')).toMatchObject({ action: 'POST /v1/hosts/:id/actions/:action', target: `/v1/hosts/${host.id}/actions/drain`, projectId: null, role: 'admin' });
    expect(await entryFor(admin, 'audit-token')).toMatchObject({ action: 'POST /v1/tokens', status: 201 });
    expect(await entryFor(admin, 'audit-project')).toMatchObject({ action: 'POST /v1/projects', status: 201 });
    expect(await entryFor(admin, 'audit-policy')).toMatchObject({ action: 'PUT /v1/projects/:name/policy', projectId: projectA });
    expect(await entryFor(admin, 'audit-webhook')).toMatchObject({ action: 'POST /v1/webhooks', projectId: projectA, status: 201 });
    expect((await entries(admin)).some((e) => e.requestId === 'audit-read')).toBe(false);
  });

  it('filters by action, target, token and time, newest first, in pages', async () => {
    const hosts = await entries(admin, '&target=/v1/hosts');
    expect(hosts.length).toBeGreaterThanOrEqual(2);
    expect(hosts.every((e) => e.target.startsWith('/v1/hosts'))).toBe(true);
    const creates = await entries(admin, `&action=${encodeURIComponent('POST /v1/instances')}`);
    expect(creates.every((e) => e.action === 'POST /v1/instances')).toBe(true);
    expect(creates.map((e) => Number(e.id))).toEqual([...creates.map((e) => Number(e.id))].sort((a, b) => b - a));
    const tokenId = creates.find((e) => e.tokenName === 'operator of team-a').tokenId;
    expect((await entries(admin, `&tokenId=${tokenId}`)).every((e) => e.tokenId === tokenId)).toBe(true);
    expect(await entries(admin, `&from=${new Date(Date.now() + 3600_000).toISOString()}`)).toEqual([]);
    const page = await admin.get('/v1/audit?limit=2');
    expect(page.body.items).toHaveLength(2);
    const next = await admin.get(`/v1/audit?limit=2&cursor=${page.body.nextCursor}`);
    expect(Number(next.body.items[0].id)).toBeLessThan(Number(page.body.items[1].id));
    expect((await admin.get('/v1/audit?from=yesterday')).body.errors[0].field).toBe('from');
  });

  it("shows a project's token its project's entries only, and never another tenant's", async () => {
    const mine = await entries(teamA);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e) => e.projectId === projectA)).toBe(true);
    // An admin's change to team-a's instance is team-a's history too.
    const instance = (await teamA.get('/v1/instances?project=team-a')).body.items[0];
    await admin.request('POST', `/v1/instances/${instance.id}/actions/stop`, { headers: { 'X-Request-Id': 'audit-admin-stop' } });
    expect(await entryFor(teamA, 'audit-admin-stop')).toMatchObject({ role: 'admin', projectId: projectA });
    expect((await entries(teamB)).some((e) => e.projectId === projectA)).toBe(false);
    expect((await teamB.get('/v1/audit?project=team-a')).status).toBe(400);
    expect((await viewerA.get('/v1/audit')).status).toBe(403);
  });

  it('is append-only: UPDATE and DELETE are refused; only the pruner removes old entries', async () => {
    await expect(stack.sql.query(`UPDATE audit_entries SET status = 200`)).rejects.toThrow(/append-only/);
    await expect(stack.sql.query(`DELETE FROM audit_entries`)).rejects.toThrow(/append-only/);
    await stack.sql.query(
      `INSERT INTO audit_entries (created_at, action, target, source, status) VALUES (now() - interval '400 days', 'POST /v1/old', '/v1/old', 'queue', 202)`,
    );
    await stack.sql.query(`INSERT INTO events (type, subject_type, subject_id, data, created_at) VALUES ('host.status', 'host', gen_random_uuid(), '{}', now() - interval '40 days')`);
    const [{ n: auditBefore }] = (await stack.sql.query(`SELECT count(*)::int AS n FROM audit_entries`)).rows;
    const pruned = await stack.controller!.get(RetentionPruner).prune();
    expect(pruned.audit).toBe(1);
    expect(pruned.events).toBe(1);
    const [{ n: auditAfter }] = (await stack.sql.query(`SELECT count(*)::int AS n FROM audit_entries`)).rows;
    expect(auditAfter).toBe(auditBefore - 1);
    expect((await stack.sql.query(`SELECT 1 FROM audit_entries WHERE action = 'POST /v1/old'`)).rowCount).toBe(0);
  });
});
