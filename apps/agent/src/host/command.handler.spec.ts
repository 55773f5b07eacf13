import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, UnrecoverableError } from 'bullmq';
import { Driver, DriverError, InstanceSpec, SimDriver } from '@hyperplane/drivers';
import { AgentResultBatchPayload, AgentResultPayload, deleteRedisPrefix, HostCommandBatchPayload, HostCommandPayload, JobName, JobQueue, agentResultsQueueName } from '@hyperplane/queue';
import { CommandHandler } from './command.handler';

// Against a real Redis (the results are read back from the agent-results queue) and the
// simulated driver, with scripted failures in front of it.

const REDIS_URL = process.env.HYPERPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const HOST = randomUUID();
const RESULTS = agentResultsQueueName(randomUUID());

jest.setTimeout(30_000);

/** The simulated driver, failing `create` of chosen instances as scripted, and counting calls. */
function scripted(inner: SimDriver, failures: Map<string, DriverError[]>): { driver: Driver; creates: Map<string, number>; maxInFlight: () => number } {
  const creates = new Map<string, number>();
  let inFlight = 0;
  let max = 0;
  const create = async (spec: InstanceSpec) => {
    creates.set(spec.id, (creates.get(spec.id) ?? 0) + 1);
    inFlight++;
    max = Math.max(max, inFlight);
    try {
      await new Promise((r) => setTimeout(r, 20));
      const next = failures.get(spec.id)?.shift();
      if (next) throw next;
      return await inner.create(spec);
    } finally {
      inFlight--;
    }
  };
  // Every other method runs on the driver itself: with Object.create(inner), start() ran with
  // `this` the wrapper, whose own copies of the driver's write counters started a second write
  // loop on the same state file (a rename that failed with ENOENT, seen once in CI).
  // A test may replace `create` on it again (a slow build).
  let current: Driver['create'] = create;
  const driver = new Proxy(inner, {
    get: (target, prop) => {
      if (prop === 'create') return current;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set: (target, prop, value) => {
      if (prop === 'create') current = value as Driver['create'];
      else Reflect.set(target, prop, value, target);
      return true;
    },
  }) as unknown as Driver;
  return { driver, creates, maxInFlight: () => max };
}

describe('CommandHandler: command batches', () => {
  let dir: string;
  let queue: JobQueue;
  let prefix: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-cmd-'));
    prefix = `hpt${randomBytes(3).toString('hex')}`;
    queue = new JobQueue({ url: REDIS_URL, prefix }, 'test');
  });
  afterEach(async () => {
    await queue.close();
    await deleteRedisPrefix(REDIS_URL, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  function sim(): SimDriver {
    return new SimDriver({ stateDir: dir, hostOs: 'linux', hostArch: 'x86_64', hostKey: 'sim-linux-1', capacity: { vcpus: 64, memoryMiB: 65536, diskGiB: 1000 }, timeScale: 0 });
  }

  function create(hostId = HOST): HostCommandPayload {
    const id = randomUUID();
    return {
      operationId: randomUUID(),
      instanceId: id,
      hostId,
      driver: 'sim',
      command: 'create',
      start: true,
      spec: {
        id,
        name: `c-${id.slice(0, 8)}`,
        template: { name: 'alpine-3.20', osFamily: 'linux', distribution: 'alpine', version: '3.20', archs: ['x86_64'], technologies: ['container'] },
        technology: 'container',
        arch: 'x86_64',
        resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 },
      },
    };
  }

  async function reported(): Promise<AgentResultPayload[]> {
    // Progress reports share the queue (a batch that takes a while sends some); results of a
    // batch come only as result batches, never one by one.
    const jobs = (await queue.queue(RESULTS).getJobs(['waiting'])).filter((j) => j.name !== (JobName.AgentProgress as string));
    expect(jobs.every((j) => j.name === (JobName.AgentResultBatch as string))).toBe(true);
    return jobs.flatMap((j) => (j.data as AgentResultBatchPayload).results);
  }

  const job = (id: string): Job<HostCommandBatchPayload> => ({ id }) as Job<HostCommandBatchPayload>;

  it('runs every command, retries transient failures, and reports each outcome under the batch job id', async () => {
    const [flaky, broken, hopeless, fine] = [create(), create(), create(), create()];
    const failures = new Map<string, DriverError[]>([
      [flaky.instanceId, [new DriverError('Transient', 'busy'), new DriverError('Transient', 'busy')]],
      [broken.instanceId, [new DriverError('Fatal', 'disk full')]],
      [hopeless.instanceId, Array.from({ length: 10 }, () => new DriverError('Transient', 'still busy'))],
    ]);
    const { driver, creates, maxInFlight } = scripted(sim(), failures);
    const handler = new CommandHandler(HOST, new Map([['sim', driver]]), queue, RESULTS, { concurrency: 2, retry: { attempts: 4, backoffMs: 5 } });

    await handler.handleBatch({ hostId: HOST, commands: [flaky, broken, hopeless, fine] }, job('cmds-a'));

    const results = new Map((await reported()).map((r) => [r.operationId, r]));
    expect(results.size).toBe(4);
    expect([...results.values()].every((r) => r.jobId === 'cmds-a' && r.hostId === HOST && r.command === 'create')).toBe(true);
    expect(results.get(flaky.operationId)).toMatchObject({ ok: true, state: 'running', instanceId: flaky.instanceId });
    expect(results.get(fine.operationId)).toMatchObject({ ok: true, state: 'running' });
    expect(results.get(broken.operationId)).toMatchObject({ ok: false, error: { code: 'Fatal', message: 'disk full' } });
    expect(results.get(hopeless.operationId)).toMatchObject({ ok: false, error: { code: 'Transient', message: 'still busy' } });
    // Transient failures are tried again, up to the limit; a fatal one is not.
    expect(creates.get(flaky.instanceId)).toBe(3);
    expect(creates.get(hopeless.instanceId)).toBe(4);
    expect(creates.get(broken.instanceId)).toBe(1);
    expect(maxInFlight()).toBe(2);
  });

  it('reports every command of a batch exactly once when it reports while commands still run', async () => {
    // Reports go out while other commands are running (every 0 ms here): a result that lands
    // as a report swaps the list must still go out, in this report or the next.
    const commands = Array.from({ length: 40 }, () => create());
    const { driver } = scripted(sim(), new Map());
    const handler = new CommandHandler(HOST, new Map([['sim', driver]]), queue, RESULTS, { concurrency: 8, reportEveryMs: 0 });
    await handler.handleBatch({ hostId: HOST, commands }, job('cmds-many'));
    const ids = (await reported()).map((r) => r.operationId);
    expect(ids.sort()).toEqual(commands.map((c) => c.operationId).sort());
  });

  it('refuses a batch that holds a command for another host, running none of it', async () => {
    const { driver, creates } = scripted(sim(), new Map());
    const handler = new CommandHandler(HOST, new Map([['sim', driver]]), queue, RESULTS);
    const batch = { hostId: HOST, commands: [create(), create(randomUUID())] };
    await expect(handler.handleBatch(batch, job('cmds-b'))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(creates.size).toBe(0);
    expect(await reported()).toEqual([]);
  });

  it('answers a command sent alone under its own job id', async () => {
    const { driver } = scripted(sim(), new Map());
    const handler = new CommandHandler(HOST, new Map([['sim', driver]]), queue, RESULTS);
    const cmd = create();
    await handler.handle(cmd, { id: `cmd-${cmd.operationId}-create`, opts: { attempts: 5 }, attemptsMade: 0 } as Job<HostCommandPayload>);
    const [job] = await queue.queue(RESULTS).getJobs(['waiting']);
    expect(job!.name).toBe(JobName.AgentResult);
    expect(job!.data).toMatchObject({ jobId: `cmd-${cmd.operationId}-create`, operationId: cmd.operationId, ok: true, state: 'running' });
  });

  it('reports a destroy of an instance its driver no longer has (NotFound) as done, and a missing driver as host-specific', async () => {
    const handler = new CommandHandler(HOST, new Map([['sim', sim()]]), queue, RESULTS);
    const id = randomUUID();
    const gone: HostCommandPayload = { operationId: randomUUID(), instanceId: id, hostId: HOST, driver: 'sim', command: 'destroy' };
    await handler.handle(gone, { id: `cmd-${gone.operationId}-destroy`, opts: { attempts: 1 }, attemptsMade: 0 } as Job<HostCommandPayload>);
    const elsewhere = { ...create(), driver: 'qemu' as const };
    // Reported, then failed for BullMQ without retries.
    await expect(handler.handle(elsewhere, { id: `cmd-${elsewhere.operationId}-create`, opts: { attempts: 1 }, attemptsMade: 0 } as Job<HostCommandPayload>)).rejects.toThrow(/not available/);
    const results = (await queue.queue(RESULTS).getJobs(['waiting'])).map((j) => j.data as AgentResultPayload);
    expect(results.find((r) => r.operationId === gone.operationId)).toMatchObject({ ok: true, command: 'destroy' });
    expect(results.find((r) => r.operationId === elsewhere.operationId)).toMatchObject({ ok: false, error: { code: 'Unavailable' } });
  });

  it('stops forcibly before destroying when the destroy says so (DELETE ?force=true), and not otherwise', async () => {
    const inner = sim();
    const calls: string[] = [];
    const driver = Object.create(inner) as Driver;
    driver.stop = async (id, opts, ctx) => {
      calls.push(`stop ${JSON.stringify(opts)}`);
      return inner.stop(id, opts, ctx);
    };
    driver.destroy = async (id, ctx) => {
      calls.push('destroy');
      return inner.destroy(id, ctx);
    };
    const handler = new CommandHandler(HOST, new Map([['sim', driver]]), queue, RESULTS);
    for (const force of [true, false]) {
      const made = create();
      await handler.handle(made, { id: `cmd-${made.operationId}-create`, opts: { attempts: 5 }, attemptsMade: 0 } as Job<HostCommandPayload>);
      calls.length = 0;
      const destroy: HostCommandPayload = { ...made, operationId: randomUUID(), command: 'destroy', spec: undefined, start: undefined, ...(force ? { stop: { force: true } } : {}) };
      await handler.handle(destroy, { id: `cmd-${destroy.operationId}-destroy`, opts: { attempts: 5 }, attemptsMade: 0 } as Job<HostCommandPayload>);
      expect(calls).toEqual(force ? ['stop {"force":true}', 'destroy'] : ['destroy']);
    }
    // Already gone: the forced stop's NotFound is no failure, the destroy stays idempotent.
    const gone: HostCommandPayload = { ...create(), command: 'destroy', spec: undefined, stop: { force: true } };
    await handler.handle(gone, { id: `cmd-${gone.operationId}-destroy`, opts: { attempts: 5 }, attemptsMade: 0 } as Job<HostCommandPayload>);
    const results = (await queue.queue(RESULTS).getJobs(['waiting'])).map((j) => j.data as AgentResultPayload);
    expect(results.find((r) => r.operationId === gone.operationId)).toMatchObject({ ok: true });
  });

  it('sends the latest step of a command that then goes quiet, and nothing of a quick one', async () => {
    const { driver } = scripted(sim(), new Map());
    const inner = driver.create.bind(driver);
    const progressJobs = async () => (await queue.queue(RESULTS).getJobs(['waiting'])).filter((j) => j.name === (JobName.AgentProgress as string));
    // A long build: one step reported at once, then silence (debootstrap downloading).
    driver.create = async (spec, ctx) => {
      ctx?.progress?.(30, 'downloading packages (3 so far)');
      const until = Date.now() + 10_000;
      while ((await progressJobs()).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      return inner(spec, ctx);
    };
    const handler = new CommandHandler(HOST, new Map([['sim', driver]]), queue, RESULTS);
    const slow = create();
    await handler.handle(slow, { id: `cmd-${slow.operationId}-create`, opts: { attempts: 1 }, attemptsMade: 0 } as Job<HostCommandPayload>);
    const sent = await progressJobs();
    expect(sent.map((j) => j.data)).toEqual([{ operationId: slow.operationId, hostId: HOST, percent: 18, step: 'downloading packages (3 so far)' }]);

    driver.create = inner;
    const quick = create();
    await handler.handle(quick, { id: `cmd-${quick.operationId}-create`, opts: { attempts: 1 }, attemptsMade: 0 } as Job<HostCommandPayload>);
    await new Promise((r) => setTimeout(r, 600)); // past the window: a flush left pending would show now
    expect(await progressJobs()).toHaveLength(1);
  });
});
