import { Injectable, Logger } from '@nestjs/common';
import { Database, InstanceEntity, InstanceRepository, OperationEntity, OperationError, OperationRepository, OutboxRepository, Tx } from '@hyperplane/db';
import { HostCommand, HostCommandPayload } from '@hyperplane/queue';
import { hostCommand } from './host-command';
import { HostAgents } from '../hosts/host-agents';

/** The two ways a runner hands an operation on: to its host, or to the failed pile. */
@Injectable()
export class OperationOutcomes {
  private readonly log = new Logger('operations');

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly outbox: OutboxRepository,
    private readonly hostAgents: HostAgents,
  ) {}

  /** Sends a driver command to the instance's host (in `em`, or a transaction of its own). */
  async dispatch(
    op: OperationEntity,
    instance: InstanceEntity,
    command: HostCommand,
    extra: Omit<Partial<HostCommandPayload>, 'operationId' | 'instanceId' | 'hostId' | 'driver' | 'command'> = {},
    em?: Tx,
  ): Promise<void> {
    const agentId = await this.hostAgents.agentOf(instance.hostId!);
    const write = async (tx: Tx): Promise<void> => {
      const { message, patch } = hostCommand(op.id, instance, agentId, command, extra);
      await this.operations.patch(tx, op.id, { ...patch, step: command, progress: 10 });
      await this.outbox.add(tx, [message]);
    };
    await (em ? write(em) : this.db.transaction(write));
  }

  /** Ends the operation failed; the instance goes to `instanceState` or keeps its state. */
  async fail(op: OperationEntity, error: OperationError, instance?: InstanceEntity, instanceState?: 'error'): Promise<void> {
    await this.db.transaction(async (em) => {
      await this.operations.transition(em, op.id, ['queued', 'running'], 'failed', { step: 'failed', error });
      if (instance && instanceState) await this.instances.transition(em, instance.id, [instance.state], instanceState, { stateReason: error.message });
      else if (instance) await this.instances.patch(em, instance.id, { desiredState: instance.state });
    });
    this.log.warn(`operation ${op.id} (${op.kind}) failed: ${error.message}`);
  }
}
