import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AgentRepository, Database, HostRepository, OutboxRepository } from '@hyperplane/db';
import { ControllerListener, ControllerMetrics } from '@hyperplane/controller';
import { createAppLogger, JsonLogger, startHealthServer } from '@hyperplane/observability';
import { agentResultsQueueName, HeartbeatStore, hostQueueName, JobQueue, QueueName } from '@hyperplane/queue';
import { freePort, MIXED_FLEET, Proc, spawnApp, Stack, startStack, waitFor } from '@hyperplane/testing';

/** Prometheus text → the value of one series, given its name and exact labels (undefined if absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

async function scrape(url: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  return { status: res.status, text: await res.text() };
}

describe('observability: metrics, health listeners and request ids', () => {
  let stack: Stack;
  let controllerPort: number;
  let agentPort: number;
  const requestId = 'obs-test-req-0001';
  let opId: string;
  let hostId: string;

  beforeAll(async () => {
    controllerPort = await freePort();
    agentPort = await freePort();
    stack = await startStack({
      simHosts: MIXED_FLEET.slice(0, 2),
      config: { HYPERPLANE_CONTROLLER_PORT: controllerPort },
      agent: { listen: { port: agentPort, bind: '127.0.0.1' } },
    });
    const r = await stack.client.post(
      '/v1/instances',
      { name: 'observed', template: 'debian-12', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 5 } },
      { 'X-Request-Id': requestId },
    );
    expect(r.status).toBe(202);
    expect(r.headers.get('x-request-id')).toBe(requestId);
    opId = r.body.id;
    const op = await stack.client.waitOp(opId);
    expect(op.status).toBe('succeeded');
    hostId = (await stack.client.get(`/v1/instances/${r.body.instanceId}`)).body.hostId;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('serves the named series on the api after a create, with sensible values', async () => {
    const { status, text } = await scrape(`${stack.url}/metrics`, stack.client.token);
    expect(status).toBe(200);
    expect(sample(text, 'hyperplane_operations_total', { kind: 'create', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hyperplane_operation_duration_seconds_count', { kind: 'create', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    // The route pattern, not the URL; the create answered 202.
    expect(sample(text, 'hyperplane_http_request_duration_seconds_count', { method: 'POST', route: '/v1/instances', status: '202' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hyperplane_http_request_duration_seconds_count', { method: 'GET', route: '/v1/instances/:id', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('observed'); // no instance names in labels
    expect(sample(text, 'hyperplane_placement_decision_duration_seconds_count', { mode: 'single' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hyperplane_placement_decisions_total', { result: 'placed' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hyperplane_driver_call_duration_seconds_count', { driver: 'sim', operation: 'create', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hyperplane_job_wait_seconds_count', { queue: 'control' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hyperplane_job_duration_seconds_count', { queue: 'host', outcome: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hyperplane_outbox_relay_lag_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'hyperplane_hosts', { status: 'ready' })).toBe(2);
    expect(sample(text, 'hyperplane_hosts', { status: 'down' })).toBe(0);
    const maxAge = sample(text, 'hyperplane_host_heartbeat_age_seconds', { stat: 'max' });
    expect(maxAge).toBeGreaterThanOrEqual(0);
    expect(maxAge).toBeLessThan(stack.config.HYPERPLANE_HEARTBEAT_TIMEOUT_S);
    expect(sample(text, 'hyperplane_outbox_pending')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'hyperplane_queue_jobs', { queue: 'control', state: 'waiting' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'hyperplane_queue_jobs', { queue: 'host', state: 'active' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'hyperplane_event_stream_connections')).toBe(0);
    expect(sample(text, 'hyperplane_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts the jobs of the control queue and of the agent\'s host queues', async () => {
    const opts = { connection: { url: stack.redisUrl }, prefix: stack.config.HYPERPLANE_REDIS_PREFIX };
    const control = new Queue(QueueName.Control, opts);
    const host = new Queue(hostQueueName(stack.agent!.id, hostId), opts);
    try {
      // Delayed for an hour: they stay put while we look.
      await control.add('operation.run', { operationId: '00000000-0000-0000-0000-000000000000' }, { jobId: 'obs-delayed', delay: 3_600_000 });
      await host.add('host.command', {}, { jobId: 'obs-delayed-1', delay: 3_600_000 });
      await host.add('host.command', {}, { jobId: 'obs-delayed-2', delay: 3_600_000 });
      const { text } = await scrape(`${stack.url}/metrics`, stack.client.token);
      expect(sample(text, 'hyperplane_queue_jobs', { queue: 'control', state: 'delayed' })).toBe(1);
      expect(sample(text, 'hyperplane_queue_jobs', { queue: 'host', state: 'delayed' })).toBe(2);
    } finally {
      await control.remove('obs-delayed');
      await host.remove('obs-delayed-1');
      await host.remove('obs-delayed-2');
      await control.close();
      await host.close();
    }
  });

  it('counts open event streams', async () => {
    const ac = new AbortController();
    const res = await fetch(`${stack.url}/v1/events`, { headers: { Authorization: `Bearer ${stack.client.token}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    try {
      expect(sample((await scrape(`${stack.url}/metrics`, stack.client.token)).text, 'hyperplane_event_stream_connections')).toBe(1);
    } finally {
      ac.abort();
    }
    // Closed: the gauge goes back down, and the stream's hours are not a request latency.
    const text = await waitFor('the stream to be counted as closed', async () => {
      const t = (await scrape(`${stack.url}/metrics`, stack.client.token)).text;
      return sample(t, 'hyperplane_event_stream_connections') === 0 ? t : null;
    });
    expect(sample(text, 'hyperplane_http_request_duration_seconds_count', { route: '/v1/events' })).toBeUndefined();
  });

  it('keeps the api\'s /metrics to fleet-wide tokens', async () => {
    expect((await scrape(`${stack.url}/metrics`)).status).toBe(401);
    expect((await stack.client.post('/v1/projects', { name: 'metrics-team' })).status).toBe(201);
    const project = await stack.client.post('/v1/tokens', { name: 'team viewer', role: 'viewer', project: 'metrics-team' });
    expect(project.status).toBe(201);
    expect((await scrape(`${stack.url}/metrics`, project.body.token)).status).toBe(403);
    const viewer = await stack.client.post('/v1/tokens', { name: 'prometheus', role: 'viewer' });
    expect((await scrape(`${stack.url}/metrics`, viewer.body.token)).status).toBe(200);
  });

  it('serves /healthz, /readyz and /metrics on the controller\'s and the agent\'s listeners', async () => {
    expect(stack.controller!.get(ControllerListener).port).toBe(controllerPort);
    expect(stack.agent!.listenPort).toBe(agentPort);
    for (const port of [controllerPort, agentPort]) {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await scrape(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(sample(metrics.text, 'hyperplane_operations_total', { kind: 'create', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
      expect(sample(metrics.text, 'hyperplane_hosts', { status: 'ready' })).toBe(2);
    }
    const controllerReady = await fetch(`http://127.0.0.1:${controllerPort}/readyz`);
    expect(controllerReady.status).toBe(200);
    expect(await controllerReady.json()).toEqual({ status: 'ready', checks: { started: 'ok', postgres: 'ok', redis: 'ok' } });
    const agentReady = await fetch(`http://127.0.0.1:${agentPort}/readyz`);
    expect(agentReady.status).toBe(200);
    expect(await agentReady.json()).toEqual({ status: 'ready', checks: { redis: 'ok', enrolled: 'ok' } });
  });

  it('carries X-Request-Id to the operation, the host command and the agent\'s result', async () => {
    const op = (await stack.client.get(`/v1/operations/${opId}`)).body;
    expect(op.requestId).toBe(requestId);
    const results = new Queue(agentResultsQueueName(stack.agent!.id), { connection: { url: stack.redisUrl }, prefix: stack.config.HYPERPLANE_REDIS_PREFIX });
    const hostQueue = new Queue(hostQueueName(stack.agent!.id, hostId), { connection: { url: stack.redisUrl }, prefix: stack.config.HYPERPLANE_REDIS_PREFIX });
    try {
      const command = await hostQueue.getJob(`cmd-${opId}-create`);
      expect(command?.data.requestId).toBe(requestId);
      const result = await results.getJob(`res-${opId}-create-${hostId}`);
      expect(result?.data).toMatchObject({ operationId: opId, ok: true, requestId });
    } finally {
      await results.close();
      await hostQueue.close();
    }
  });

  it('writes JSON log lines of the api, the controller and the agent that carry the request id', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    Logger.overrideLogger(new JsonLogger('debug', sink));
    try {
      const id = 'obs-test-logs-0002';
      const r = await stack.client.post(
        '/v1/instances',
        { name: 'logged', template: 'debian-12', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 5 } },
        { 'X-Request-Id': id },
      );
      expect(r.status).toBe(202);
      expect((await stack.client.waitOp(r.body.id)).status).toBe('succeeded');
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { context?: string; requestId?: string; msg: string });
      const contexts = new Set(lines.filter((l) => l.requestId === id).map((l) => l.context));
      // api (access log), controller (placement), agent (the driver call)
      expect([...contexts].sort()).toEqual(expect.arrayContaining(['agent', 'http', 'operations']));
      expect(lines.find((l) => l.requestId === id && l.context === 'agent' && /^sim create .* ok in/.test(l.msg))).toBeDefined();
    } finally {
      Logger.overrideLogger(createAppLogger(stack.config));
    }
  });

  it('gives a batch\'s children the request id of the batch', async () => {
    const id = 'obs-test-batch-0003';
    const r = await stack.client.post(
      '/v1/instances/batch',
      { count: 3, namePrefix: 'obs-batch', spec: { template: 'debian-12', technology: 'container', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } } },
      { 'X-Request-Id': id },
    );
    expect(r.status).toBe(202);
    expect((await stack.client.waitOp(r.body.id)).status).toBe('succeeded');
    const { rows } = await stack.sql.query('SELECT request_id FROM operations WHERE parent_id = $1', [r.body.id]);
    expect(rows.map((x: { request_id: string }) => x.request_id)).toEqual([id, id, id]);
  });

  it('gives a request without a usable X-Request-Id a fresh one', async () => {
    const r = await stack.client.request('GET', '/v1/hosts', { headers: { 'X-Request-Id': 'has spaces in it' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves them from a controller and an agent run as processes of their own, which log JSON lines when not on a terminal', async () => {
    const [cPort, aPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'hp-obs-agent-'));
    const common = { DATABASE_URL: stack.config.DATABASE_URL, REDIS_URL: stack.redisUrl, HYPERPLANE_REDIS_PREFIX: stack.config.HYPERPLANE_REDIS_PREFIX, HYPERPLANE_MIGRATE: 'false', LOG_LEVEL: 'log' };
    const procs: Proc[] = [];
    try {
      procs.push(spawnApp('controller', { ...common, HYPERPLANE_CONTROLLER_PORT: String(cPort) }));
      procs.push(
        spawnApp('agent', {
          ...common,
          HYPERPLANE_AGENT_PORT: String(aPort),
          HYPERPLANE_API_URL: stack.url,
          HYPERPLANE_ENROLLMENT_TOKEN: await stack.enrollmentToken(),
          HYPERPLANE_LOCAL_AGENT: 'false',
          HYPERPLANE_SIM_HOSTS: '1',
          HYPERPLANE_DATA_DIR: dataDir,
        }),
      );
      for (const port of [cPort, aPort]) {
        const ready = await waitFor(`/readyz on ${port}`, async () => {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
          return res?.status === 200 ? res.json() : null;
        });
        expect(ready).toMatchObject({ status: 'ready' });
        const metrics = await scrape(`http://127.0.0.1:${port}/metrics`);
        expect(metrics.text).toContain('hyperplane_queue_jobs');
      }
      for (const p of procs) {
        const lines = p.output().trim().split('\n');
        expect(lines.length).toBeGreaterThan(0);
        for (const line of lines) expect(JSON.parse(line)).toHaveProperty('msg');
      }
    } finally {
      for (const p of procs) await p.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('answers /readyz 503 on a controller listener whose Redis does not answer', async () => {
    const closed = await freePort();
    const db = stack.controller!.get(Database);
    const queue = new JobQueue({ url: `redis://127.0.0.1:${closed}`, prefix: 'hpt-closed' }, 'readyz-test');
    queue.connection.on('error', () => undefined);
    const metrics = new ControllerMetrics(db, stack.controller!.get(HostRepository), stack.controller!.get(OutboxRepository), new HeartbeatStore(queue.connection, 'hpt-closed'), queue, stack.controller!.get(AgentRepository));
    const server = await startHealthServer({ port: 0, bind: '127.0.0.1', checks: metrics.readinessChecks() });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; checks: Record<string, string> };
      expect(body.status).toBe('unready');
      expect(body.checks.postgres).toBe('ok');
      expect(body.checks.redis).not.toBe('ok');
      // Ready means working: a controller whose relay, reconciler and workers have not started is not.
      expect(body.checks.started).not.toBe('ok');
      expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
      queue.connection.disconnect();
    }
  });
});
