import { Logger } from '@nestjs/common';
import { UnrecoverableError, Job } from 'bullmq';
import { Driver, DriverContext, DriverError, InstanceStatus } from '@hyperplane/drivers';
import { AgentResultPayload, HostCommandPayload, JobName, JobQueue, QueueName } from '@hyperplane/queue';

const PROGRESS_EVERY_MS = 500;

/** An optional driver member, or Unsupported (the capability check should have caught it). */
function need<F>(member: F | undefined, what: string): F {
  if (!member) throw new DriverError('Unsupported', `this driver cannot ${what}`);
  return member;
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new DriverError('InvalidArgument', `command without its ${field}`);
  return value;
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
 * Runs one driver command for one host and reports the outcome on `agent-results`. Driver
 * calls are idempotent, so a command run twice (a job that stalled when the agent died) has
 * the effect of one. Transient failures are rethrown for BullMQ to retry with backoff; the
 * last failure is reported and ends the job as unrecoverable.
 */
export class CommandHandler {
  private readonly log = new Logger('agent');

  constructor(
    private readonly hostId: string,
    private readonly drivers: ReadonlyMap<string, Driver>,
    private readonly queue: JobQueue,
  ) {}

  async handle(cmd: HostCommandPayload, job: Job<HostCommandPayload>): Promise<void> {
    if (cmd.hostId !== this.hostId) throw new UnrecoverableError(`command for host ${cmd.hostId} reached host ${this.hostId}`);
    const driver = this.drivers.get(cmd.driver);
    try {
      if (!driver) throw new DriverError('Unsupported', `driver ${cmd.driver} is not available on this host`);
      const status = await this.execute(driver, cmd, this.context(cmd));
      await this.report({ ...this.base(cmd), ok: true, state: status?.state, details: details(status) });
    } catch (e) {
      const error = asDriverError(e);
      const attempts = job.opts.attempts ?? 1;
      if (error.retryable && job.attemptsMade + 1 < attempts) throw error;
      this.log.warn(`${cmd.command} of ${cmd.instanceId} failed: ${error.message}`);
      await this.report({ ...this.base(cmd), ok: false, error: { code: error.code, message: error.message } });
      throw new UnrecoverableError(error.message);
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
        await driver.destroy(cmd.instanceId, ctx);
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
    }
  }

  private base(cmd: HostCommandPayload): Pick<AgentResultPayload, 'operationId' | 'instanceId' | 'hostId' | 'command'> {
    return { operationId: cmd.operationId, instanceId: cmd.instanceId, hostId: this.hostId, command: cmd.command };
  }

  private context(cmd: HostCommandPayload): DriverContext {
    // Quick commands report no progress at all; slow ones every half second.
    let last = Date.now();
    return {
      progress: (percent, step) => {
        const now = Date.now();
        if (now - last < PROGRESS_EVERY_MS) return;
        last = now;
        void this.queue
          .enqueue({
            queue: QueueName.AgentResults,
            name: JobName.AgentProgress,
            jobId: `prg-${cmd.operationId}-${now}`,
            data: { operationId: cmd.operationId, hostId: this.hostId, percent: Math.round(percent), step },
          })
          .catch(() => undefined);
      },
    };
  }

  private async report(result: AgentResultPayload): Promise<void> {
    await this.queue.enqueue({ queue: QueueName.AgentResults, name: JobName.AgentResult, jobId: `res-${result.operationId}-${result.command}`, data: result });
  }
}
