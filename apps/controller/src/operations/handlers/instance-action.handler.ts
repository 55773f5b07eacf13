import { Injectable } from '@nestjs/common';
import { ACTION_RULES, InstanceAction } from '@hyperplane/domain';
import { InstanceEntity, InstanceRepository, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { CommandExtra } from '../host-command';
import { HostCommandSender } from '../host-command.sender';
import { OperationOutcomes } from '../operation-outcomes';
import { InstanceOperationHandler } from './instance-operation.handler';

/**
 * start, stop, restart, suspend, resume: checked against ACTION_RULES, sent to the instance's
 * host, and the instance moved to the state the host reports. Each kind is a subclass that
 * names itself (and a stop adds its options).
 */
@Injectable()
export abstract class InstanceActionHandler extends InstanceOperationHandler {
  abstract override readonly kind: InstanceAction;
  // An action's start and its command commit together: one transaction, not two, on the path
  // of every suspend/resume/start/stop.
  override readonly beginsItself: boolean = true;

  constructor(
    outcomes: OperationOutcomes,
    private readonly commands: HostCommandSender,
    private readonly instances: InstanceRepository,
  ) {
    super(outcomes);
  }

  /** What the command carries besides the instance's identity. */
  protected extra(_op: OperationEntity): CommandExtra {
    return {};
  }

  protected async plan(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    const rule = ACTION_RULES[this.kind];
    if (!rule.from.includes(instance.state)) {
      await this.outcomes.fail(op, { code: 'invalid-state', message: `instance is ${instance.state}; ${this.kind} needs ${rule.from.join(' or ')}` });
      return;
    }
    if (!instance.hostId || !instance.driver) {
      await this.outcomes.fail(op, { code: 'not-placed', message: 'the instance has no host' });
      return;
    }
    await this.commands.send(op, instance, this.kind, this.extra(op), { begin: op.status === 'queued' });
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const rule = ACTION_RULES[this.kind];
    await this.instances.transition(em, instance.id, [...rule.from, rule.to], r.state ?? rule.to, { stateReason: null });
    await this.outcomes.succeeded(em, op, instance, r.details ? { details: r.details } : null);
  }

  async onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    await this.outcomes.changeFailed(em, op, instance, r);
  }
}
