import { Injectable } from '@nestjs/common';
import { InstanceState } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { PlacementService } from '../../placement/placement.service';
import { instanceSpec } from '../host-command';
import { HostCommandSender } from '../host-command.sender';
import { hostError, OperationOutcomes } from '../operation-outcomes';
import { InstanceChangeHandler } from './instance-change.handler';

/**
 * Copies an instance on its own host. The copy (made `pending` by the API) claims room on the
 * source's host in the transaction that sends the command, so allocations always equal the
 * sum of the claims.
 */
@Injectable()
export class CloneHandler extends InstanceChangeHandler {
  override readonly kind = 'clone' as const;
  protected override readonly from: readonly InstanceState[] = ['running', 'stopped'];

  constructor(
    outcomes: OperationOutcomes,
    private readonly db: Database,
    private readonly commands: HostCommandSender,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly placement: PlacementService,
  ) {
    super(outcomes);
  }

  protected async send(op: OperationEntity, source: InstanceEntity): Promise<void> {
    const copy = await this.instances.get(String(op.request.cloneId));
    const template = await this.placement.template(source.template);
    if (!copy || !template) {
      await this.outcomes.fail(op, { code: 'not-found', message: 'the clone or its template no longer exists' });
      return;
    }
    const claim = this.instances.claimOf(source);
    const claimed = await this.db.transaction(async (em) => {
      const policy = await this.placement.policyFor(source.projectId);
      const ok = await this.hosts.claim(em, { hostId: source.hostId!, technology: source.technology!, claim, instances: 1 }, this.placement.limits({ technology: source.technology! }, policy));
      if (!ok) return false;
      const placed = await this.instances.transition(em, copy.id, ['pending'], 'provisioning', {
        hostId: source.hostId,
        driver: source.driver,
        technology: source.technology,
        arch: source.arch,
        claimVcpus: claim.vcpus,
        claimMemoryMib: claim.memoryMiB,
        claimDiskGib: claim.diskGiB,
      });
      if (!placed) throw new Error(`clone ${copy.id} is no longer pending`);
      await this.commands.send(op, source, 'clone', { clone: instanceSpec(placed, template) }, { em });
      return true;
    });
    if (!claimed) {
      const reason = `no room for the clone on host ${source.hostId}`;
      await this.db.transaction((em) => this.instances.transition(em, copy.id, ['pending'], 'deleted', { stateReason: reason, deletedAt: new Date(), desiredState: 'deleted' }));
      await this.outcomes.fail(op, { code: 'no-capacity', message: reason });
    }
  }

  override async onCancel(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.endFromOutside(em, op, instance, 'cancelled', { code: 'cancelled', message: 'the clone was cancelled' });
  }

  override async onTimeout(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.endFromOutside(em, op, instance, 'failed', { code: 'timeout', message: 'the clone did not finish in time' });
  }

  /** The source stays as it is; the copy goes if it was never sent, or stays in `error` (with its claim) if its host may have made part of it. */
  private async endFromOutside(em: Tx, op: OperationEntity, instance: InstanceEntity | null, to: 'cancelled' | 'failed', error: { code: string; message: string }): Promise<void> {
    if (!(await this.outcomes.endedFromOutside(em, op, instance, to, error))) return;
    const copyId = String(op.request.cloneId);
    const gone = await this.instances.transition(em, copyId, ['pending'], 'deleted', { desiredState: 'deleted', deletedAt: new Date(), stateReason: error.message });
    if (!gone) await this.instances.transition(em, copyId, ['provisioning'], 'error', { stateReason: `${error.message} while its host was making it` });
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const copyId = String(op.request.cloneId);
    await this.instances.transition(em, copyId, ['provisioning'], r.state ?? 'stopped', { stateReason: null });
    await this.outcomes.succeeded(em, op, instance, { ...(r.details ? { details: r.details } : {}), instanceId: copyId });
  }

  override async onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const error = hostError(r);
    const reason = `${r.command} failed on the host: ${error.message}`;
    // The copy may be half made on the host: it keeps its claim until it is deleted.
    await this.instances.transition(em, String(op.request.cloneId), ['provisioning'], 'error', { stateReason: reason });
    await this.instances.patch(em, instance.id, { stateReason: reason });
    await this.outcomes.failedOnHost(em, op, error, reason);
  }
}
