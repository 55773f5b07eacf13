import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InstanceEntity, InstanceRepository, OperationEntity, SnapshotRepository, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { HostCommandSender } from '../host-command.sender';
import { OperationOutcomes } from '../operation-outcomes';
import { InstanceChangeHandler, SETTLED } from './instance-change.handler';

/** The instance's state as the driver reports it after a change that may move it. */
export async function settleReported(instances: InstanceRepository, em: Tx, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
  if (r.state && r.state !== instance.state) await instances.transition(em, instance.id, SETTLED, r.state, { stateReason: null });
}

/** Takes a named snapshot; the snapshot is recorded when the host reports it made. */
@Injectable()
export class SnapshotHandler extends InstanceChangeHandler {
  override readonly kind = 'snapshot' as const;

  constructor(
    outcomes: OperationOutcomes,
    private readonly commands: HostCommandSender,
    private readonly instances: InstanceRepository,
    private readonly snapshots: SnapshotRepository,
  ) {
    super(outcomes);
  }

  protected async send(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    await this.commands.send(op, instance, 'snapshot', { snapshot: String(op.request.snapshot) });
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    await this.snapshots.record(em, { id: randomUUID(), instanceId: instance.id, name: String(op.request.snapshot), operationId: op.id });
    await settleReported(this.instances, em, instance, r);
    await this.outcomes.succeeded(em, op, instance, r.details ? { details: r.details } : null);
  }
}
