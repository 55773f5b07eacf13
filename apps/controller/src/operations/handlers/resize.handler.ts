import { Injectable } from '@nestjs/common';
import { InstanceLimits, InstanceState, Resources } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { PlacementService } from '../../placement/placement.service';
import { HostCommandSender } from '../host-command.sender';
import { hostError, OperationOutcomes } from '../operation-outcomes';
import { InstanceChangeHandler } from './instance-change.handler';

interface ResizeRequest {
  resources: Resources;
  limits: InstanceLimits | null;
}

/** What a claim moves by when an instance is resized: the new request plus the old overhead. */
export function resizeClaim(instance: InstanceEntity, resources: Resources): { claim: Resources; delta: Resources } {
  const claim = {
    vcpus: resources.vcpus + (instance.claimVcpus - instance.vcpus),
    memoryMiB: resources.memoryMiB + (instance.claimMemoryMib - instance.memoryMib),
    diskGiB: resources.diskGiB + (instance.claimDiskGib - instance.diskGib),
  };
  return {
    claim,
    delta: { vcpus: claim.vcpus - instance.claimVcpus, memoryMiB: claim.memoryMiB - instance.claimMemoryMib, diskGiB: claim.diskGiB - instance.claimDiskGib },
  };
}

/**
 * Resizes an instance on its host. Its claim moves by the difference in the transaction that
 * sends the command, and moves back if the host cannot resize it.
 */
@Injectable()
export class ResizeHandler extends InstanceChangeHandler {
  override readonly kind = 'resize' as const;
  protected override readonly from: readonly InstanceState[] = ['running', 'stopped'];

  constructor(
    outcomes: OperationOutcomes,
    private readonly db: Database,
    private readonly commands: HostCommandSender,
    private readonly instances: InstanceRepository,
    private readonly operations: OperationRepository,
    private readonly hosts: HostRepository,
    private readonly placement: PlacementService,
  ) {
    super(outcomes);
  }

  protected async send(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    const request = op.request as unknown as ResizeRequest;
    const { claim, delta } = resizeClaim(instance, request.resources);
    const done = await this.db.transaction(async (em: Tx) => {
      const policy = await this.placement.policyFor(instance.projectId);
      const ok = await this.hosts.claim(em, { hostId: instance.hostId!, technology: instance.technology!, claim: delta, instances: 0 }, this.placement.limits({ technology: instance.technology! }, policy));
      if (!ok) return false;
      await this.instances.patch(em, instance.id, { claimVcpus: claim.vcpus, claimMemoryMib: claim.memoryMiB, claimDiskGib: claim.diskGiB });
      // Kept to undo the claim if the host cannot resize.
      await this.operations.patch(em, op.id, { result: { previousClaim: this.instances.claimOf(instance) } });
      await this.commands.send(op, instance, 'resize', { resize: { resources: request.resources, ...(request.limits ? { limits: request.limits } : {}) } }, { em });
      return true;
    });
    if (!done) await this.outcomes.fail(op, { code: 'no-capacity', message: `host ${instance.hostId} has no room for the larger size` }, instance);
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const { resources, limits } = op.request as { resources: Resources; limits: Record<string, number> | null };
    await this.instances.patch(em, instance.id, { vcpus: resources.vcpus, memoryMib: resources.memoryMiB, diskGib: resources.diskGiB, ...(limits ? { limits } : {}) });
    await this.outcomes.succeeded(em, op, instance, r.details ? { details: r.details } : null);
  }

  override async onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    if (hostError(r).code !== 'NotFound') await this.undoClaim(em, op, instance);
    await this.outcomes.changeFailed(em, op, instance, r);
  }

  override async onCancel(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    // Ended before the host answered: the claim moves back with the operation's end.
    if (instance && (await this.outcomes.endedFromOutside(em, op, instance, 'cancelled', { code: 'cancelled', message: 'resize was cancelled' }))) await this.undoClaim(em, op, instance);
  }

  override async onTimeout(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    if (instance && (await this.outcomes.endedFromOutside(em, op, instance, 'failed', { code: 'timeout', message: 'resize did not finish in time' }))) await this.undoClaim(em, op, instance);
  }

  /** The claim moved when the resize was sent; it moves back (to what the old size held). */
  private async undoClaim(em: Tx, op: OperationEntity, instance: InstanceEntity): Promise<void> {
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
