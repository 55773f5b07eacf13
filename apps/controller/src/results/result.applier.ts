import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ACTION_RULES, InstanceState, Resources } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, SnapshotRepository, Tx } from '@hyperplane/db';
import { AgentProgressPayload, AgentResultPayload, hostQueueName } from '@hyperplane/queue';
import { hostJobId } from '../operations/host-command';
import { Rescheduler } from '../reconcile/rescheduler';
import { CreateRetry, failedCreates } from './create-retry';
import { createsInstance } from '../ha/recover-kind';

const SETTLED: InstanceState[] = ['running', 'stopped', 'suspended'];

/** The job a result answers (an agent older than command batches names none: its command went alone). */
function answered(r: AgentResultPayload): string {
  return r.jobId ?? hostJobId(r.operationId, r.command);
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
 * Applies what agents report. Each result is a guarded transition of the operation and its
 * instance in one transaction; a duplicate or late result finds the guard closed and is
 * ignored, which is what makes at-least-once delivery safe.
 */
@Injectable()
export class ResultApplier {
  private readonly log = new Logger('results');

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly snapshots: SnapshotRepository,
    private readonly rescheduler: Rescheduler,
    private readonly retry: CreateRetry,
  ) {}

  /** Results refused because they did not come from the host their command was sent to. */
  rejected = 0;

  /** `agentId`: the agent whose results queue the result came on (only it can write there). */
  async apply(r: AgentResultPayload, agentId: string): Promise<'applied' | 'ignored' | 'rejected'> {
    const outcome = await this.db.transaction(async (em) => {
      const op = await this.operations.getLocked(em, r.operationId);
      if (!op || op.status !== 'running' || op.jobId !== answered(r)) return 'ignored';
      const instance = op.instanceId ? await this.instances.getLocked(em, op.instanceId) : null;
      if (!instance) return 'ignored';
      if (!fromItsHost(op.jobQueue, agentId, r) || instance.hostId !== r.hostId) return 'rejected';
      if (r.ok) await this.succeed(em, op, instance, r);
      else await this.failed(em, op, instance, r);
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

  /** Whether a result can be applied with others in one statement (see applyMany). */
  bulkable(r: AgentResultPayload): boolean {
    return r.ok && SETTLING[r.command] !== undefined;
  }

  /**
   * Bulkable results (successes that only move an instance's state) applied together: one
   * transaction, one UPDATE for the instances, one for the operations, one INSERT of events —
   * guarded like apply(), so duplicates and stale results change nothing.
   */
  async applyMany(results: { result: AgentResultPayload; agentId: string }[]): Promise<void> {
    const unique = [...new Map(results.map((x) => [x.result.operationId, x])).values()];
    const refused: typeof unique = [];
    await this.db.transaction(async (em) => {
      refused.length = 0;
      const ops = new Map((await this.operations.lockWaitingFor(em, unique.map((x) => x.result.operationId))).map((o) => [o.id, o]));
      const valid = unique
        .filter(({ result: r, agentId }) => {
          const op = ops.get(r.operationId);
          if (!(op?.status === 'running' && op.jobId === answered(r) && op.instanceId === r.instanceId && this.bulkable(r))) return false;
          // The operation's job queue is its host's: the result must come from that host's agent.
          if (fromItsHost(op.jobQueue, agentId, r)) return true;
          refused.push({ result: r, agentId });
          return false;
        })
        .map((x) => x.result);
      await this.instances.settleMany(
        em,
        valid.map((r) => ({ id: r.instanceId, state: r.state ?? (r.command === 'create' ? 'stopped' : 'running'), from: SETTLING[r.command]! })),
      );
      await this.operations.succeedMany(em, valid.map((r) => ({ id: r.operationId, result: r.details ? { details: r.details } : null })));
      await this.hosts.clearCreateFailures(em, valid.filter((r) => r.command === 'create').map((r) => r.hostId));
    });
    for (const x of refused) this.reject(x.result, x.agentId);
  }

  async progress(p: AgentProgressPayload, agentId: string): Promise<void> {
    // The host's work is 10–100 % of the operation; placement and dispatch were the first 10.
    // Only for an operation whose command went to this host of this agent.
    await this.operations.progress(p.operationId, 10 + (Math.max(0, Math.min(100, p.percent)) * 89) / 100, p.step, hostQueueName(agentId, p.hostId));
  }

  private async succeed(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    let result: Record<string, unknown> | null = r.details ? { details: r.details } : null;
    switch (r.command) {
      case 'create': {
        await this.instances.transition(em, instance.id, ['provisioning'], r.state ?? 'stopped', { stateReason: null });
        if (instance.hostId) await this.hosts.clearCreateFailures(em, [instance.hostId]);
        const failed = failedCreates(op);
        if (failed.length > 0) result = { ...result, failedCreates: failed };
        break;
      }
      case 'destroy': {
        if (createsInstance(op.kind)) {
          // The clean-up after a failed create (or HA recover): place the instance again, elsewhere.
          await this.retry.placeAgain(em, op, instance);
          return;
        }
        const gone = await this.instances.transition(em, instance.id, ['deleting'], 'deleted', {
          hostId: null,
          claimVcpus: 0,
          claimMemoryMib: 0,
          claimDiskGib: 0,
          deletedAt: new Date(),
          stateReason: null,
        });
        if (gone && instance.hostId) {
          await this.hosts.release(em, instance.hostId, this.instances.claimOf(instance));
          this.rescheduler.kick(); // freed capacity
        }
        break;
      }
      case 'start':
      case 'stop':
      case 'restart':
      case 'suspend':
      case 'resume': {
        const rule = ACTION_RULES[r.command];
        await this.instances.transition(em, instance.id, [...rule.from, rule.to], r.state ?? rule.to, { stateReason: null });
        break;
      }
      case 'snapshot':
        await this.snapshots.record(em, { id: randomUUID(), instanceId: instance.id, name: String(op.request.snapshot), operationId: op.id });
        await this.settle(em, instance, r);
        break;
      case 'restore':
        await this.settle(em, instance, r);
        break;
      case 'snapshot-delete':
        await this.snapshots.forget(em, instance.id, String(op.request.snapshot));
        break;
      case 'clone': {
        const copyId = String(op.request.cloneId);
        await this.instances.transition(em, copyId, ['provisioning'], r.state ?? 'stopped', { stateReason: null });
        result = { ...result, instanceId: copyId };
        break;
      }
      case 'resize': {
        const { resources, limits } = op.request as { resources: Resources; limits: Record<string, number> | null };
        await this.instances.patch(em, instance.id, { vcpus: resources.vcpus, memoryMib: resources.memoryMiB, diskGib: resources.diskGiB, ...(limits ? { limits } : {}) });
        break;
      }
    }
    // A reason left by an earlier failure no longer holds once a change succeeded.
    if (instance.stateReason && r.command !== 'destroy') await this.instances.clearReason(em, instance.id);
    await this.operations.transition(em, op.id, ['running'], 'succeeded', { step: 'done', result });
  }

  /** The instance's state as the driver reports it after a change that may move it. */
  private async settle(em: Tx, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    if (r.state && r.state !== instance.state) await this.instances.transition(em, instance.id, SETTLED, r.state, { stateReason: null });
  }

  private async failed(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const error = r.error ?? { code: 'Fatal', message: 'the agent reported a failure without a reason' };
    const reason = `${r.command} failed on the host: ${error.message}`;
    if (r.command === 'create' && instance.hostId) await this.hosts.noteCreateFailure(em, instance.hostId);
    if (r.command === 'create' && (await this.retry.cleanUp(em, op, instance, error))) return;
    if (r.command === 'destroy' && createsInstance(op.kind)) {
      // Nothing left to remove is a clean-up done.
      if (error.code === 'NotFound') await this.retry.placeAgain(em, op, instance);
      else await this.retry.cleanUpFailed(em, op, instance, error);
      return;
    }
    if (r.command === 'destroy' && error.code === 'NotFound') {
      // Nothing left on the host is a delete done (drivers answer NotFound for a missing instance).
      await this.succeed(em, op, instance, { ...r, ok: true, error: undefined });
      return;
    }
    if (r.command === 'create' || r.command === 'destroy') {
      // The instance may be half made (or half removed) on its host; it keeps its host and
      // claim until a delete succeeds.
      await this.instances.transition(em, instance.id, [instance.state], 'error', { stateReason: reason });
    } else if (r.command === 'clone') {
      // The copy may be half made on the host: it keeps its claim until it is deleted.
      await this.instances.transition(em, String(op.request.cloneId), ['provisioning'], 'error', { stateReason: reason });
      await this.instances.patch(em, instance.id, { stateReason: reason });
    } else if (error.code === 'NotFound') {
      await this.instances.transition(em, instance.id, [instance.state], 'error', { stateReason: 'the instance is missing on its host' });
    } else {
      if (r.command === 'resize') await this.undoResizeClaim(em, op, instance);
      await this.instances.patch(em, instance.id, { desiredState: instance.state, stateReason: reason });
    }
    await this.operations.transition(em, op.id, ['running'], 'failed', { step: 'failed', error: { code: error.code, message: error.message } });
    this.log.warn(`operation ${op.id}: ${reason}`);
  }

  /** The claim moved when the resize was sent; it moves back (to what the old size held). */
  private async undoResizeClaim(em: Tx, op: OperationEntity, instance: InstanceEntity): Promise<void> {
    const previous = (op.result as { previousClaim?: Resources } | null)?.previousClaim;
    if (!previous || !instance.hostId) return;
    const delta = {
      vcpus: instance.claimVcpus - previous.vcpus,
      memoryMiB: instance.claimMemoryMib - previous.memoryMiB,
      diskGiB: instance.claimDiskGib - previous.diskGiB,
    };
    await this.hosts.release(em, instance.hostId, delta, 0);
    await this.instances.patch(em, instance.id, { claimVcpus: previous.vcpus, claimMemoryMib: previous.memoryMiB, claimDiskGib: previous.diskGiB });
  }
}
