import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { Client } from 'pg';
import { ApiClient, simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

// The documented algorithm, written here rather than borrowed from the project (Standard
// Webhooks): v1,<base64 HMAC-SHA256 of "id.timestamp.body" keyed with the secret's bytes>.
function verify(secret: string, r: Received): boolean {
  const id = String(r.headers['webhook-id']);
  const ts = String(r.headers['webhook-timestamp']);
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${r.body}`).digest();
  return String(r.headers['webhook-signature'])
    .split(' ')
    .some((s) => {
      const [version, sig] = s.split(',');
      const given = Buffer.from(sig ?? '', 'base64');
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/** A receiver in the test process: records every request; `answers[path]` scripts the replies. */
class Receiver {
  readonly got: Received[] = [];
  readonly answers = new Map<string, { status: number; headers?: Record<string, string> }[]>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.got.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        const next = this.answers.get(path)?.shift() ?? { status: 204 };
        res.writeHead(next.status, next.headers ?? {}).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  at(path: string): Received[] {
    return this.got.filter((r) => r.path === path);
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('signed webhooks', () => {
  let stack: Stack;
  let admin: ApiClient;
  let teamA: ApiClient;
  let teamB: ApiClient;
  const receiver = new Receiver();
  const spec = (project: string, name: string) => ({ project, name, template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
  const events = ['instance.state_changed', 'operation.completed', 'host.status_changed'];
  const payload = (r: Received) => JSON.parse(r.body) as { type: string; timestamp: string; data: Record<string, unknown> };

  beforeAll(async () => {
    await receiver.start();
    stack = await startStack({
      simHosts: [simHost('wh-1', 'linux', 'x86_64'), simHost('wh-2', 'linux', 'x86_64')],
      config: { HYPERPLANE_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', HYPERPLANE_WEBHOOK_RETRY_SCALE: 0.01 },
    });
    admin = stack.client;
    for (const p of ['team-a', 'team-b']) expect((await admin.post('/v1/projects', { name: p })).status).toBe(201);
    const tokenOf = async (project: string) => (await admin.post('/v1/tokens', { name: `operator of ${project}`, role: 'operator', project })).body.token as string;
    teamA = admin.as(await tokenOf('team-a'));
    teamB = admin.as(await tokenOf('team-b'));
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver.stop();
  });

  it('shows the secret once and refuses bad subscriptions naming the field', async () => {
    const made = await teamA.post('/v1/webhooks', { url: `${receiver.url}/once`, events: ['operation.completed'] });
    expect(made.status).toBe(201);
    expect(made.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = (await teamA.get('/v1/webhooks')).body.items;
    expect(listed.map((w: any) => w.id)).toContain(made.body.id);
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    expect(JSON.stringify((await teamA.get(`/v1/webhooks/${made.body.id}`)).body)).not.toContain('whsec_');
    const bad = await teamA.post('/v1/webhooks', { url: `${receiver.url}/x`, events: ['instance.exploded'] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('events');
    expect((await teamA.post('/v1/webhooks', { url: 'file:///etc/passwd', events: ['operation.completed'] })).body.errors[0].field).toBe('url');
    // Only a fleet-wide admin may subscribe to everything (hosts included).
    expect((await teamA.request('DELETE', `/v1/webhooks/${made.body.id}`)).status).toBe(204);
    expect((await teamA.get(`/v1/webhooks/${made.body.id}`)).status).toBe(404);
  });

  it("delivers a project's events, signed, only to that project's webhooks; host events only to fleet-wide ones", async () => {
    const a = await teamA.post('/v1/webhooks', { url: `${receiver.url}/a`, events: ['instance.state_changed', 'operation.completed'] });
    const b = await teamB.post('/v1/webhooks', { url: `${receiver.url}/b`, events: ['instance.state_changed', 'operation.completed'] });
    const fleet = await admin.post('/v1/webhooks', { url: `${receiver.url}/fleet`, events });
    // A project token asking for host events gets none: they are not its project's.
    const aHosts = await teamA.post('/v1/webhooks', { url: `${receiver.url}/a-hosts`, events: ['host.status_changed'] });
    for (const r of [a, b, fleet, aHosts]) expect(r.status).toBe(201);

    const { op, instance } = await teamA.createAndWait(spec('team-a', 'hooked'), 120);
    expect(op.status).toBe('succeeded');
    const completed = await waitFor('the completion at /a', async () => receiver.at('/a').find((r) => payload(r).type === 'operation.completed' && payload(r).data.operationId === op.id));
    expect(verify(a.body.secret, completed)).toBe(true);
    expect(verify(b.body.secret, completed)).toBe(false); // the check can fail
    expect(payload(completed)).toMatchObject({ type: 'operation.completed', data: { operationId: op.id, kind: 'create', status: 'succeeded', instanceId: instance.id } });
    expect(new Date(payload(completed).timestamp).getTime()).toBeGreaterThan(0);
    await waitFor('the running state at /a', async () => receiver.at('/a').some((r) => payload(r).type === 'instance.state_changed' && payload(r).data.state === 'running'));
    for (const r of receiver.at('/a')) expect(verify(a.body.secret, r)).toBe(true);
    // The project's webhook never learns the host; the fleet's does.
    expect(receiver.at('/a').some((r) => 'hostId' in payload(r).data)).toBe(false);
    await waitFor('the fleet to see the instance on its host', async () => receiver.at('/fleet').some((r) => payload(r).data.instanceId === instance.id && typeof payload(r).data.hostId === 'string'));

    const host = (await admin.get('/v1/hosts')).body.items[0];
    expect((await admin.post(`/v1/hosts/${host.id}/actions/drain`)).status).toBeLessThan(300);
    const drained = await waitFor('the host event at /fleet', async () => receiver.at('/fleet').find((r) => payload(r).type === 'host.status_changed'));
    expect(verify(fleet.body.secret, drained)).toBe(true);
    expect(payload(drained).data).toMatchObject({ hostId: host.id, status: 'draining' });
    expect((await admin.post(`/v1/hosts/${host.id}/actions/activate`)).status).toBeLessThan(300);

    // Tenant b heard nothing of tenant a; a's host subscription got nothing.
    expect(receiver.at('/b')).toHaveLength(0);
    expect(receiver.at('/a-hosts')).toHaveLength(0);
    // The delivery log shows each attempt with its status code and time.
    const log = (await teamA.get(`/v1/webhooks/${a.body.id}/deliveries`)).body.items;
    expect(log.length).toBeGreaterThan(0);
    expect(log[0]).toMatchObject({ status: 'succeeded', attempts: [{ statusCode: 204 }] });
    expect(typeof log[0].attempts[0].durationMs).toBe('number');
  });

  it('retries with backoff under the same webhook-id, honours Retry-After, and redelivers on request', async () => {
    const hook = await teamA.post('/v1/webhooks', { url: `${receiver.url}/flaky`, events: ['operation.completed'] });
    receiver.answers.set('/flaky', [{ status: 500 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 200 }]);
    const { op } = await teamA.createAndWait(spec('team-a', 'flaky'), 120);
    const tries = await waitFor('three attempts', async () => {
      const got = receiver.at('/flaky').filter((r) => payload(r).data.operationId === op.id);
      return got.length >= 3 ? got : null;
    });
    expect(new Set(tries.map((t) => t.headers['webhook-id'])).size).toBe(1);
    for (const t of tries) expect(verify(hook.body.secret, t)).toBe(true);
    // The third came no sooner than the second's Retry-After of 1 s.
    expect(tries[2]!.at - tries[1]!.at).toBeGreaterThanOrEqual(950);
    const delivery = await waitFor('the delivery to succeed', async () => {
      const d = (await teamA.get(`/v1/webhooks/${hook.body.id}/deliveries`)).body.items.find((x: any) => x.payload.data.operationId === op.id);
      return d?.status === 'succeeded' ? d : null;
    });
    expect(delivery.attempts.map((x: any) => x.statusCode)).toEqual([500, 429, 200]);

    expect((await teamA.post(`/v1/webhooks/${hook.body.id}/deliveries/${delivery.id}/redeliver`)).status).toBe(202);
    await waitFor('the redelivery', async () => receiver.at('/flaky').filter((r) => r.headers['webhook-id'] === delivery.id).length >= 4);
  });

  it('disables a webhook whose endpoint answers 410', async () => {
    const hook = await teamA.post('/v1/webhooks', { url: `${receiver.url}/gone`, events: ['operation.completed'] });
    receiver.answers.set('/gone', [{ status: 410 }]);
    await teamA.createAndWait(spec('team-a', 'gone'), 120);
    const after = await waitFor('the webhook to be disabled', async () => {
      const w = (await teamA.get(`/v1/webhooks/${hook.body.id}`)).body;
      return w.enabled === false ? w : null;
    });
    expect(after.disabledReason).toMatch(/410/);
    const before = receiver.at('/gone').length;
    await teamA.createAndWait(spec('team-a', 'gone-2'), 120);
    const log = (await teamA.get(`/v1/webhooks/${hook.body.id}/deliveries`)).body.items;
    expect(log.every((d: any) => d.status !== 'pending')).toBe(true);
    expect(receiver.at('/gone')).toHaveLength(before);
  });

  it('delivers events that happened while no controller ran (they wait in PostgreSQL)', async () => {
    await admin.post('/v1/webhooks', { url: `${receiver.url}/restart`, events: ['host.status_changed'] });
    await stack.stopController();
    const host = (await admin.get('/v1/hosts')).body.items[1];
    // Drain and activate are the API's own: their events (and deliveries) commit with no controller.
    expect((await admin.post(`/v1/hosts/${host.id}/actions/drain`)).status).toBeLessThan(300);
    expect((await admin.post(`/v1/hosts/${host.id}/actions/activate`)).status).toBeLessThan(300);
    expect(receiver.at('/restart')).toHaveLength(0);
    await stack.startController();
    await waitFor('both host events after the restart', async () => receiver.at('/restart').length >= 2);
    expect(receiver.at('/restart').map((r) => payload(r).data.status)).toEqual(['draining', 'ready']);
  });

  it('sends again a delivery whose job was lost with Redis', async () => {
    const hook = await admin.post('/v1/webhooks', { url: `${receiver.url}/lost`, events: ['host.status_changed'] });
    await stack.stopController();
    const host = (await admin.get('/v1/hosts')).body.items[0];
    expect((await admin.post(`/v1/hosts/${host.id}/actions/drain`)).status).toBeLessThan(300);
    // As if a relay had queued it and Redis had then lost the job.
    const marked = await stack.sql.query(`UPDATE webhook_deliveries SET queued = true, next_attempt_at = now() WHERE webhook_id = $1`, [hook.body.id]);
    expect(marked.rowCount).toBe(1);
    await stack.startController();
    const got = await waitFor('the lost delivery', async () => receiver.at('/lost')[0], 60_000);
    expect(verify(hook.body.secret, got)).toBe(true);
    expect(payload(got).data).toMatchObject({ hostId: host.id, status: 'draining' });
    await admin.post(`/v1/hosts/${host.id}/actions/activate`);
  });

  it('wakes the relay only when a delivery waits to be queued, not at every commit of events', async () => {
    const listener = new Client({ connectionString: stack.config.DATABASE_URL });
    await listener.connect();
    try {
      let heard = 0;
      listener.on('notification', (m) => (m.channel === 'hp_webhooks' ? heard++ : undefined));
      await listener.query('LISTEN hp_webhooks');
      const [delivery] = (await stack.sql.query(`SELECT id FROM webhook_deliveries WHERE queued ORDER BY created_at LIMIT 1`)).rows;
      // Changes that leave nothing to queue, and events no webhook wants: silence.
      await stack.sql.query(`UPDATE webhook_deliveries SET attempts = attempts WHERE id = $1`, [delivery.id]);
      await stack.sql.query(`INSERT INTO events (type, subject_type, subject_id, data) VALUES ('host.heartbeat', 'host', gen_random_uuid(), '{}')`);
      // A notification sent by a commit arrives before the answer to the next query on the listener's connection.
      await listener.query('SELECT 1');
      expect(heard).toBe(0);
      await stack.sql.query(`UPDATE webhook_deliveries SET queued = false WHERE id = $1`, [delivery.id]);
      await waitFor('the notification', async () => heard === 1, 5_000, 10);
    } finally {
      await listener.end();
    }
  });

  it("never shows a tenant another's webhooks or deliveries", async () => {
    const a = (await teamA.get('/v1/webhooks')).body.items;
    expect(a.length).toBeGreaterThan(0);
    const aProject = a[0].projectId;
    for (const w of a) {
      expect((await teamB.get(`/v1/webhooks/${w.id}`)).status).toBe(404);
      expect((await teamB.get(`/v1/webhooks/${w.id}/deliveries`)).status).toBe(404);
      expect((await teamB.request('DELETE', `/v1/webhooks/${w.id}`)).status).toBe(404);
    }
    expect((await teamB.get('/v1/webhooks')).body.items.every((w: any) => w.projectId !== aProject)).toBe(true);
    expect((await teamB.get('/v1/webhooks?project=team-a')).status).toBe(400);
    // Fleet-wide webhooks are not a project token's either.
    const fleet = (await admin.get('/v1/webhooks')).body.items.find((w: any) => w.projectId === null);
    expect((await teamA.get(`/v1/webhooks/${fleet.id}`)).status).toBe(404);
  });
});
