import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { Job, UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import { JobName } from './job-names';
import { JobQueue, QueueMessage } from './job-queue';
import { MultiQueueConsumer, MultiQueueConsumerOptions } from './multi-queue-consumer';
import { createRedis, deleteRedisPrefix, RedisSettings } from './redis-connection';

// Against a real Redis (HYPERPLANE_TEST_REDIS or 127.0.0.1:6379), each suite under its own
// random key prefix. The FLUSHALL / restart / idle suite runs a redis-server of its own, so
// that it wipes nobody else's keys and counts only its own commands.

const REDIS_URL = process.env.HYPERPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const ROOT = join(__dirname, '..', '..', '..');

jest.setTimeout(60_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function connectionsNamed(redis: Redis, name: string): Promise<number> {
  const list = String(await redis.client('LIST'));
  return list.split('\n').filter((line) => line.includes(` name=hyperplane-${name}:`)).length;
}

function command(queue: string, jobId: string): QueueMessage<JobName.HostCommand> {
  return {
    queue,
    name: JobName.HostCommand,
    jobId,
    data: { operationId: jobId, instanceId: `i-${jobId}`, hostId: queue, driver: 'sim', command: 'start' },
  };
}

/** Every handler call, in order. */
interface Call {
  queue: string;
  jobId: string;
  attempt: number;
  at: number;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A consumer of the suite's prefix, closed after the test. */
function consumerFactory(settings: () => RedisSettings): {
  make: (opts?: Partial<MultiQueueConsumerOptions>) => { consumer: MultiQueueConsumer; name: string; errors: Error[] };
  closeAll: () => Promise<void>;
} {
  const open: MultiQueueConsumer[] = [];
  return {
    make: (opts = {}) => {
      const name = `mqc-test-${randomUUID().slice(0, 8)}`;
      const errors: Error[] = [];
      const consumer = new MultiQueueConsumer(settings(), { concurrencyPerQueue: 1, lockDuration: 5000, name, onError: (e) => errors.push(e), ...opts });
      open.push(consumer);
      return { consumer, name, errors };
    },
    closeAll: async () => {
      await Promise.all(open.splice(0).map((c) => c.close()));
    },
  };
}

describe('MultiQueueConsumer', () => {
  const prefix = `mqc-test-${randomUUID().slice(0, 8)}`;
  const settings: RedisSettings = { url: REDIS_URL, prefix };
  let producer: JobQueue;
  let admin: Redis;
  const consumers = consumerFactory(() => settings);
  let n = 0;
  const queueName = (): string => `host-${++n}-${randomUUID().slice(0, 6)}`;

  beforeAll(() => {
    producer = new JobQueue(settings, `${prefix}-producer`);
    admin = createRedis(settings, `${prefix}-admin`);
  });
  afterEach(() => consumers.closeAll());
  afterAll(async () => {
    await producer.close();
    admin.disconnect();
    await deleteRedisPrefix(REDIS_URL, prefix);
  });

  it('consumes every job of 2,500 queues over one command connection and five blocking connections', async () => {
    const { consumer, name, errors } = consumers.make();
    const queues = Array.from({ length: 2500 }, queueName);
    const seen = new Map<string, number>();
    for (const q of queues) {
      consumer.add(q, async (job) => {
        const key = `${q}/${job.id}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      });
    }
    await producer.enqueueMany(queues.flatMap((q) => [command(q, 'a'), command(q, 'b')]));

    await waitFor('5,000 jobs handled', () => seen.size === 5000);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(await connectionsNamed(admin, name)).toBe(6);
    expect(await producer.jobState(queues[1234]!, 'b')).toBe('completed');
    expect(errors).toEqual([]);
  });

  it("stores what a handler resolves with as the job's return value, which ask() waits for", async () => {
    const { consumer } = consumers.make({ around: async (_q, _job, run) => void (await run()) });
    const q = queueName();
    consumer.add(q, async (job) => ({ ok: true, lines: [`read ${String(job.data.instanceId)}`] }));
    const asked = await producer.ask({ queue: q, name: JobName.ConsoleRead, jobId: 'con-1', data: { hostId: q, instanceId: 'i-1', driver: 'sim', lines: 5 } }, 10_000);
    expect(asked).toEqual({ answered: true, value: { ok: true, lines: ['read i-1'] } });
    // Nobody consuming: no answer in time, and the read is taken off the queue.
    const silent = queueName();
    const unanswered = await producer.ask({ queue: silent, name: JobName.ConsoleRead, jobId: 'con-2', data: { hostId: silent, instanceId: 'i-2', driver: 'sim', lines: 5 } }, 200);
    expect(unanswered).toEqual({ answered: false });
    expect(await producer.countJobs([silent])).toEqual({ waiting: 0, active: 0, delayed: 0 });
  });

  it('runs at most concurrencyPerQueue jobs of one queue at a time, and queues side by side', async () => {
    const { consumer } = consumers.make({ concurrencyPerQueue: 2 });
    const queues = [queueName(), queueName()];
    const running = new Map<string, number>();
    let maxPerQueue = 0;
    let maxTotal = 0;
    let total = 0;
    let done = 0;
    for (const q of queues) {
      consumer.add(q, async () => {
        running.set(q, (running.get(q) ?? 0) + 1);
        total++;
        maxPerQueue = Math.max(maxPerQueue, running.get(q)!);
        maxTotal = Math.max(maxTotal, total);
        await sleep(150);
        running.set(q, running.get(q)! - 1);
        total--;
        done++;
      });
    }
    await producer.enqueueMany(queues.flatMap((q) => Array.from({ length: 6 }, (_, i) => command(q, `j${i}`))));

    await waitFor('12 jobs done', () => done === 12);
    expect(maxPerQueue).toBe(2);
    expect(maxTotal).toBe(4);
  });

  it('retries a failing job after its exponential backoff until its attempts are spent', async () => {
    const { consumer } = consumers.make();
    const q = queueName();
    const calls: Call[] = [];
    consumer.add(q, async (job) => {
      calls.push({ queue: q, jobId: job.id!, attempt: job.attemptsMade, at: Date.now() });
      throw new Error(`boom ${calls.length}`);
    });
    await producer.enqueue(command(q, 'flaky'), { attempts: 3, backoff: { type: 'exponential', delay: 300 } });

    await waitFor('the job to fail for good', async () => (await producer.jobState(q, 'flaky')) === 'failed');
    expect(calls.map((c) => c.attempt)).toEqual([0, 1, 2]);
    // Exponential: 300 ms before the second attempt, 600 ms before the third.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(300);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(600);
    const job = (await producer.queue(q).getJob('flaky'))!;
    expect(job.attemptsMade).toBe(3);
    expect(job.failedReason).toBe('boom 3');
  });

  it('completes a job on its second attempt once the backoff has brought it back from delayed', async () => {
    const { consumer } = consumers.make();
    const q = queueName();
    let calls = 0;
    consumer.add(q, async () => {
      if (++calls === 1) throw new Error('transient');
    });
    await producer.enqueue(command(q, 'second-time-lucky'), { attempts: 5, backoff: { type: 'fixed', delay: 400 } });

    await waitFor('completion', async () => (await producer.jobState(q, 'second-time-lucky')) === 'completed');
    expect(calls).toBe(2);
  });

  it('stops retrying a job that throws UnrecoverableError', async () => {
    const { consumer } = consumers.make();
    const q = queueName();
    let calls = 0;
    consumer.add(q, async () => {
      calls++;
      throw new UnrecoverableError('the host refuses');
    });
    await producer.enqueue(command(q, 'doomed'));

    await waitFor('failure', async () => (await producer.jobState(q, 'doomed')) === 'failed');
    await sleep(700); // longer than the first backoff (500 ms): a retry would have run by now
    expect(calls).toBe(1);
    expect((await producer.queue(q).getJob('doomed'))!.failedReason).toBe('the host refuses');
  });

  it('runs a delayed job when it is due, not before', async () => {
    const { consumer } = consumers.make();
    const q = queueName();
    let ranAt = 0;
    consumer.add(q, async () => {
      ranAt = Date.now();
    });
    await sleep(200); // the queue is idle and watched
    const added = Date.now();
    await producer.enqueue(command(q, 'later'), { delay: 800 });

    await waitFor('the delayed job', () => ranAt > 0);
    expect(ranAt - added).toBeGreaterThanOrEqual(800);
  });

  it('keeps renewing the lock of a job that outlasts lockDuration, so that no other consumer takes it', async () => {
    const q = queueName();
    const starts: string[] = [];
    let finished = 0;
    const slow = async (job: Job): Promise<void> => {
      starts.push(job.id!);
      await sleep(3000); // six lock durations
      finished++;
    };
    for (let i = 0; i < 2; i++) consumers.make({ lockDuration: 500, stalledInterval: 200 }).consumer.add(q, slow);
    await producer.enqueue(command(q, 'slow'));

    await waitFor('the slow job to finish', async () => (await producer.jobState(q, 'slow')) === 'completed');
    expect(starts).toEqual(['slow']);
    expect(finished).toBe(1);
    expect((await producer.queue(q).getJob('slow'))!.stalledCounter).toBe(0);
  });

  it('runs again, once its lock has expired, a job whose consumer was killed with SIGKILL', async () => {
    const q = queueName();
    const dead = spawnConsumer(settings, q);
    try {
      await producer.enqueue(command(q, 'orphan'));
      await waitFor('the child to take the job', () => dead.output().includes('took orphan')).catch((e: Error) => { throw new Error(e.message + dead.output()); });
      dead.child.kill('SIGKILL');
      await new Promise((r) => dead.child.once('exit', r));
    } finally {
      if (dead.child.exitCode === null && dead.child.signalCode === null) dead.child.kill('SIGKILL');
    }
    const killedAt = Date.now();
    const lockLeft = await admin.pttl(`${prefix}:${q}:orphan:lock`);
    expect(lockLeft).toBeGreaterThan(0); // the dead consumer's lock still holds the job

    const rerun: { at: number; stalled: number }[] = [];
    consumers.make({ lockDuration: 1000, stalledInterval: 300 }).consumer.add(q, async (job) => {
      rerun.push({ at: Date.now(), stalled: job.stalledCounter });
    });

    await waitFor('the orphan to run again', async () => (await producer.jobState(q, 'orphan')) === 'completed');
    expect(rerun).toHaveLength(1);
    expect(rerun[0]!.at - killedAt).toBeGreaterThanOrEqual(lockLeft);
    expect(rerun[0]!.stalled).toBe(1);
  });

  it('stops taking jobs from a removed queue, after its running job has finished', async () => {
    const { consumer } = consumers.make();
    const [kept, removed] = [queueName(), queueName()];
    const release = deferred();
    const handled: string[] = [];
    consumer.add(kept, async (job) => {
      handled.push(`${kept}/${job.id}`);
    });
    consumer.add(removed, async (job) => {
      handled.push(`${removed}/${job.id}`);
      if (job.id === 'first') await release.promise;
    });
    await producer.enqueue(command(removed, 'first'));
    await waitFor('the first job to start', () => handled.length === 1);

    let removedDone = false;
    const removing = consumer.remove(removed).then(() => (removedDone = true));
    await sleep(200);
    expect(removedDone).toBe(false); // remove() waits for the running job
    release.resolve();
    await removing;
    expect(await producer.jobState(removed, 'first')).toBe('completed');

    await producer.enqueue(command(removed, 'second'));
    await producer.enqueue(command(kept, 'other'));
    await waitFor('the kept queue to go on', () => handled.includes(`${kept}/other`));
    await sleep(300);
    expect(await producer.jobState(removed, 'second')).toBe('waiting');
    expect(handled).toEqual([`${removed}/first`, `${kept}/other`]);
  });

  it('close() waits for running handlers, leaves the jobs behind them waiting, and closes every connection', async () => {
    const { consumer, name } = consumers.make();
    const q = queueName();
    let finished = false;
    const started = deferred();
    consumer.add(q, async () => {
      started.resolve();
      await sleep(500);
      finished = true;
    });
    await producer.enqueue(command(q, 'running'));
    await started.promise;
    await producer.enqueue(command(q, 'queued'));

    await consumer.close();
    expect(finished).toBe(true);
    expect(await producer.jobState(q, 'running')).toBe('completed');
    expect(await producer.jobState(q, 'queued')).toBe('waiting');
    await waitFor('its connections to close', async () => (await connectionsNamed(admin, name)) === 0);
    expect(() => consumer.add(queueName(), async () => undefined)).toThrow('closed');
  });
});

describe('MultiQueueConsumer on a Redis of its own', () => {
  const prefix = `mqc-test-${randomUUID().slice(0, 8)}`;
  let server: RedisServer;
  let settings: RedisSettings;
  let producer: JobQueue;
  let admin: Redis;
  const consumers = consumerFactory(() => settings);

  beforeAll(async () => {
    server = await startRedisServer();
    settings = { url: server.url, prefix };
    producer = new JobQueue(settings, `${prefix}-producer`);
    admin = createRedis(settings, `${prefix}-admin`);
  });
  afterEach(() => consumers.closeAll());
  afterAll(async () => {
    await producer.close();
    admin.disconnect();
    await server.stop();
  });

  it('consumes jobs added after FLUSHALL, and reports the running job that vanished with it', async () => {
    const { consumer, errors } = consumers.make({ lockDuration: 1000, stalledInterval: 300 });
    const release = deferred();
    const handled: string[] = [];
    for (const q of ['host-a', 'host-b']) {
      consumer.add(q, async (job) => {
        handled.push(`${q}/${job.id}`);
        if (job.id === 'before') await release.promise;
      });
    }
    await producer.enqueue(command('host-a', 'before'));
    await waitFor('the first job to start', () => handled.length === 1);

    await admin.flushall();
    release.resolve();
    await waitFor('the lost job to be reported', () => errors.some((e) => e.message.includes('before')));

    await producer.enqueue(command('host-a', 'after'));
    await producer.enqueue(command('host-b', 'after'));
    await waitFor('both new jobs', () => handled.includes('host-a/after') && handled.includes('host-b/after'));
    expect(await producer.jobState('host-b', 'after')).toBe('completed');
  });

  it('reconnects after Redis restarts and consumes the jobs added afterwards', async () => {
    const { consumer } = consumers.make({ lockDuration: 1000, stalledInterval: 300 });
    const handled: string[] = [];
    consumer.add('host-r', async (job) => {
      handled.push(job.id!);
    });
    await producer.enqueue(command('host-r', 'before'));
    await waitFor('the first job', () => handled.includes('before'));

    await server.restart();
    await producer.enqueue(command('host-r', 'after'));
    await waitFor('the job added after the restart', () => handled.includes('after'));
    expect(handled).toEqual(['before', 'after']);
  });

  it('sends Redis next to nothing while it waits on 200 idle queues', async () => {
    // Started while the server is quiet: ioredis's monitor mode trips over lines that arrive
    // with the reply to MONITOR itself.
    const base = new Redis(server.url, { lazyConnect: true });
    const monitor = await base.monitor();
    const sent: string[] = [];
    // Commands run inside Lua scripts are listed too, with the source "lua": count what is sent.
    monitor.on('monitor', (_time: string, args: string[], source: string) => source !== 'lua' && sent.push(args[0]!.toLowerCase()));
    try {
      const { consumer } = consumers.make({ lockDuration: 30_000 });
      for (let i = 0; i < 200; i++) consumer.add(`host-idle-${i}`, async () => undefined);
      // First every queue is looked at once; then it must quieten down...
      await waitFor('the consumer to quieten down', async () => {
        const before = sent.length;
        await sleep(1000);
        return sent.length - before <= 3;
      });
      // ...and stay quiet: a blocking wait and one probe of the active lists a second.
      sent.length = 0;
      await sleep(3000);
    } finally {
      monitor.disconnect();
      base.disconnect();
    }
    expect(sent.length).toBeLessThan(10);
    expect(sent.filter((c) => c !== 'eval' && c !== 'bzpopmin')).toEqual([]);
  });
});

interface RedisServer {
  url: string;
  stop(): Promise<void>;
  /** Kills the server (its data is lost) and starts a new one on the same port. */
  restart(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function startRedisServer(): Promise<RedisServer> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const listening = (): Promise<boolean> =>
      new Promise((resolve) => {
        const socket = createConnection({ port, host: '127.0.0.1' });
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
    await waitFor('redis-server', listening, 10_000);
  };
  await start();
  return {
    url,
    stop: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
    restart: async () => {
      child.kill('SIGKILL');
      await exited(child);
      await start();
    },
  };
}

/** A consumer in a child process (TypeScript compiled on the fly by swc, as jest does). Its handler never returns. */
function spawnConsumer(settings: RedisSettings, queue: string): { child: ChildProcess; output: () => string } {
  const script = `
    const fs = require('fs');
    const swc = require('@swc/core');
    const { $schema, ...config } = JSON.parse(fs.readFileSync(${JSON.stringify(join(ROOT, '.swcrc'))}, 'utf8'));
    require.extensions['.ts'] = (m, filename) =>
      m._compile(swc.transformSync(fs.readFileSync(filename, 'utf8'), { ...config, filename, swcrc: false }).code, filename);
    // tsconfig's paths: @hyperplane/<lib> is libs/<lib>/src.
    const Module = require('module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      const lib = request.startsWith('@hyperplane/') ? request.slice('@hyperplane/'.length) : null;
      return resolve.call(this, lib ? ${JSON.stringify(ROOT)} + '/libs/' + lib + '/src/index.ts' : request, ...rest);
    };
    const { MultiQueueConsumer } = require(${JSON.stringify(join(__dirname, 'multi-queue-consumer.ts'))});
    const consumer = new MultiQueueConsumer(${JSON.stringify(settings)}, { concurrencyPerQueue: 1, lockDuration: 1000, name: 'mqc-test-doomed' });
    consumer.add(${JSON.stringify(queue)}, (job) => {
      process.stdout.write('took ' + job.id + '\\n');
      return new Promise(() => undefined);
    });
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}
