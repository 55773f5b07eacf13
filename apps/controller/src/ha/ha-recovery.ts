import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InstanceState, statesLeadingTo } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, OperationRepository, OutboxRepository } from '@hyperplane/db';
import { JobName, QueueName } from '@hyperplane/queue';

/** States an HA instance on a lost host is recovered from (those that may go back to `pending`). */
export const RECOVERABLE: readonly InstanceState[] = statesLeadingTo('pending').filter((s) => !['pending', 'scheduling'].includes(s));

/** States a non-HA instance on a lost host shows as `unknown` from. */
export const MAY_BE_UNKNOWN: readonly InstanceState[] = statesLeadingTo('unknown').filter((s) => s !== 'unknown' && s !== 'pending');

/**
 * Recovers one HA instance of a lost, fenced host: in one transaction, the operation that was
 * waiting for that host ends failed (`host-lost`), the instance goes back to `pending` without
 * host or claim (its id, name, project, group, size and HA stay), the lost host's claim is
 * released, and a `recover` operation is queued. OperationRunner places and creates it like a
 * create (see the `recover` case there): anti-affinity, capacity claims and `unschedulable`
 * with its reason all come from the one placement path.
 */
@Injectable()
export class HaRecovery {
  private readonly log = new Logger('ha');

  constructor(
    private readonly db: Database,
    private readonly instances: InstanceRepository,
    private readonly operations: OperationRepository,
    private readonly outbox: OutboxRepository,
    private readonly hosts: HostRepository,
  ) {}

  /** Answers the recover operation's id, or null when the instance moved on meanwhile. */
  async recover(instance: InstanceEntity, host: { id: string; name: string }, restartAfter: number): Promise<string | null> {
    const opId = randomUUID();
    const done = await this.db.transaction(async (em) => {
      const current = await this.instances.getLocked(em, instance.id);
      if (!current || current.hostId !== host.id || !RECOVERABLE.includes(current.state) || !current.ha?.restart) return false;
      const waiting = await this.operations.lockActiveForInstance(em, current.id);
      if (waiting) {
        // Its command went to the lost host, which will never answer for this copy.
        await this.operations.transition(em, waiting.id, ['queued', 'running'], 'failed', {
          step: 'failed',
          error: { code: 'host-lost', message: `host ${host.name} was lost; the instance is being recovered on another host` },
        });
      }
      const moved = await this.instances.transition(em, current.id, [current.state], 'pending', {
        hostId: null,
        driver: null,
        technology: current.requestedTechnology === 'auto' ? null : current.requestedTechnology,
        arch: null,
        claimVcpus: 0,
        claimMemoryMib: 0,
        claimDiskGib: 0,
        stateReason: `host ${host.name} was lost and fenced; recovering on another host`,
      });
      if (!moved) return false;
      await this.hosts.release(em, host.id, this.instances.claimOf(current));
      const jobId = `run-${opId}`;
      const [op] = await this.operations.insertSystem(em, [
        {
          id: opId,
          projectId: current.projectId,
          instanceId: current.id,
          kind: 'recover',
          request: { reason: 'host lost', fromHostId: host.id, fromHost: host.name, previousState: current.state, restartAfter: new Date(restartAfter).toISOString() },
          jobQueue: QueueName.Control,
          jobId,
        },
      ]);
      if (!op) throw new Error(`instance ${current.id} has an active operation after the lost one was ended`);
      await this.outbox.add(em, [{ queue: QueueName.Control, jobName: JobName.RunOperation, jobId, payload: { operationId: opId } }]);
      return true;
    });
    if (!done) return null;
    this.log.warn(`instance ${instance.name} (${instance.id}) of lost host ${host.name}: recovering elsewhere (operation ${opId})`);
    return opId;
  }

  /**
   * A non-HA instance of a down host: `unknown` with the reason, keeping host and claim (the
   * host may come back; an admin may force-delete it or remove the host). Left alone while an
   * operation on it waits for the host.
   */
  async markUnknown(instance: InstanceEntity, host: { name: string }): Promise<boolean> {
    if (!MAY_BE_UNKNOWN.includes(instance.state)) return false;
    return this.db.transaction(async (em) => {
      if (await this.operations.lockActiveForInstance(em, instance.id)) return false;
      const moved = await this.instances.transition(em, instance.id, [instance.state], 'unknown', {
        stateReason: `host ${host.name} is down (no heartbeat): its state is unknown until the host reports again; an admin may delete it with ?force=true`,
      });
      return moved !== null;
    });
  }
}
