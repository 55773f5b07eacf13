import { Injectable } from '@nestjs/common';
import { InstanceChange, InstanceLimits, InstanceState, Resources } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, Tx } from '@hyperplane/db';
import { PlacementService } from '../placement/placement.service';
import { instanceSpec } from './host-command';
import { OperationOutcomes } from './operation-outcomes';

const SETTLED: readonly InstanceState[] = ['running', 'stopped', 'suspended'];

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
 * Runs snapshots, restores, clones and resizes up to the host. A clone claims room for the
 * copy on the source's host; a resize moves the instance's claim by the difference — both in
 * the transaction that dispatches, so allocations always equal the sum of the claims.
 */
@Injectable()
export class ChangeRunner {
  constructor(
    private readonly db: Database,
    private readonly instances: InstanceRepository,
    private readonly operations: OperationRepository,
    private readonly hosts: HostRepository,
    private readonly placement: PlacementService,
    private readonly outcomes: OperationOutcomes,
  ) {}

  async run(op: OperationEntity, instance: InstanceEntity, kind: InstanceChange): Promise<void> {
    if (!instance.hostId || !instance.driver) {
      await this.outcomes.fail(op, { code: 'not-placed', message: 'the instance has no host' });
      return;
    }
    const from = kind === 'clone' || kind === 'resize' ? ['running', 'stopped'] : SETTLED;
    if (!from.includes(instance.state)) {
      await this.outcomes.fail(op, { code: 'invalid-state', message: `instance is ${instance.state}; ${kind} needs ${from.join(' or ')}` });
      return;
    }
    switch (kind) {
      case 'snapshot':
      case 'restore':
      case 'snapshot-delete':
        return this.outcomes.dispatch(op, instance, kind, { snapshot: String(op.request.snapshot) });
      case 'clone':
        return this.clone(op, instance);
      case 'resize':
        return this.resize(op, instance, op.request as unknown as ResizeRequest);
    }
  }

  private async clone(op: OperationEntity, source: InstanceEntity): Promise<void> {
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
      await this.outcomes.dispatch(op, source, 'clone', { clone: instanceSpec(placed, template) }, em);
      return true;
    });
    if (!claimed) {
      const reason = `no room for the clone on host ${source.hostId}`;
      await this.db.transaction((em) => this.instances.transition(em, copy.id, ['pending'], 'deleted', { stateReason: reason, deletedAt: new Date(), desiredState: 'deleted' }));
      await this.outcomes.fail(op, { code: 'no-capacity', message: reason });
    }
  }

  private async resize(op: OperationEntity, instance: InstanceEntity, request: ResizeRequest): Promise<void> {
    const { claim, delta } = resizeClaim(instance, request.resources);
    const done = await this.db.transaction(async (em: Tx) => {
      const policy = await this.placement.policyFor(instance.projectId);
      const ok = await this.hosts.claim(em, { hostId: instance.hostId!, technology: instance.technology!, claim: delta, instances: 0 }, this.placement.limits({ technology: instance.technology! }, policy));
      if (!ok) return false;
      await this.instances.patch(em, instance.id, { claimVcpus: claim.vcpus, claimMemoryMib: claim.memoryMiB, claimDiskGib: claim.diskGiB });
      // Kept to undo the claim if the host cannot resize.
      await this.operations.patch(em, op.id, { result: { previousClaim: this.instances.claimOf(instance) } });
      await this.outcomes.dispatch(op, instance, 'resize', { resize: { resources: request.resources, ...(request.limits ? { limits: request.limits } : {}) } }, em);
      return true;
    });
    if (!done) await this.outcomes.fail(op, { code: 'no-capacity', message: `host ${instance.hostId} has no room for the larger size` }, instance);
  }
}
