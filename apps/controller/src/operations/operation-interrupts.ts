import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@hyperplane/config';
import { Database, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository } from '@hyperplane/db';
import { isCommandBatchJobId, isHostQueue, JobQueue } from '@hyperplane/queue';
import { HostAgents } from '../hosts/host-agents';
import { HANDLED_KINDS, HandledKind } from './operation-handler';
import { OperationHandlers } from './operation-handlers.registry';

const BATCH = 200;

/** `create=1800,stop=300` → kind → seconds; an unknown kind refuses to boot. */
export function parseTimeouts(spec: string): Map<HandledKind, number> {
  const out = new Map<HandledKind, number>();
  for (const part of spec.split(',').filter(Boolean)) {
    const [kind, seconds] = part.split('=') as [string, string];
    if (!(HANDLED_KINDS as readonly string[]).includes(kind)) throw new Error(`HYPERPLANE_OPERATION_TIMEOUTS names ${kind}, which is not an operation kind (${HANDLED_KINDS.join(', ')})`);
    out.set(kind as HandledKind, Number(seconds));
  }
  return out;
}

/**
 * Ends running operations from outside: a cancel asked for through the API (a control job), or
 * a deadline passed (checked every reconcile interval). The kind's handler decides what the
 * instance becomes (onCancel / onTimeout) in one transaction with the operation's end; then the
 * host's work is stopped: a command still waiting in the host's queue is removed, and the agent
 * gets an abort signal for one that runs (its driver's DriverContext.signal aborts). A result
 * that comes anyway finds the operation ended and is ignored.
 */
@Injectable()
export class OperationInterrupts implements OnApplicationShutdown {
  private readonly log = new Logger('operations');
  private readonly timeouts: Map<HandledKind, number>;
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;
  /** Operations ended because their deadline passed (for tests and metrics). */
  timedOut = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly handlers: OperationHandlers,
    private readonly hostAgents: HostAgents,
    private readonly queue: JobQueue,
  ) {
    this.timeouts = parseTimeouts(config.HYPERPLANE_OPERATION_TIMEOUTS);
  }

  /** Checks deadlines every reconcile interval. */
  start(): void {
    this.timer = setInterval(() => void this.tick(), this.config.HYPERPLANE_RECONCILE_INTERVAL_S * 1000);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.busy;
  }

  tick(): Promise<void> {
    this.busy ??= this.expire()
      .catch((e: unknown) => this.log.warn(`deadline check failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.busy = null));
    return this.busy;
  }

  /** The timeout of a kind, in seconds. */
  timeoutOf(kind: HandledKind): number {
    return this.timeouts.get(kind) ?? this.config.HYPERPLANE_OPERATION_TIMEOUT_S;
  }

  /** A cancel asked for through the API (`by`: who). False when the operation had already ended. */
  cancel(operationId: string, by: string): Promise<boolean> {
    return this.end(operationId, 'cancel', by);
  }

  private async expire(): Promise<void> {
    const due = await this.operations.pastDeadline(this.config.HYPERPLANE_OPERATION_TIMEOUT_S, this.timeouts, BATCH);
    for (const op of due) {
      if (await this.end(op.id, 'timeout')) {
        this.timedOut++;
        this.log.warn(`operation ${op.id} (${op.kind}) timed out after ${this.timeoutOf(op.kind)} s`);
      }
    }
  }

  private async end(operationId: string, why: 'cancel' | 'timeout', by?: string): Promise<boolean> {
    const ended = await this.db.transaction(async (em) => {
      const op = await this.operations.getLocked(em, operationId);
      if (!op || (op.status !== 'running' && op.status !== 'queued')) return null;
      const instance = op.instanceId ? await this.instances.getLocked(em, op.instanceId) : null;
      const handler = this.handlers.get(op.kind);
      if (why === 'cancel') await handler.onCancel(em, op, instance);
      else await handler.onTimeout(em, op, instance);
      const now = await this.operations.getLocked(em, operationId);
      if (now?.status === op.status) return null; // the handler left it running (nothing to end)
      return { op, instance };
    });
    if (!ended) return false;
    if (why === 'cancel') this.log.log(`operation ${operationId} (${ended.op.kind}) cancelled${by ? ` by ${by}` : ''}`);
    await this.stopHostWork(ended.op, ended.instance).catch((e: unknown) =>
      this.log.warn(`operation ${operationId}: could not stop its host work: ${e instanceof Error ? e.message : String(e)}`),
    );
    return true;
  }

  /** The command waiting in the host's queue goes; the agent is told to abort one that runs. */
  private async stopHostWork(op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    if (!op.jobQueue || !op.jobId || !isHostQueue(op.jobQueue)) return;
    const hostId = (op.jobData as { hostId?: string } | null)?.hostId ?? instance?.hostId;
    if (!hostId) return;
    // A job that runs is locked by its agent and stays (removeJob leaves it); any other goes.
    if (!isCommandBatchJobId(op.jobId)) await this.queue.removeJob(op.jobQueue, op.jobId);
    // Also when the job was just removed: it may have been taken meanwhile (the agent drops an
    // abort it does not need once its memory of it expires).
    await this.queue.abort(await this.hostAgents.agentOf(hostId), op.id);
  }
}
