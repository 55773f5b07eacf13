import { Injectable, Logger } from '@nestjs/common';
import { ACTION_RULES, InstanceState } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, OperationRepository, Tx } from '@hyperplane/db';
import { AgentProgressPayload, AgentResultPayload } from '@hyperplane/queue';
import { hostJobId } from '../operations/host-command';
import { Rescheduler } from '../reconcile/rescheduler';

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
    private readonly rescheduler: Rescheduler,
  ) {}

  async apply(r: AgentResultPayload): Promise<'applied' | 'ignored'> {
    return this.db.transaction(async (em) => {
      const op = await this.operations.getLocked(em, r.operationId);
      if (!op || op.status !== 'running' || op.jobId !== hostJobId(op.id, r.command)) return 'ignored';
      const instance = op.instanceId ? await this.instances.getLocked(em, op.instanceId) : null;
      if (!instance) return 'ignored';
      if (r.ok) await this.succeed(em, op.id, instance, r);
      else await this.failed(em, op.id, instance, r);
      return 'applied';
    });
  }

  async progress(p: AgentProgressPayload): Promise<void> {
    // The host's work is 10–100 % of the operation; placement and dispatch were the first 10.
    await this.operations.progress(p.operationId, 10 + (Math.max(0, Math.min(100, p.percent)) * 89) / 100, p.step);
  }

  private async succeed(em: Tx, operationId: string, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    switch (r.command) {
      case 'create': {
        const to: InstanceState = r.state ?? 'stopped';
        await this.instances.transition(em, instance.id, ['provisioning'], to, { stateReason: null });
        break;
      }
      case 'destroy': {
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
    }
    await this.operations.transition(em, operationId, ['running'], 'succeeded', {
      step: 'done',
      result: r.details ? { details: r.details } : null,
    });
  }

  private async failed(em: Tx, operationId: string, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const error = r.error ?? { code: 'Fatal', message: 'the agent reported a failure without a reason' };
    const reason = `${r.command} failed on the host: ${error.message}`;
    if (r.command === 'create' || r.command === 'destroy') {
      // The instance may be half made (or half removed) on its host; it keeps its host and
      // claim until a delete succeeds.
      await this.instances.transition(em, instance.id, [instance.state], 'error', { stateReason: reason });
    } else if (error.code === 'NotFound') {
      await this.instances.transition(em, instance.id, [instance.state], 'error', { stateReason: 'the instance is missing on its host' });
    } else {
      await this.instances.patch(em, instance.id, { desiredState: instance.state, stateReason: reason });
    }
    await this.operations.transition(em, operationId, ['running'], 'failed', { step: 'failed', error: { code: error.code, message: error.message } });
    this.log.warn(`operation ${operationId}: ${reason}`);
  }
}
