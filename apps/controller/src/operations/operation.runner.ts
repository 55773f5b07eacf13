import { Injectable } from '@nestjs/common';
import { TERMINAL_OPERATION_STATUSES } from '@hyperplane/domain';
import { Database, InstanceRepository, OperationRepository } from '@hyperplane/db';
import { HostCommandSender } from './host-command.sender';
import { OperationHandlers } from './operation-handlers.registry';
import { OperationOutcomes } from './operation-outcomes';

/**
 * Runs an operation's control job up to the point where a host takes over: what every kind
 * shares is here (an ended operation is left alone, one already with its host is sent again,
 * a missing instance ends it), the rest is the kind's handler. Safe to run twice for the same
 * operation.
 */
@Injectable()
export class OperationRunner {
  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly handlers: OperationHandlers,
    private readonly commands: HostCommandSender,
    private readonly outcomes: OperationOutcomes,
  ) {}

  async run(operationId: string): Promise<void> {
    // The operation and its instance read at once (two connections, one round trip's wait).
    let [op, instance] = await Promise.all([this.operations.get(operationId), this.instances.ofOperation(operationId)]);
    if (!op || TERMINAL_OPERATION_STATUSES.includes(op.status)) return;
    const handler = this.handlers.get(op.kind);
    if (op.status !== 'queued' && this.commands.sentToHost(op)) {
      // Already handed to a host; this is a replay. Re-send the same job (a no-op if it exists).
      await this.commands.resendAlone(op);
      return;
    }
    if (op.instanceId && instance?.id !== op.instanceId) instance = await this.instances.get(op.instanceId);
    if (op.instanceId && !instance) {
      await this.outcomes.fail(op, { code: 'not-found', message: 'the instance no longer exists' });
      return;
    }
    if (op.status === 'queued' && !handler.beginsItself) {
      op = await this.db.transaction((em) => this.operations.transition(em, operationId, ['queued'], 'running', { step: 'starting', progress: 1 }));
      if (!op) return; // cancelled in the meantime
    }
    await handler.dispatch(op, instance);
  }
}
