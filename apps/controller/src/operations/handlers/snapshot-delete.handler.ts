import { Injectable } from '@nestjs/common';
import { InstanceEntity, OperationEntity, SnapshotRepository, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { HostCommandSender } from '../host-command.sender';
import { OperationOutcomes } from '../operation-outcomes';
import { InstanceChangeHandler } from './instance-change.handler';

/** Removes a snapshot; it is forgotten when the host reports it gone. */
@Injectable()
export class SnapshotDeleteHandler extends InstanceChangeHandler {
  override readonly kind = 'snapshot-delete' as const;

  constructor(
    outcomes: OperationOutcomes,
    private readonly commands: HostCommandSender,
    private readonly snapshots: SnapshotRepository,
  ) {
    super(outcomes);
  }

  protected async send(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    await this.commands.send(op, instance, 'snapshot-delete', { snapshot: String(op.request.snapshot) });
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    await this.snapshots.forget(em, instance.id, String(op.request.snapshot));
    await this.outcomes.succeeded(em, op, instance, r.details ? { details: r.details } : null);
  }
}
