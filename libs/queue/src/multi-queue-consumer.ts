import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  DatabaseType,
  Job,
  JobJsonRaw,
  KeysMap,
  MinimalQueue,
  QueueKeys,
  RATE_LIMIT_ERROR,
  RedisClient,
  RedisConnection,
  Scripts,
  Span,
  SpanKind,
  UnrecoverableError,
  WorkerOptions,
} from 'bullmq';
import { Redis } from 'ioredis';
import { createRedis, endRedis, RedisSettings } from './redis-connection';

/*
 * One consumer for thousands of BullMQ queues (an agent standing in for thousands of hosts,
 * each with its queue `host-<id>`) over a fixed handful of Redis connections. A BullMQ Worker
 * costs two connections per queue: its Worker constructor always duplicates the connection it
 * is given for its blocking BZPOPMIN (worker.js, `this.blockingConnection = new
 * RedisConnection(... .duplicate({ connectionName }) ...)`), even with `autorun: false`. So
 * no Worker is created here; BullMQ's own `Scripts` and `Job` classes are driven directly,
 * which keeps every state change in BullMQ's Lua scripts:
 *
 * - one command connection runs every script: moveToActive (take a job and lock it),
 *   moveToFinished through Job.moveToCompleted / Job.moveToFailed (with BullMQ's attempts,
 *   backoff, UnrecoverableError and removeOn* rules, and `fetchNext` to take the queue's next
 *   job in the same call, as a Worker does), extendLocks, moveStalledJobsToWait. Each queue
 *   is a small `MinimalQueue` object (its keys and options) sharing that connection.
 * - N blocking connections (one per 500 queues by default) wait with one BZPOPMIN on the
 *   `marker` sorted sets of all their *idle* queues at once: BullMQ 5 adds member "0" (score
 *   0) to a queue's marker when a job becomes ready, and member "1" scored with the due time
 *   when a job is delayed. A popped "0" makes the queue fetch; a popped "1" arms a timer for
 *   the due time (moveToActive promotes due delayed jobs, and answers the next due time when
 *   it finds nothing, which re-arms the timer).
 * - a queue is idle when it has a free slot and its last fetch found nothing. Busy queues are
 *   left out of the BZPOPMIN: they take their next job from moveToFinished's fetchNext, and
 *   BullMQ re-adds the marker at every fetch, so watching them would wake us once per job.
 *   A queue that becomes idle clears its "0" marker and fetches once more (so a job added in
 *   between is never missed), then joins the watched set; a BZPOPMIN in flight that does not
 *   watch it is interrupted by a "doorbell" key of our own in its key list.
 * - when a BZPOPMIN answers at once (markers were already waiting), one Lua call pops the
 *   markers of every idle queue of that connection: a burst over 10,000 queues costs a few
 *   sweeps, not one round trip per queue.
 * - locks are renewed for all running jobs every lockDuration/4, one extendLocks per queue;
 *   the stalled check (BullMQ's moveStalledJobsToWait) runs for every queue once per
 *   stalledInterval, spread over the interval in small batches; one Lua call per batch
 *   first skips the queues whose active list is empty (nothing there can have stalled), so
 *   10,000 idle queues cost one small call a second, not 10,000 scripts per interval.
 * - the blocking waits time out after 10 s (as a Worker's); with nothing to do, that and the
 *   stalled-check probe are all the consumer sends.
 * - after any connection comes back (ioredis reconnects by itself) every queue fetches once:
 *   a marker popped just before the connection dropped may have been lost with its answer.
 *   FLUSHALL needs nothing special: the BZPOPMIN keeps waiting on the (now missing) markers
 *   and wakes when a new job recreates one; running jobs whose keys vanished fail to
 *   complete, which is reported through `onError`.
 *
 * Not supported: repeatable jobs / job schedulers (a Worker schedules the next iteration when
 * it takes one; host queues carry none), sandboxed processors, telemetry, Redis Cluster (one
 * BZPOPMIN over many queues needs them in one hash slot). Events: none are emitted here;
 * BullMQ's scripts still write the queue event streams that QueueEvents reads.
 */

/**
 * Handles one job; throw to fail the attempt (UnrecoverableError: no more attempts). What it
 * resolves with is stored as the job's return value (as a Worker's processor), for a producer
 * that waits for an answer (a console read).
 */
export type QueueJobHandler = (job: Job) => Promise<unknown>;

export interface MultiQueueConsumerOptions {
  /** Jobs of one queue running at once in this process. */
  concurrencyPerQueue: number;
  /** How long a job's lock lasts without renewal; renewed every lockDuration/4 while it runs. */
  lockDuration: number;
  /** How often each queue is checked for stalled jobs (default: lockDuration/2, at least 1s). */
  stalledInterval?: number;
  /** Times a job may stall before it fails (default 5, as `startWorker`). */
  maxStalledCount?: number;
  /** Blocking connections at most (default: one per 500 queues, opened as queues are added). */
  blockingConnections?: number;
  /** Connection names are `hyperplane-<name>:cmd` and `hyperplane-<name>:block-<n>`. */
  name?: string;
  /**
   * Where the consumer's own keys (its doorbells) go after the Redis prefix; default
   * `multi-queue-consumer:`. An agent puts them under its queues' prefix, where its Redis user may write.
   */
  keyPrefix?: string;
  /** Failures that do not stop the consumer: a lost lock, a job that could not be finished, a connection error. */
  onError?: (error: Error, queue?: string) => void;
  /** Wraps each job's handler (metrics, request context): `run` is the handler. */
  around?: (queue: string, job: Job, run: () => Promise<unknown>) => Promise<void>;
}

const QUEUES_PER_BLOCKING_CONNECTION = 500;
const BLOCK_SECONDS = 10; // BullMQ's Worker blocks 10 s at most too
/** A BZPOPMIN unanswered this long after its timeout is presumed lost with its connection. */
const WATCHDOG_MS = (BLOCK_SECONDS + 5) * 1000;
/** How long a queue that became idle may wait before the BZPOPMIN in flight is restarted to watch it. */
const RING_DELAY_MS = 20;
/** A BZPOPMIN answered this fast found markers already waiting: sweep for the others. */
const BACKLOG_MS = 5;
const SWEEP_GAP_MS = 20;
/** Queues fetching at once (start-up and reconnects touch every queue). */
const MAX_PARALLEL_FETCHES = 256;
const RETRY_MS = 1000;

/** Pops the marker of each key (as BZPOPMIN would), answering [index, score] pairs. */
const SWEEP_MARKERS_LUA = `local found = {}
for i = 1, #KEYS do
  local popped = redis.call('ZPOPMIN', KEYS[i])
  if popped[1] then
    found[#found + 1] = i
    found[#found + 1] = popped[2]
  end
end
return found`;

/** Answers the indexes of the keys (active lists) that are not empty. */
const NON_EMPTY_LUA = `local found = {}
for i = 1, #KEYS do
  if redis.call('LLEN', KEYS[i]) > 0 then found[#found + 1] = i end
end
return found`;

const HANDED_BACK = new Set(['DelayedError', 'WaitingError', 'WaitingChildrenError']);

interface RunningJob {
  token: string;
  lockedAt: number;
  /** Its handler has returned: moveToCompleted / moveToFailed releases the lock. */
  finishing: boolean;
}

/** One consumed queue as BullMQ's Scripts and Job see it, plus this consumer's state for it. */
class ConsumedQueue extends EventEmitter implements MinimalQueue {
  readonly qualifiedName: string;
  readonly keys: KeysMap;
  readonly toKey: (type: string) => string;
  readonly scripts: Scripts;
  readonly marker: string;
  /** Set when the queue is removed or the consumer closes: BullMQ then skips fetchNext. */
  closing: Promise<void> | undefined;

  /** Running jobs: id → lock token, when the lock was last set, whether it is being finished. */
  readonly running = new Map<string, RunningJob>();
  /** Fetches and jobs in progress, awaited by remove() and close(). */
  readonly tasks = new Set<Promise<void>>();
  /** A marker, timer or reconnect asked for a fetch since the last one began. */
  wanted = false;
  fetching = false;
  /** Watched by its shard's BZPOPMIN. */
  idle = false;
  removed = false;
  wakeTimer: NodeJS.Timeout | undefined;
  wakeAt = 0;

  constructor(
    readonly name: string,
    readonly opts: WorkerOptions,
    private readonly connection: RedisConnection,
    readonly handler: QueueJobHandler,
    readonly shard: Shard,
  ) {
    super();
    const queueKeys = new QueueKeys(opts.prefix);
    this.qualifiedName = queueKeys.getQueueQualifiedName(name);
    this.keys = queueKeys.getKeys(name);
    this.toKey = (type) => queueKeys.toKey(name, type);
    this.marker = this.toKey('marker');
    this.scripts = new Scripts(this);
  }

  get client(): Promise<RedisClient> {
    return this.connection.client;
  }

  get redisVersion(): string {
    return this.connection.redisVersion;
  }

  get databaseType(): DatabaseType {
    return this.connection.databaseType;
  }

  waitUntilReady(): Promise<RedisClient> {
    return this.client;
  }

  async trace<T>(_kind: SpanKind, _operation: string, _destination: string, callback: (span?: Span, dst?: string) => Promise<T> | T): Promise<T> {
    return callback();
  }
}

/** One blocking connection and the queues it watches. */
class Shard {
  readonly byMarker = new Map<string, ConsumedQueue>();
  /** Queues with a free slot and nothing fetched: their markers are waited on. */
  readonly idle = new Set<ConsumedQueue>();
  /** The queues the BZPOPMIN in flight waits on. */
  watching = new Set<ConsumedQueue>();
  blocking = false;
  ringTimer: NodeJS.Timeout | undefined;
  waiter: (() => void) | undefined;
  /** Ends the BZPOPMIN in flight for close(). */
  abort: (() => void) | undefined;
  lastSweep = 0;
  loop: Promise<void> = Promise.resolve();

  constructor(
    readonly client: Redis,
    readonly doorbell: string,
  ) {}
}

export class MultiQueueConsumer {
  private readonly id = randomUUID();
  private readonly name: string;
  private readonly command: Redis;
  private readonly connection: RedisConnection;
  private readonly queues = new Map<string, ConsumedQueue>();
  private readonly shards: Shard[] = [];
  private readonly maxShards: number;
  private readonly stalledInterval: number;
  private readonly maxStalledCount: number;
  private readonly renewEvery: number;
  private readonly stallTick: number;
  /** Queues waiting for one of the MAX_PARALLEL_FETCHES fetch slots. */
  private readonly pending = new Set<ConsumedQueue>();
  /** Queues with running jobs (a removed queue stays until its jobs end). */
  private readonly busy = new Set<ConsumedQueue>();
  private readonly sleepers = new Set<() => void>();
  private readonly lockTimer: NodeJS.Timeout;
  private readonly stallTimer: NodeJS.Timeout;
  private stallCursor: Iterator<ConsumedQueue> | undefined;
  private fetches = 0;
  private tokens = 0;
  private renewing = false;
  private checkingStalled = false;
  private stopping = false;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisSettings,
    private readonly opts: MultiQueueConsumerOptions,
  ) {
    if (!(opts.concurrencyPerQueue >= 1) || !(opts.lockDuration > 0)) throw new Error('concurrencyPerQueue must be at least 1 and lockDuration positive');
    this.name = opts.name ?? 'consumer';
    this.maxShards = opts.blockingConnections ?? Infinity;
    this.stalledInterval = opts.stalledInterval ?? Math.max(1000, Math.floor(opts.lockDuration / 2));
    this.maxStalledCount = opts.maxStalledCount ?? 5;
    this.renewEvery = Math.max(10, Math.floor(opts.lockDuration / 4));
    this.stallTick = Math.max(50, Math.min(1000, Math.floor(this.stalledInterval / 4)));

    this.command = createRedis(redis, `${this.name}:cmd`);
    this.command.on('error', (e: Error) => this.report(e));
    this.onReconnect(this.command, () => this.refetch(this.queues.values()));
    // BullMQ's connection wrapper, shared: it loads BullMQ's Lua scripts onto our connection.
    this.connection = new RedisConnection(this.command, { shared: true, blocking: false });
    this.connection.on('error', () => undefined); // the same errors are reported from the client

    this.lockTimer = setInterval(() => void this.renewLocks(), this.renewEvery);
    this.stallTimer = setInterval(() => void this.checkStalled(), this.stallTick);
  }

  /** Whether its command connection is up (closing while it is not fails what waits for Redis). */
  get connected(): boolean {
    return this.command.status === 'ready';
  }

  /** Starts consuming `queue` (e.g. `host-<id>`) with `handler`. */
  add(queue: string, handler: QueueJobHandler): void {
    if (this.stopping) throw new Error('the consumer is closed');
    if (this.queues.has(queue)) throw new Error(`queue ${queue} is already consumed`);
    if (!queue || queue.includes(':')) throw new Error(`invalid queue name ${queue}`);
    const shard = this.shardForNewQueue();
    const q = new ConsumedQueue(
      queue,
      {
        connection: this.command,
        prefix: this.redis.prefix,
        name: this.name,
        concurrency: this.opts.concurrencyPerQueue,
        lockDuration: this.opts.lockDuration,
        maxStalledCount: this.maxStalledCount,
        // The TTL of BullMQ's per-queue `stalled-check` key: a little under our own cadence,
        // so that our next check of this queue is never skipped by our previous one.
        stalledInterval: Math.max(this.stallTick, this.stalledInterval - this.stallTick),
      },
      this.connection,
      handler,
      shard,
    );
    this.queues.set(queue, q);
    shard.byMarker.set(q.marker, q);
    this.pump(q);
  }

  /** Stops consuming `queue`; resolves when its running jobs have ended. */
  async remove(queue: string): Promise<void> {
    const q = this.queues.get(queue);
    if (!q) return;
    this.queues.delete(queue);
    this.retire(q);
    q.shard.byMarker.delete(q.marker);
    await this.settle([q]);
  }

  /** Stops taking jobs, waits for the running ones to finish, and closes every connection. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.stallTimer);
    for (const q of this.queues.values()) this.retire(q);
    for (const wake of this.sleepers) wake();
    for (const shard of this.shards) {
      clearTimeout(shard.ringTimer);
      shard.waiter?.();
      shard.abort?.();
      endRedis(shard.client);
    }
    await Promise.all(this.shards.map((s) => s.loop));
    // Redis unreachable (or refusing our user): commands would wait in ioredis's queue forever;
    // disconnecting fails them, so that closing does not wait for a Redis that may never come.
    if (this.command.status !== 'ready') endRedis(this.command);
    await this.settle([...this.queues.values(), ...this.busy]);
    clearInterval(this.lockTimer);
    await this.connection.close().catch(() => undefined);
    if (this.command.status === 'ready') await this.command.quit().catch(() => undefined);
    endRedis(this.command);
  }

  private retire(q: ConsumedQueue): void {
    q.removed = true;
    q.closing = Promise.resolve();
    clearTimeout(q.wakeTimer);
    q.wakeTimer = undefined;
    this.leaveIdle(q);
    this.pending.delete(q);
  }

  private async settle(queues: ConsumedQueue[]): Promise<void> {
    for (;;) {
      const tasks = queues.flatMap((q) => [...q.tasks]);
      if (tasks.length === 0) return;
      await Promise.allSettled(tasks);
    }
  }

  private shardForNewQueue(): Shard {
    let least: Shard | undefined;
    for (const s of this.shards) if (!least || s.byMarker.size < least.byMarker.size) least = s;
    if (least && (least.byMarker.size < QUEUES_PER_BLOCKING_CONNECTION || this.shards.length >= this.maxShards)) return least;
    const index = this.shards.length;
    const client = createRedis(this.redis, `${this.name}:block-${index}`);
    client.on('error', (e: Error) => this.report(e));
    const shard = new Shard(client, `${this.redis.prefix}:${this.opts.keyPrefix ?? 'multi-queue-consumer:'}${this.id}:${index}`);
    this.onReconnect(client, () => this.refetch(shard.byMarker.values()));
    shard.loop = this.watch(shard);
    this.shards.push(shard);
    return shard;
  }

  private onReconnect(client: Redis, then: () => void): void {
    let connected = false;
    client.on('ready', () => {
      if (connected && !this.stopping) then();
      connected = true;
    });
  }

  private refetch(queues: Iterable<ConsumedQueue>): void {
    for (const q of queues) this.pump(q);
  }

  // ---- fetching ----

  private canFetch(q: ConsumedQueue): boolean {
    return !this.stopping && !q.removed && q.running.size < this.opts.concurrencyPerQueue;
  }

  /**
   * Makes sure `q` fetches. `knownEmpty`: a fetch just found nothing (a job ended and its
   * fetchNext came back empty), so this is only about settling the queue back to idle.
   */
  private pump(q: ConsumedQueue, knownEmpty = false): void {
    if (this.stopping || q.removed) return;
    if (!knownEmpty) q.wanted = true;
    this.leaveIdle(q);
    if (q.fetching || this.pending.has(q)) return;
    if (this.fetches >= MAX_PARALLEL_FETCHES) {
      this.pending.add(q);
      return;
    }
    this.startFetch(q, knownEmpty);
  }

  private startFetch(q: ConsumedQueue, knownEmpty: boolean): void {
    q.fetching = true;
    this.fetches++;
    const task = this.fetchLoop(q, knownEmpty)
      .catch((e: unknown) => {
        this.report(e, q.name);
        this.wakeAt(q, Date.now() + RETRY_MS);
      })
      .finally(() => {
        q.fetching = false;
        this.fetches--;
        const next = this.pending.values().next();
        if (!next.done) {
          this.pending.delete(next.value);
          this.startFetch(next.value, false);
        }
        if (q.wanted && this.canFetch(q)) this.pump(q);
      });
    this.track(q, task);
  }

  private async fetchLoop(q: ConsumedQueue, knownEmpty: boolean): Promise<void> {
    let empty = knownEmpty;
    let cleared = false;
    while (this.canFetch(q)) {
      if (empty) {
        if (cleared && !q.wanted) {
          this.joinIdle(q);
          return;
        }
        if (!cleared) {
          // Clear the "job ready" marker, then look once more: a job added after the look
          // that found nothing re-adds the marker, which the BZPOPMIN will then see.
          await this.command.zrem(q.marker, '0');
          cleared = true;
        }
      }
      q.wanted = false;
      const token = `${this.id}:${this.tokens++}`;
      const next = await q.scripts.moveToActive(await q.client, token, this.name);
      empty = !this.accept(q, next, token);
      if (!empty) cleared = false;
    }
  }

  /** Starts the job in a moveToActive / fetchNext answer; otherwise notes when to look again. */
  private accept(q: ConsumedQueue, next: unknown, token: string): boolean {
    if (!Array.isArray(next)) return false;
    const [data, id, limitDelay, delayUntil] = next as [JobJsonRaw | null | undefined, string, number | string, number | string];
    if (data) {
      const job = Job.fromJSON(q, data, id);
      job.token = token;
      q.running.set(job.id ?? id, { token, lockedAt: Date.now(), finishing: false });
      this.busy.add(q);
      this.track(q, this.process(q, job, token));
      return true;
    }
    if (Number(limitDelay) > 0) this.wakeAt(q, Date.now() + Number(limitDelay));
    if (Number(delayUntil) > 0) this.wakeAt(q, Number(delayUntil));
    return false;
  }

  private async process(q: ConsumedQueue, job: Job, token: string): Promise<void> {
    const id = job.id ?? '';
    const running = q.running.get(id);
    let fetchNext = false;
    let next: unknown;
    const finishing = (): boolean => {
      if (running) running.finishing = true;
      return (fetchNext = !this.stopping && !q.removed);
    };
    try {
      try {
        // A job that stalled more than maxStalledCount times comes back with a deferred failure.
        if (job.deferredFailure) throw new UnrecoverableError(job.deferredFailure);
        let value: unknown;
        const run = async (): Promise<void> => {
          value = await q.handler(job);
        };
        await (this.opts.around ? this.opts.around(q.name, job, run) : run());
        next = await job.moveToCompleted(value, token, finishing());
      } catch (e) {
        next = await this.fail(q, job, token, e, finishing());
      }
    } catch (e) {
      // Not finished (lock lost, job gone after a FLUSHALL, Redis error): its lock expires and
      // the stalled check puts it back, as with a Worker.
      this.report(e, q.name);
      next = undefined;
    } finally {
      q.running.delete(id);
      if (q.running.size === 0) this.busy.delete(q);
    }
    if (this.accept(q, next, token)) return;
    // moveToFinished answers an array when it was asked for the next job and found none.
    if (this.canFetch(q)) this.pump(q, fetchNext && Array.isArray(next));
  }

  private async fail(q: ConsumedQueue, job: Job, token: string, e: unknown, fetchNext: boolean): Promise<unknown> {
    const error = e instanceof Error ? e : new Error(String(e));
    // The handler moved the job itself (job.moveToDelayed / moveToWaitingChildren) and threw to say so.
    if (HANDED_BACK.has(error.name)) return undefined;
    if (error.message === RATE_LIMIT_ERROR) {
      const ttl = await job.moveToWait(token);
      if (ttl > 0) this.wakeAt(q, Date.now() + ttl);
      return undefined;
    }
    return job.moveToFailed(error, token, fetchNext);
  }

  private wakeAt(q: ConsumedQueue, at: number): void {
    if (this.stopping || q.removed) return;
    if (q.wakeTimer && q.wakeAt <= at) return;
    clearTimeout(q.wakeTimer);
    q.wakeAt = at;
    q.wakeTimer = setTimeout(() => {
      q.wakeTimer = undefined;
      this.pump(q);
    }, Math.max(0, at - Date.now()) + 1);
  }

  private track(q: ConsumedQueue, task: Promise<void>): void {
    const guarded = task.catch((e: unknown) => this.report(e, q.name));
    q.tasks.add(guarded);
    void guarded.finally(() => q.tasks.delete(guarded));
  }

  // ---- waiting for markers ----

  private joinIdle(q: ConsumedQueue): void {
    if (q.idle || q.removed || this.stopping) return;
    q.idle = true;
    const shard = q.shard;
    shard.idle.add(q);
    if (shard.waiter) {
      const wake = shard.waiter;
      shard.waiter = undefined;
      wake();
    } else if (shard.blocking && !shard.watching.has(q)) {
      this.ring(shard);
    }
  }

  private leaveIdle(q: ConsumedQueue): void {
    if (!q.idle) return;
    q.idle = false;
    q.shard.idle.delete(q);
  }

  /** Interrupts the shard's BZPOPMIN (soon) so that it restarts watching its new idle queues. */
  private ring(shard: Shard): void {
    if (shard.ringTimer) return;
    shard.ringTimer = setTimeout(() => {
      shard.ringTimer = undefined;
      if (!shard.blocking || this.stopping) return;
      this.command
        .pipeline()
        .zadd(shard.doorbell, 0, 'ring')
        .pexpire(shard.doorbell, 60_000) // a doorbell rung as the process dies goes away
        .exec()
        .catch((e: unknown) => this.report(e));
    }, RING_DELAY_MS);
  }

  private async watch(shard: Shard): Promise<void> {
    while (!this.stopping) {
      if (shard.idle.size === 0) {
        await new Promise<void>((resolve) => (shard.waiter = resolve));
        continue;
      }
      shard.watching = new Set(shard.idle);
      const keys = [...shard.watching].map((q) => q.marker);
      keys.push(shard.doorbell);
      const sent = Date.now();
      let popped: [string, string, string] | null;
      shard.blocking = true;
      try {
        popped = await this.blockingPop(shard, keys);
      } catch (e) {
        if (this.stopping) break;
        this.report(e);
        await this.sleep(RETRY_MS);
        continue;
      } finally {
        shard.blocking = false;
        shard.watching = new Set();
        clearTimeout(shard.ringTimer);
        shard.ringTimer = undefined;
      }
      if (!popped || popped[0] === shard.doorbell) continue;
      const q = shard.byMarker.get(popped[0]);
      if (q) this.onMarker(q, Number(popped[2]));
      if (Date.now() - sent <= BACKLOG_MS) await this.sweep(shard);
    }
  }

  private async blockingPop(shard: Shard, keys: string[]): Promise<[string, string, string] | null> {
    const popped = shard.client.bzpopmin(keys, BLOCK_SECONDS);
    // A blocking command can be lost with a half-dead connection: reconnect, and ioredis
    // sends it again (as BullMQ's Worker does in waitForJob).
    const watchdog = setInterval(() => {
      if (!this.stopping) shard.client.disconnect(true);
    }, WATCHDOG_MS);
    // Closing does not wait for it: a command held for a reconnection that never comes (Redis
    // refusing our user) is never answered, even once the connection has ended.
    const closing = new Promise<never>((_, reject) => (shard.abort = () => reject(new Error('the consumer is closing'))));
    popped.catch(() => undefined);
    try {
      return await Promise.race([popped, closing]);
    } finally {
      clearInterval(watchdog);
      shard.abort = undefined;
    }
  }

  private async sweep(shard: Shard): Promise<void> {
    const gap = shard.lastSweep + SWEEP_GAP_MS - Date.now();
    if (gap > 0) await this.sleep(gap);
    if (this.stopping || shard.idle.size === 0) return;
    shard.lastSweep = Date.now();
    const watched = [...shard.idle];
    try {
      const found = (await shard.client.eval(SWEEP_MARKERS_LUA, watched.length, ...watched.map((q) => q.marker))) as (number | string)[];
      for (let i = 0; i + 1 < found.length; i += 2) {
        const q = watched[Number(found[i]) - 1];
        if (q && !q.removed) this.onMarker(q, Number(found[i + 1]));
      }
    } catch (e) {
      if (!this.stopping) this.report(e);
    }
  }

  /** Score 0: a job is ready. Otherwise the time (ms) the next delayed job is due. */
  private onMarker(q: ConsumedQueue, score: number): void {
    if (score > 0) this.wakeAt(q, score);
    else this.pump(q);
  }

  // ---- locks and stalled jobs ----

  private async renewLocks(): Promise<void> {
    if (this.renewing || this.busy.size === 0) return;
    this.renewing = true;
    try {
      const now = Date.now();
      const due = now - this.renewEvery / 2;
      await Promise.all(
        [...this.busy].map(async (q) => {
          const ids: string[] = [];
          const tokens: string[] = [];
          for (const [id, lock] of q.running) {
            if (lock.lockedAt > due || lock.finishing) continue;
            ids.push(id);
            tokens.push(lock.token);
            lock.lockedAt = now;
          }
          if (ids.length === 0) return;
          try {
            const lost = await q.scripts.extendLocks(ids, tokens, this.opts.lockDuration);
            for (const id of lost) {
              // A job finished while the renewal was on its way released its lock itself.
              const lock = q.running.get(id);
              if (lock && !lock.finishing && tokens[ids.indexOf(id)] === lock.token) this.report(new Error(`could not renew the lock of job ${id}`), q.name);
            }
          } catch (e) {
            this.report(e, q.name);
          }
        }),
      );
    } finally {
      this.renewing = false;
    }
  }

  /** Checks a slice of the queues, so that each is checked once per stalledInterval. */
  private async checkStalled(): Promise<void> {
    if (this.checkingStalled || this.stopping || this.queues.size === 0) return;
    this.checkingStalled = true;
    try {
      const count = Math.min(this.queues.size, Math.ceil((this.queues.size * this.stallTick) / this.stalledInterval));
      const batch: ConsumedQueue[] = [];
      for (let restarted = false; batch.length < count; ) {
        this.stallCursor ??= this.queues.values();
        const next = this.stallCursor.next();
        if (!next.done) {
          batch.push(next.value);
          continue;
        }
        this.stallCursor = undefined;
        if (restarted) break;
        restarted = true;
      }
      // A queue with no active job has nothing that could stall: one call finds the others.
      const active = (await this.command.eval(NON_EMPTY_LUA, batch.length, ...batch.map((q) => q.keys.active ?? q.toKey('active')))) as number[];
      await Promise.all(
        active.map(async (index) => {
          const q = batch[index - 1];
          if (!q || q.removed) return;
          try {
            const moved = await q.scripts.moveStalledJobsToWait();
            if (moved.length > 0) this.pump(q);
          } catch (e) {
            this.report(e, q.name);
          }
        }),
      );
    } catch (e) {
      this.report(e);
    } finally {
      this.checkingStalled = false;
    }
  }

  // ---- helpers ----

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private report(e: unknown, queue?: string): void {
    try {
      this.opts.onError?.(e instanceof Error ? e : new Error(String(e)), queue);
    } catch {
      // a failing error callback must not stop the consumer
    }
  }
}
