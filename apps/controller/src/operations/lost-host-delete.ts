import { Injectable, Logger } from '@nestjs/common';
import { HostRepository, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, Tx } from '@hyperplane/db';

/**
 * `DELETE /v1/instances/{id}?force=true` of an instance whose host is `down`: nothing can reach
 * the host, so the instance is deleted here and its claim released at once (in the delete's
 * transaction). If the host comes back, its agent learns that the instance is gone (agent
 * assignments) and destroys its copy without starting it.
 */
@Injectable()
export class LostHostDelete {
  private readonly log = new Logger('ha');

  constructor(
    private readonly hosts: HostRepository,
    private readonly instances: InstanceRepository,
    private readonly operations: OperationRepository,
  ) {}

  /** True when it deleted the instance without its host (the operation has succeeded). */
  async withoutHost(em: Tx, op: OperationEntity, instance: InstanceEntity): Promise<boolean> {
    if (op.request.force !== true || !instance.hostId) return false;
    const host = await this.hosts.get(instance.hostId);
    if (host && host.status !== 'down') return false;
    const gone = await this.instances.transition(em, instance.id, ['deleting'], 'deleted', {
      hostId: null,
      claimVcpus: 0,
      claimMemoryMib: 0,
      claimDiskGib: 0,
      deletedAt: new Date(),
      stateReason: host ? `force-deleted while host ${host.name} was down; the host removes its copy if it returns` : null,
    });
    if (!gone) return false;
    if (host) await this.hosts.release(em, host.id, this.instances.claimOf(instance));
    await this.operations.transition(em, op.id, ['running'], 'succeeded', { step: 'deleted without its host (down)' });
    this.log.warn(`instance ${instance.name} (${instance.id}) force-deleted while its host ${host?.name ?? instance.hostId} is down; claim released`);
    return true;
  }
}
