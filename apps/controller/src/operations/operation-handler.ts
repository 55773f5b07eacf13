import { BATCH_KINDS, BatchKind, OPERATION_KINDS, OperationKind } from '@hyperplane/domain';
import { InstanceEntity, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';

/** Every kind of operation the controller runs: the public kinds and the batches' parents. */
export const HANDLED_KINDS = [...OPERATION_KINDS, ...BATCH_KINDS] as const;
export type HandledKind = OperationKind | BatchKind;

/**
 * One kind of operation, from the request to its end. The engine (OperationRunner for the
 * control queue, ResultApplier for agents' results) finds the handler by `op.kind` and calls:
 *
 * - `dispatch` when the operation's control job runs: plan (place, claim, check the state) and
 *   send the host command through HostCommandSender. It may run more than once for the same
 *   operation (a retried or re-enqueued job) and must be safe to.
 * - `onResult` / `onFailure` when the host reports on a command this operation sent, inside
 *   the result's transaction, with the operation and its instance locked. The engine has
 *   already checked that the result answers the job the operation waits for and came from its
 *   host; the handler makes the guarded transitions and ends the operation (or sends its next
 *   command).
 * - `onTimeout` / `onCancel` when a running operation is ended from outside (its deadline
 *   passed, or someone cancelled it): in one transaction, leave the instance in a defined state
 *   and end the operation. A late result then finds the guard closed.
 *
 * Every state change goes through the repositories' guarded transitions, which take their
 * `from` states through `libs/domain`'s tables.
 */
export interface OperationHandler {
  readonly kind: HandledKind;
  /**
   * Whether `dispatch` moves a queued operation to running itself (in the transaction that
   * sends its command, saving one transaction on a hot path); otherwise the engine does it first.
   */
  readonly beginsItself: boolean;
  /** `instance`: the operation's instance (the engine ends the operation `not-found` when it is gone), or null when it has none (a batch). */
  dispatch(op: OperationEntity, instance: InstanceEntity | null): Promise<void>;
  onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, result: AgentResultPayload): Promise<void>;
  onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, result: AgentResultPayload): Promise<void>;
  onTimeout(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void>;
  onCancel(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void>;
}
