import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Proc, simHost, spawnApp, startStack, Stack, waitFor } from '@hyperplane/testing';

const QUEUE = 'hyperplane-requests';

// The job-queue contract end to end: a producer in its own process, the API (the consumer)
// and the controller in theirs, and both killed with -9 half way. Timings are printed, not asserted.
describe('the job-queue contract', () => {
  let stack: Stack;
  let env: Record<string, string>;
  let api: Proc;
  let controller: Proc;
  let token: string;

  beforeAll(async () => {
    const roomy = { capacity: { vcpus: 512, memoryMiB: 1_048_576, diskGiB: 100_000 } };
    stack = await startStack({
      simHosts: Array.from({ length: 8 }, (_, i) => simHost(`q-${i}`, 'linux', 'x86_64', roomy)),
      timeScale: 0,
      // This process's API takes no jobs: the spawned one does, so that killing it means something.
      config: { HYPERPLANE_REQUEST_QUEUE_CONCURRENCY: 0 },
    });
    // Hosts became ready with the stack's controller; from now on the spawned one works alone.
    await stack.stopController();
    expect((await stack.client.post('/v1/projects', { name: 'queued' })).status).toBe(201);
    token = (await stack.client.post('/v1/tokens', { name: 'integration', role: 'operator', project: 'queued' })).body.token;
    env = {
      DATABASE_URL: stack.config.DATABASE_URL,
      REDIS_URL: stack.redisUrl,
      HYPERPLANE_REDIS_PREFIX: stack.config.HYPERPLANE_REDIS_PREFIX,
      HYPERPLANE_MIGRATE: 'false',
      HYPERPLANE_ADMIN_TOKEN: stack.config.HYPERPLANE_ADMIN_TOKEN!,
      HYPERPLANE_JOB_LOCK_MS: '3000',
      HYPERPLANE_RECONCILE_INTERVAL_S: '2',
      HYPERPLANE_AUTH_FAILURES_PER_MINUTE: '0',
      HYPERPLANE_REQUEST_QUEUE: QUEUE,
      PORT: '0',
    };
    api = spawnApp('api', env);
    controller = spawnApp('controller', env);
  }, 120_000);
  afterAll(async () => {
    await api?.stop().catch(() => undefined);
    await controller?.stop().catch(() => undefined);
    await stack?.stop();
  });

  it('turns 1,000 valid jobs (50 duplicate keys) and 20 invalid ones into exactly 950 operations, through a kill -9 of api and controller', async () => {
    const t0 = Date.now();
    const producer = spawn(process.execPath, [join(__dirname, 'support', 'queue-load-producer.mjs')], {
      env: { ...process.env, REDIS_URL: stack.redisUrl, PREFIX: stack.config.HYPERPLANE_REDIS_PREFIX, QUEUE, TOKEN: token, PROJECT: 'queued', UNIQUE: '950', DUPLICATES: '50', INVALID: '20', DEADLINE_MS: '240000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    producer.stdout.on('data', (d: Buffer) => (out += d.toString()));
    producer.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => producer.once('exit', (code) => r(code)));

    const count = async (): Promise<number> => (await stack.sql.query(`SELECT count(*)::int AS n FROM operations o JOIN projects p ON p.id = o.project_id WHERE p.name = 'queued'`)).rows[0].n;
    // Half way through the acceptances: both die without a word, then come back.
    await waitFor('a third of the operations', async () => (await count()) >= 300, 120_000, 200);
    await Promise.all([api.kill9(), controller.kill9()]);
    const atKill = await count();
    api = spawnApp('api', env);
    controller = spawnApp('controller', env);

    expect(await exited).toBe(0);
    const line = out.split('\n').find((l) => l.startsWith('{"summary"'));
    if (!line) throw new Error(`no summary from the producer:\n${out}\napi:\n${api.output()}`);
    const s = JSON.parse(line).summary;
    expect(s.answered).toBe(1020);
    expect(s.repeated).toBe(0); // each job's result came once
    expect(s.completed).toBe(1000);
    expect(s.operations).toBe(950);
    expect(s.statuses).toEqual({ succeeded: 1000 });
    expect(s.failed).toBe(20);
    for (const f of s.failures) {
      expect(f.jobId).toMatch(/^x-/);
      const problem = JSON.parse(f.reason);
      expect(problem).toMatchObject({ status: 400, errors: [{ field: 'resources.vcpus' }] });
    }
    expect(await count()).toBe(950);

    const [{ first, last, done }] = (
      await stack.sql.query(
        `SELECT EXTRACT(EPOCH FROM min(o.created_at)) AS first, EXTRACT(EPOCH FROM max(o.created_at)) AS last, EXTRACT(EPOCH FROM max(o.finished_at)) AS done
         FROM operations o JOIN projects p ON p.id = o.project_id WHERE p.name = 'queued'`,
      )
    ).rows;
    // The figures for the note (not asserted): acceptance and completion rates, enqueue-to-result latency.
    const figures = {
      killedAfterOperations: atKill,
      acceptedPerS: Math.round(950 / Math.max(0.001, Number(last) - Number(first))),
      completedPerS: Math.round(950 / Math.max(0.001, Number(done) - Number(first))),
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      wallS: Math.round(s.lastResultMs / 100) / 10,
      producerS: Math.round(s.summaryMs / 100) / 10,
      testS: Math.round((Date.now() - t0) / 100) / 10,
    };
    console.log(`job-queue figures: ${JSON.stringify(figures)}`);
    // Every accepted job is in the audit trail, from "queue".
    const audited = (await stack.sql.query(`SELECT count(DISTINCT request_id)::int AS n FROM audit_entries WHERE source = 'queue' AND status = 202`)).rows[0].n;
    expect(audited).toBeGreaterThanOrEqual(1000 - 50); // a job re-run after the kill may be recorded twice; none is missing
  }, 300_000);
});
