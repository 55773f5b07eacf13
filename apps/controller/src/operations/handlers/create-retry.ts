import { Injectable, Logger } from '@nestjs/common';
import { HostRepository, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, OutboxRepository, Tx } from '@hyperplane/db';
import { createsInstance, REQUEST_ERROR_CODES } from '@hyperplane/domain';
import { JobName, QueueName, runAgainJobId } from '@hyperplane/queue';
import { Rescheduler } from '../../placement/rescheduler';
import { HostCommandSender } from '../host-command.sender';

/** Hosts a create is tried on, at most, before the instance is left in error. */
export const CREATE_ATTEMPTS = 3;

/** A host that failed to create the instance: kept in the create operation's result. */
export interface FailedCreate {
  hostId: string;
  code: string;
  message: string;
}

/**
 * Driver errors that say the request itself is wrong: another host would fail it too. Every
 * other code (`Unavailable`: this host lacks the image or the driver; `Fatal`) tries another host.
 */
const REQUEST_ERRORS = new Set<string>(REQUEST_ERROR_CODES);

/** The hosts that already failed this create operation (placement leaves them out). */
export function failedCreates(op: OperationEntity): FailedCreate[] {
  const failed = (op.result as { failedCreates?: FailedCreate[] } | null)?.failedCreates;
  return Array.isArray(failed) ? failed : [];
}

/**
 * A create that fails on its host is tried on another, like Nova's reschedule on a build
 * failure: the host first removes what the failed create may have left (a `destroy` in the
 * same operation), then the claim is released and the operation placed again without the
 * hosts that failed it, up to CREATE_ATTEMPTS hosts. A pinned instance, a request any host
 * would refuse, or the last attempt ends in `error` as before, keeping host and claim until a
 * delete succeeds. Every step is a guarded change in the result's transaction.
 */
@Injectable()
export class CreateRetry {
  private readonly log = new Logger('results');

  constructor(
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly outbox: OutboxRepository,
    private readonly commands: HostCommandSender,
    private readonly rescheduler: Rescheduler,
  ) {}

  /** After a failed create: sends the clean-up and answers true, or false to end in error. */
  async cleanUp(em: Tx, op: OperationEntity, instance: InstanceEntity, error: { code: string; message: string }): Promise<boolean> {
    const failed = [...failedCreates(op), { hostId: instance.hostId!, code: error.code, message: error.message }];
    // HA: a `recover` is retried on another host like a create (apps/controller/src/ha).
    if (!createsInstance(op.kind) || !instance.hostId || instance.placement.hostId || REQUEST_ERRORS.has(error.code) || failed.length >= CREATE_ATTEMPTS) return false;
    const cleaning = await this.instances.transition(em, instance.id, ['provisioning'], 'provisioning', {
      stateReason: `create failed on host ${instance.hostId}: ${error.message}; removing what it left there, to try another host`,
    });
    if (!cleaning) return false;
    await this.operations.patch(em, op.id, { result: { failedCreates: failed } });
    await this.commands.send(op, cleaning, 'destroy', {}, { em });
    this.log.warn(`operation ${op.id}: create failed on host ${instance.hostId} (${error.message}); cleaning up to try another host`);
    return true;
  }

  /** After the clean-up: the claim is released and the operation placed again (the runner excludes the failed hosts). */
  async placeAgain(em: Tx, op: OperationEntity, instance: InstanceEntity): Promise<void> {
    const failed = failedCreates(op);
    const again = await this.instances.transition(em, instance.id, ['provisioning'], 'pending', {
      hostId: null,
      driver: null,
      technology: null,
      arch: null,
      claimVcpus: 0,
      claimMemoryMib: 0,
      claimDiskGib: 0,
      stateReason: `create failed on ${failed.length} host(s); trying another`,
    });
    if (!again) {
      // Moved on meanwhile (its host lost, say): the operation ends rather than wait for ever.
      await this.operations.transition(em, op.id, ['running'], 'failed', { step: 'failed', error: { code: 'invalid-state', message: `the instance left provisioning before its create could be tried again` } });
      return;
    }
    await this.hosts.release(em, instance.hostId!, this.instances.claimOf(instance));
    const jobId = runAgainJobId(op.id, failed.length);
    await this.operations.patch(em, op.id, { step: 'placing again', progress: 1, jobQueue: QueueName.Control, jobId, jobData: { operationId: op.id } });
    await this.outbox.add(em, [{ queue: QueueName.Control, jobName: JobName.RunOperation, jobId, payload: { operationId: op.id } }]);
    this.rescheduler.kick(); // the failed host has room again
  }

  /** The clean-up itself failed: the instance stays on the host, in error, as after any failed create. */
  async cleanUpFailed(em: Tx, op: OperationEntity, instance: InstanceEntity, error: { code: string; message: string }): Promise<void> {
    const created = failedCreates(op).at(-1);
    const reason = `create failed on the host (${created?.message ?? 'no reason given'}) and removing what it left failed too: ${error.message}`;
    await this.instances.transition(em, instance.id, ['provisioning'], 'error', { stateReason: reason });
    await this.operations.transition(em, op.id, ['running'], 'failed', { step: 'failed', error: { code: created?.code ?? error.code, message: reason } });
  }
}
