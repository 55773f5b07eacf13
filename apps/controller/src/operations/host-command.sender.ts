import { Injectable, Logger } from '@nestjs/common';
import { Database, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, OutboxRepository, Tx } from '@hyperplane/db';
import { HostCommand, HostCommandPayload, isCommandBatchJobId, isHostQueue, JobQueue, QueueMessage } from '@hyperplane/queue';
import { HostAgents } from '../hosts/host-agents';
import { PlacementService } from '../placement/placement.service';
import { CommandExtra, hostCommand, hostCommandBatches, resendHostJob } from './host-command';

export interface SendOptions {
  /** The caller's transaction; without one the command is sent in a transaction of its own. */
  em?: Tx;
  /** Move the operation from queued to running in the same UPDATE (false back if it was no longer queued). */
  begin?: boolean;
  /** The operation's step while its host works (default: the command); null keeps step and progress as they are. */
  step?: string | null;
}

/**
 * The one way a driver command reaches a host: through the outbox (so it is sent exactly when
 * its transaction commits), with the operation remembering the job it waits for (so the
 * reconciler can send it again under the same id if Redis loses it). Alone, in command batches,
 * or again after a loss — every path is here.
 */
@Injectable()
export class HostCommandSender {
  private readonly log = new Logger('operations');

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly outbox: OutboxRepository,
    private readonly hostAgents: HostAgents,
    private readonly placement: PlacementService,
    private readonly queue: JobQueue,
  ) {}

  /** Sends `command` for `instance` (on its host) as `op`'s step. False only when `begin` found the operation no longer queued. */
  async send(op: OperationEntity, instance: InstanceEntity, command: HostCommand, extra: CommandExtra = {}, options: SendOptions = {}): Promise<boolean> {
    const agentId = await this.hostAgents.agentOf(instance.hostId!);
    const write = async (tx: Tx): Promise<boolean> => {
      const { message, patch } = hostCommand(op.id, instance, agentId, command, extra);
      const fields = options.step === null ? patch : { ...patch, step: options.step ?? command, progress: 10 };
      if (options.begin) {
        // Running and dispatched in one UPDATE; cancelled in the meantime: nothing to send.
        if (!(await this.operations.transition(tx, op.id, ['queued'], 'running', fields))) return false;
      } else {
        await this.operations.patch(tx, op.id, fields);
      }
      await this.outbox.add(tx, [message]);
      return true;
    };
    return options.em ? write(options.em) : this.db.transaction(write);
  }

  /**
   * Many queued operations' commands, as command batches (one job per host for up to
   * MAX_COMMAND_BATCH of them): the operations go running, waiting for their batch's job.
   * Returns how many operations moved.
   */
  async sendBatches(em: Tx, commands: { operationId: string; step: string; payload: HostCommandPayload }[]): Promise<number> {
    if (commands.length === 0) return 0;
    const { messages, patches } = hostCommandBatches(commands, await this.hostAgents.of(commands.map((c) => c.payload.hostId)));
    const dispatched = await this.operations.dispatchMany(
      em,
      commands.map((c) => {
        const patch = patches.get(c.operationId)!;
        return { id: c.operationId, step: c.step, jobQueue: patch.jobQueue!, jobId: patch.jobId!, jobData: patch.jobData ?? null };
      }),
    );
    await this.outbox.add(em, messages);
    return dispatched.length;
  }

  /** Whether the operation's work is already with a host (its command was sent). */
  sentToHost(op: OperationEntity): boolean {
    return op.jobQueue !== null && isHostQueue(op.jobQueue) && op.jobId !== null;
  }

  /**
   * A replay of an operation already handed to a host: the same job again (a no-op if it
   * exists). A command batch cannot be re-sent from one operation: the reconciler checks it.
   */
  async resendAlone(op: OperationEntity): Promise<void> {
    if (!isCommandBatchJobId(op.jobId!) && op.jobData) await this.queue.enqueue(resendHostJob(op));
  }

  /** The host job to send again for an operation whose job was lost: as it was, or (from a batch) alone, made again from its instance. */
  async resendable(op: OperationEntity): Promise<QueueMessage | null> {
    if (!isCommandBatchJobId(op.jobId!)) return resendHostJob(op);
    const found = op.instanceId ? await this.instances.get(op.instanceId) : null;
    // A destroy (batch delete) is made from the instance alone; a create needs its template.
    const template = found && op.kind !== 'delete' ? await this.placement.template(found.template) : null;
    if (!found || (!template && op.kind !== 'delete')) {
      this.log.warn(`operation ${op.id}: its command batch was lost and its ${found ? `template ${found.template}` : 'instance'} is gone; it cannot be sent again`);
      return null;
    }
    return resendHostJob(op, { instance: found, template });
  }
}
