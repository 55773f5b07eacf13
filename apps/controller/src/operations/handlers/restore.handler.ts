import { Injectable } from '@nestjs/common';
import { InstanceEntity, InstanceRepository, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { HostCommandSender } from '../host-command.sender';
import { OperationOutcomes } from '../operation-outcomes';
import { InstanceChangeHandler } from './instance-change.handler';
import { settleReported } from './snapshot.handler';

/** Rolls the instance back to a snapshot; it ends in the state the host reports. */
@Injectable()
export class RestoreHandler extends InstanceChangeHandler {
  override readonly kind = 'restore' as const;

  constructor(
    outcomes: OperationOutcomes,
    private readonly commands: HostCommandSender,
    private readonly instances: InstanceRepository,
  ) {
    super(outcomes);
  }

  protected async send(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    await this.commands.send(op, instance, 'restore', { snapshot: String(op.request.snapshot) });
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    await settleReported(this.instances, em, instance, r);
    await this.outcomes.succeeded(em, op, instance, r.details ? { details: r.details } : null);
  }
}
