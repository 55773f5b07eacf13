import { Logger } from '@nestjs/common';
import { UnrecoverableError, Job } from 'bullmq';
import { Driver, DriverContext, DriverError, InstanceStatus } from '@hyperplane/drivers';
import { randomUUID } from 'node:crypto';
import { childCache, driverCallDuration, withRequestId } from '@hyperplane/observability';
import { AgentResultPayload, CONSOLE_MAX_LINES, ConsoleReadPayload, ConsoleReadResult, HostCommandBatchPayload, HostCommandPayload, isMigrationCommand, JOB_OPTIONS, JobName, JobQueue, MigrationCommand, progressJobId, resultBatchJobId, resultJobId } from '@hyperplane/queue';
import { OperationAborts } from './operation-aborts';

const PROGRESS_EVERY_MS = 500;
/** A command batch reports what has finished at least this often while the rest still run. */
const BATCH_REPORT_EVERY_MS = 1000;

export interface CommandHandlerOptions {
  /** Commands of a batch that run at once. */
  concurrency?: number;
  /** How often a command of a batch is tried, and the first wait (doubling) between tries. */
  retry?: { attempts: number; backoffMs: number };
  /** How often a running batch reports the results it has so far (default 1 s). */
  reportEveryMs?: number;
  /** The agent's abort signals (shared by its hosts); without it commands cannot be aborted. */
  aborts?: OperationAborts;
}

/** A command in a batch is tried as often, and waits as long between tries, as a command alone. */
const COMMAND_RETRY = {
  attempts: JOB_OPTIONS[JobName.HostCommand].attempts ?? 1,
  backoffMs: (JOB_OPTIONS[JobName.HostCommand].backoff as { delay: number }).delay,
};

// Driver, command and outcome are each a short list: a few dozen series, found through maps.
const driverCalls = childCache((driver, operation, outcome) => driverCallDuration.labels(driver, operation, outcome));

/** An optional driver member, or Unsupported (the capability check should have caught it). */
function need<F>(member: F | undefined, what: string): F {
  if (!member) throw new DriverError('Unsupported', `this driver cannot ${what}`);
  return member;
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new DriverError('InvalidArgument', `command without its ${field}`);
  return value;
}

/** `DELETE ?force=true`: off at once before the destroy; an instance already gone is fine (destroy is idempotent). */
async function forceStopIfThere(driver: Driver, id: string, ctx: DriverContext): Promise<void> {
  try {
    await driver.stop(id, { force: true }, ctx);
  } catch (e) {
    if (!(e instanceof DriverError && e.code === 'NotFound')) throw e;
  }
}

function asDriverError(e: unknown): DriverError {
  if (e instanceof DriverError) return e;
  return new DriverError('Fatal', e instanceof Error ? e.message : String(e));
}

/** Facts worth keeping on the operation (no large blobs). */
function details(status: InstanceStatus | undefined): Record<string, unknown> | undefined {
  if (!status?.details) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(status.details)) if (['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
  return out;
}

/**
 * Runs driver commands for one host and reports the outcomes on its agent's results queue. Driver calls
 * are idempotent, so a command run twice (a job that stalled when the agent died) has the
 * effect of one. A command alone: transient failures are rethrown for BullMQ to retry with
 * backoff, and the last failure is reported and ends the job as unrecoverable. A batch of
 * commands: each is retried in the job with the same backoff, `concurrency` run at once, and
 * their results are reported together.
 */
export class CommandHandler {
  private readonly log = new Logger('agent');

  constructor(
    private readonly hostId: string,
    private readonly drivers: ReadonlyMap<string, Driver>,
    private readonly queue: JobQueue,
    /** This agent's own results queue (agentResultsQueueName). */
    private readonly resultsQueue: string,
    private readonly opts: CommandHandlerOptions = {},
  ) {}

  async handle(cmd: HostCommandPayload, job: Job<HostCommandPayload>): Promise<void> {
    this.mustBeMine(cmd.hostId);
    const attempts = job.opts.attempts ?? 1;
    const result = await this.attempt(cmd, job.id!, job.attemptsMade + 1 < attempts);
    // The job id keeps a redelivered command from reporting twice; it names the host because
    // a create that failed here may be tried again, in the same operation, on another host, and
    // the attempt because the controller may send a command here again (migrate-cleanup).
    await this.queue.enqueue({ queue: this.resultsQueue, name: JobName.AgentResult, jobId: resultJobId(result.operationId, result.command, this.hostId, cmd.attempt), data: result });
    if (!result.ok) throw new UnrecoverableError(result.error!.message);
  }

  async handleBatch(batch: HostCommandBatchPayload, job: Job<HostCommandBatchPayload>): Promise<void> {
    this.mustBeMine(batch.hostId);
    for (const cmd of batch.commands) this.mustBeMine(cmd.hostId);
    let done: AgentResultPayload[] = [];
    let lastReport = Date.now();
    const report = async (): Promise<void> => {
      const results = done;
      done = [];
      lastReport = Date.now();
      if (results.length === 0) return;
      // A fresh id each time: a batch run again after a stall reports again, and the
      // controller ignores results for operations that already ended.
      await this.queue.enqueue({ queue: this.resultsQueue, name: JobName.AgentResultBatch, jobId: resultBatchJobId(job.id!, randomUUID()), data: { hostId: this.hostId, results } });
    };
    const queue = [...batch.commands];
    const worker = async (): Promise<void> => {
      for (let cmd = queue.shift(); cmd; cmd = queue.shift()) {
        // Not `done.push(await …)`: that reads `done` before the await, and a report() meanwhile
        // swaps it for a new array, so the result would land in one already sent (and be lost).
        const result = await this.withRetries(cmd, job.id!);
        done.push(result);
        if (Date.now() - lastReport >= (this.opts.reportEveryMs ?? BATCH_REPORT_EVERY_MS)) await report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 8, queue.length) }, worker));
    await report();
  }

  /**
   * A console read: answered through the job's return value, which the API is waiting for.
   * Nothing changes on the host and nothing is reported on the results queue; a driver's
   * refusal (no console, no such instance) is an answer too, not a failed job.
   */
  async readConsole(read: ConsoleReadPayload): Promise<ConsoleReadResult> {
    this.mustBeMine(read.hostId);
    const driver = this.drivers.get(read.driver);
    try {
      if (!driver) throw new DriverError('Unavailable', `driver ${read.driver} is not available on this host`);
      const lines = Math.max(0, Math.min(CONSOLE_MAX_LINES, Math.floor(read.lines)));
      return { ok: true, lines: await need(driver.consoleLog, 'show a console log').call(driver, read.instanceId, { lines }) };
    } catch (e) {
      const error = asDriverError(e);
      return { ok: false, error: { code: error.code, message: error.message } };
    }
  }

  private mustBeMine(hostId: string): void {
    if (hostId !== this.hostId) throw new UnrecoverableError(`command for host ${hostId} reached host ${this.hostId}`);
  }

  /** A command of a batch, tried again while its failures are transient (at most `retry.attempts` times). */
  private async withRetries(cmd: HostCommandPayload, jobId: string): Promise<AgentResultPayload> {
    const { attempts, backoffMs } = this.opts.retry ?? COMMAND_RETRY;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(cmd, jobId, attempt < attempts);
      } catch {
        await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
      }
    }
  }

  /**
   * Runs the command once: its result, success or failure. A transient failure is thrown
   * instead when `mayRetry`, for the caller to try again.
   */
  private attempt(cmd: HostCommandPayload, jobId: string, mayRetry: boolean): Promise<AgentResultPayload> {
    // A command of a batch has its own request id: its logs, and the driver's, carry it.
    return withRequestId(cmd.requestId, () => this.attemptOnce(cmd, jobId, mayRetry));
  }

  private async attemptOnce(cmd: HostCommandPayload, jobId: string, mayRetry: boolean): Promise<AgentResultPayload> {
    const base = { jobId, operationId: cmd.operationId, instanceId: cmd.instanceId, hostId: this.hostId, command: cmd.command, ...(cmd.requestId ? { requestId: cmd.requestId } : {}) };
    const driver = this.drivers.get(cmd.driver);
    const ctx = this.context(cmd);
    const started = Date.now();
    const took = (outcome: string): number => {
      const seconds = (Date.now() - started) / 1000;
      if (driver) driverCalls(cmd.driver, cmd.command, outcome).observe(seconds);
      return seconds;
    };
    try {
      // Another host may have it: host-specific, so a create is tried elsewhere.
      if (!driver) throw new DriverError('Unavailable', `driver ${cmd.driver} is not available on this host`);
      if (ctx.signal?.aborted) throw new DriverError('Fatal', 'aborted before it started');
      this.log.debug(`${cmd.driver} ${cmd.command} of ${cmd.instanceId} (operation ${cmd.operationId})`);
      if (isMigrationCommand(cmd.command)) {
        const { status, migration } = await this.migrate(driver, cmd.command, cmd, ctx);
        this.log.debug(`${cmd.driver} ${cmd.command} of ${cmd.instanceId} ok in ${took('ok').toFixed(3)} s`);
        return { ...base, ok: true, state: status?.state, details: details(status), ...(migration ? { migration } : {}) };
      }
      const status = await this.execute(driver, cmd, ctx);
      this.log.debug(`${cmd.driver} ${cmd.command} of ${cmd.instanceId} ok in ${took('ok').toFixed(3)} s`);
      return { ...base, ok: true, state: status?.state, details: details(status) };
    } catch (e) {
      // Aborted (the operation was cancelled or timed out): reported, never tried again.
      const error = ctx.signal?.aborted ? new DriverError('Fatal', `${cmd.command} aborted: the operation was cancelled`) : asDriverError(e);
      took(ctx.signal?.aborted ? 'aborted' : error.code);
      if (error.retryable && mayRetry) throw error;
      this.log.warn(`${cmd.command} of ${cmd.instanceId} failed: ${error.message}`);
      return { ...base, ok: false, error: { code: error.code, message: error.message } };
    } finally {
      ctx.end();
    }
  }

  private async execute(driver: Driver, cmd: HostCommandPayload, ctx: DriverContext): Promise<InstanceStatus | undefined> {
    switch (cmd.command) {
      case 'create': {
        if (!cmd.spec) throw new DriverError('InvalidArgument', 'create without a spec');
        ctx.progress?.(0, 'creating');
        const created = await driver.create(cmd.spec, { ...ctx, progress: (p, s) => ctx.progress?.(p * 0.6, s) });
        if (cmd.start === false) return created;
        ctx.progress?.(60, 'starting');
        return driver.start(cmd.instanceId, { ...ctx, progress: (p, s) => ctx.progress?.(60 + p * 0.4, s) });
      }
      case 'start':
        return driver.start(cmd.instanceId, ctx);
      case 'stop':
        return driver.stop(cmd.instanceId, cmd.stop ?? {}, ctx);
      case 'restart':
        return driver.restart(cmd.instanceId, ctx);
      case 'suspend':
        return driver.suspend(cmd.instanceId, ctx);
      case 'resume':
        return driver.resume(cmd.instanceId, ctx);
      case 'destroy':
        if (cmd.stop?.force) await forceStopIfThere(driver, cmd.instanceId, ctx);
        try {
          await driver.destroy(cmd.instanceId, ctx);
        } catch (e) {
          // Drivers answer NotFound for an instance that is not there: nothing left is a clean destroy.
          if (!DriverError.is(e, 'NotFound')) throw e;
        }
        return undefined;
      case 'snapshot':
        await need(driver.snapshotCreate, 'snapshot').call(driver, cmd.instanceId, required(cmd.snapshot, 'snapshot'), ctx);
        return driver.inspect(cmd.instanceId);
      case 'restore':
        return need(driver.snapshotRestore, 'restore a snapshot').call(driver, cmd.instanceId, required(cmd.snapshot, 'snapshot'), ctx);
      case 'snapshot-delete':
        await need(driver.snapshotDelete, 'delete a snapshot').call(driver, cmd.instanceId, required(cmd.snapshot, 'snapshot'), ctx);
        return driver.inspect(cmd.instanceId);
      case 'clone':
        return need(driver.clone, 'clone').call(driver, cmd.instanceId, required(cmd.clone, 'clone'), ctx);
      case 'resize': {
        const resize = required(cmd.resize, 'resize');
        return need(driver.resize, 'resize').call(driver, cmd.instanceId, resize.resources, resize.limits, ctx);
      }
      case 'migrate-prepare':
      case 'migrate-send':
      case 'migrate-finish':
      case 'migrate-cleanup':
      case 'migrate-abort':
        return (await this.migrate(driver, cmd.command, cmd, ctx)).status;
    }
  }

  /**
   * The migrate-* commands (see MIGRATION_COMMANDS in @hyperplane/queue): each one driver step,
   * with what the controller needs for the next (the target, the figures) in `migration`.
   */
  private async migrate(driver: Driver, command: MigrationCommand, cmd: HostCommandPayload, ctx: DriverContext): Promise<{ status?: InstanceStatus; migration?: AgentResultPayload['migration'] }> {
    const m = cmd.migration ?? {};
    switch (command) {
      case 'migrate-prepare': {
        const spec = required(cmd.spec, 'spec');
        if (spec.id !== cmd.instanceId) throw new DriverError('InvalidArgument', `spec.id ${spec.id} is not the command's instance ${cmd.instanceId}`);
        const target = await need(driver.migrateReceive, 'migrate').call(driver, spec, { mode: required(m.mode, 'migration.mode') }, ctx);
        return { migration: { target } };
      }
      case 'migrate-send': {
        const stats = await need(driver.migrateSend, 'migrate').call(driver, cmd.instanceId, required(m.target, 'migration.target'), ctx);
        const status = await driver.inspect(cmd.instanceId).catch(() => undefined);
        return { status, migration: { stats } };
      }
      case 'migrate-finish':
        return { status: await need(driver.migrateFinish, 'migrate').call(driver, cmd.instanceId, ctx) };
      case 'migrate-cleanup':
        await need(driver.migrateCleanup, 'migrate').call(driver, cmd.instanceId, ctx);
        return {};
      case 'migrate-abort':
        return { status: await need(driver.migrateAbort, 'migrate').call(driver, cmd.instanceId, required(m.side, 'migration.side'), ctx) };
    }
  }

  /**
   * Progress as the driver reports it, sent at most every half second: quick commands send
   * none; the latest report of a window goes out at its end, so that a long silent stretch
   * (a debootstrap download) shows the step it is in rather than one from before. `end()`
   * drops what is still pending once the command is over.
   */
  private context(cmd: HostCommandPayload): DriverContext & { end(): void } {
    let last = Date.now();
    let pending: { percent: number; step: string } | null = null;
    let timer: NodeJS.Timeout | null = null;
    const aborts = this.opts.aborts;
    const signal = aborts?.start(cmd.operationId);
    const send = (percent: number, step: string): void => {
      last = Date.now();
      void this.queue
        .enqueue({
          queue: this.resultsQueue,
          name: JobName.AgentProgress,
          jobId: progressJobId(cmd.operationId, last),
          data: { operationId: cmd.operationId, hostId: this.hostId, percent: Math.round(percent), step },
        })
        .catch(() => undefined);
    };
    const flush = (): void => {
      timer = null;
      if (pending) send(pending.percent, pending.step);
      pending = null;
    };
    return {
      ...(signal ? { signal } : {}),
      progress: (percent, step) => {
        pending = { percent, step };
        const wait = last + PROGRESS_EVERY_MS - Date.now();
        if (wait <= 0) flush();
        else timer ??= setTimeout(flush, wait);
      },
      end: () => {
        if (signal) aborts?.end(cmd.operationId, signal);
        if (timer) clearTimeout(timer);
        timer = null;
        pending = null;
      },
    };
  }
}
