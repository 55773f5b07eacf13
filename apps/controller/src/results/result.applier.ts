import { Injectable, Logger } from '@nestjs/common';
import { ACTION_RULES, InstanceState } from '@hyperplane/domain';
import { Database, HostRepository, InstanceRepository, OperationEntity, OperationRepository } from '@hyperplane/db';
import { AgentProgressPayload, AgentResultPayload, hostJobId, hostQueueName, isCommandBatchJobId, isMigrationCommand } from '@hyperplane/queue';
import { OperationHandlers } from '../operations/operation-handlers.registry';
import { Rescheduler } from '../placement/rescheduler';

/** The job a result answers (an agent older than command batches names none: its command went alone). */
function answered(r: AgentResultPayload): string {
  return r.jobId ?? hostJobId(r.operationId, r.command);
}

/**
 * Whether a result answers the job its operation waits for. A command sent in a command batch
 * (a create or a destroy), whose batch was then seen done without its result and sent again
 * alone (Reconciler), is answered by the batch's success too: that report may still come (it
 * waited in the results queue of a controller that died), and it is the same command on the
 * same host (the caller checks the host). Without this, the report was dropped and the
 * operation waited for the resend alone.
 */
export function answersJob(op: Pick<OperationEntity, 'id' | 'jobId'>, r: AgentResultPayload): boolean {
  const job = answered(r);
  if (op.jobId === job) return true;
  return r.ok && isCommandBatchJobId(job) && op.jobId === hostJobId(op.id, r.command);
}

/**
 * Whether a result comes from the host its operation's command was sent to: the command's
 * queue is that host's (named after its agent), the result names that host, and it came on
 * that agent's results queue — which, with per-agent Redis users, only that agent can write.
 */
function fromItsHost(jobQueue: string | null, agentId: string, r: AgentResultPayload): boolean {
  return jobQueue !== null && jobQueue === hostQueueName(agentId, r.hostId);
}

/** Commands whose success only moves the instance's state, from these states: applied in bulk. */
const SETTLING: Partial<Record<AgentResultPayload['command'], readonly InstanceState[]>> = {
  create: ['provisioning'],
  ...Object.fromEntries(Object.entries(ACTION_RULES).map(([action, rule]) => [action, [...rule.from, rule.to]])),
};

/**
 * Applies what agents report. Each result is checked (it answers the job its operation waits
 * for, from the host that job went to) and handed to its operation's handler, in one
 * transaction of guarded transitions; a duplicate or late result finds the guard closed and is
 * ignored, which is what makes at-least-once delivery safe. Successes that only move an
 * instance's state are applied in bulk here (applyMany).
 */
@Injectable()
export class ResultApplier {
  private readonly log = new Logger('results');

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly handlers: OperationHandlers,
    private readonly rescheduler: Rescheduler,
  ) {}

  /** Results refused because they did not come from the host their command was sent to. */
  rejected = 0;

  /** `agentId`: the agent whose results queue the result came on (only it can write there). */
  async apply(r: AgentResultPayload, agentId: string): Promise<'applied' | 'ignored' | 'rejected'> {
    const outcome = await this.db.transaction(async (em) => {
      const op = await this.operations.getLocked(em, r.operationId);
      if (!op || op.status !== 'running' || !answersJob(op, r)) return 'ignored';
      const instance = op.instanceId ? await this.instances.getLocked(em, op.instanceId) : null;
      if (!instance) return 'ignored';
      // A migration's commands go to the destination too: the queue they were sent to is the check.
      if (!fromItsHost(op.jobQueue, agentId, r) || (instance.hostId !== r.hostId && !isMigrationCommand(r.command))) return 'rejected';
      // The operation's kind decides what the result means (a create's destroy is its clean-up).
      const handler = this.handlers.get(op.kind);
      if (r.ok) await handler.onResult(em, op, instance, r);
      else await handler.onFailure(em, op, instance, r);
      return 'applied';
    });
    if (outcome === 'rejected') this.reject(r, agentId);
    return outcome;
  }

  /** Logged and counted: a result for an operation whose command went to another host (or agent). */
  reject(r: AgentResultPayload, agentId: string, why = 'its command was sent to another host'): void {
    this.rejected++;
    this.log.warn(`refused a ${r.command} result for operation ${r.operationId} from agent ${agentId} naming host ${r.hostId}: ${why}`);
  }

  /**
   * Whether a result can be applied with others in one statement (see applyMany): a success that
   * only moves its instance's state, or a destroy's (a delete's end; a destroy that is another
   * kind's clean-up is handed to apply() from there).
   */
  bulkable(r: AgentResultPayload): boolean {
    return r.ok && (SETTLING[r.command] !== undefined || r.command === 'destroy');
  }

  /**
   * Bulkable results (successes that only move an instance's state) applied together: one
   * transaction, one UPDATE for the instances, one for the operations, one INSERT of events —
   * guarded like apply(), so duplicates and stale results change nothing.
   */
  async applyMany(results: { result: AgentResultPayload; agentId: string }[]): Promise<void> {
    const unique = [...new Map(results.map((x) => [x.result.operationId, x])).values()];
    const refused: typeof unique = [];
    const alone: typeof unique = [];
    let freed = false;
    await this.db.transaction(async (em) => {
      refused.length = 0;
      alone.length = 0;
      const ops = new Map((await this.operations.lockWaitingFor(em, unique.map((x) => x.result.operationId))).map((o) => [o.id, o]));
      const valid = unique
        .filter((x) => {
          const { result: r, agentId } = x;
          const op = ops.get(r.operationId);
          if (!(op?.status === 'running' && answersJob(op, r) && op.instanceId === r.instanceId && this.bulkable(r))) return false;
          // The operation's job queue is its host's: the result must come from that host's agent.
          if (!fromItsHost(op.jobQueue, agentId, r)) {
            refused.push(x);
            return false;
          }
          // A destroy ends a delete here; for any other kind (a create's clean-up, a migration's
          // source) its handler decides what it means.
          if (r.command === 'destroy' && op.kind !== 'delete') {
            alone.push(x);
            return false;
          }
          return true;
        })
        .map((x) => x.result);
      const settled = valid.filter((r) => r.command !== 'destroy');
      await this.instances.settleMany(
        em,
        settled.map((r) => ({ id: r.instanceId, state: r.state ?? (r.command === 'create' ? 'stopped' : 'running'), from: SETTLING[r.command]! })),
      );
      // Deletes done: instances deleted, what they held given back to their hosts in one sum each.
      const held = await this.instances.deletedMany(em, valid.filter((r) => r.command === 'destroy').map((r) => r.instanceId));
      await this.operations.succeedMany(em, valid.map((r) => ({ id: r.operationId, result: r.details ? { details: r.details } : null })));
      await this.hosts.clearCreateFailures(em, valid.filter((r) => r.command === 'create').map((r) => r.hostId));
      // Hosts last, sent with the COMMIT: their rows are what concurrent result batches (and
      // heartbeats) wait for when one host is being emptied, so they are held for no round trip.
      await this.hosts.releaseMany(em, held);
      freed = held.some((h) => h.hostId !== null);
    });
    if (freed) this.rescheduler.kick();
    for (const x of refused) this.reject(x.result, x.agentId);
    for (const x of alone) await this.apply(x.result, x.agentId);
  }

  async progress(p: AgentProgressPayload, agentId: string): Promise<void> {
    // The host's work is 10–100 % of the operation; placement and dispatch were the first 10.
    // Only for an operation whose command went to this host of this agent.
    await this.operations.progress(p.operationId, 10 + (Math.max(0, Math.min(100, p.percent)) * 89) / 100, p.step, hostQueueName(agentId, p.hostId));
  }
}
