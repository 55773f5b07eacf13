import { Capability, InstanceAction, InstanceState, OperationStatus } from './enums';

// Every instance state change goes through this table: the repositories' guarded UPDATEs take
// their `from` states through `guardFrom` (a state the table refuses never matches the guard),
// so the database and the code agree on what may happen. The spec beside this file lists every
// pair, allowed or refused: change both together.
const INSTANCE_TRANSITIONS: Record<InstanceState, readonly InstanceState[]> = {
  // → provisioning, → unschedulable: a batch places (or refuses) its children in bulk, without
  // the single path's `scheduling` step; a clone's copy is placed on its source's host.
  pending: ['scheduling', 'provisioning', 'unschedulable', 'deleting', 'deleted', 'error'],
  scheduling: ['provisioning', 'unschedulable', 'pending', 'deleting', 'deleted', 'error'],
  // → pending: a create failed on its host and was cleaned up there; it is placed again.
  provisioning: ['running', 'stopped', 'error', 'deleting', 'pending', 'unknown'],
  // → unknown: the host went down. → pending (HA recovery): the host was lost and fenced; the
  // instance is placed again elsewhere, keeping its identity (apps/controller/src/ha).
  // → unschedulable: an HA instance whose lost (fenced) host was removed waits for a host.
  running: ['stopped', 'suspended', 'migrating', 'deleting', 'error', 'unknown', 'pending', 'unschedulable'],
  stopped: ['running', 'migrating', 'deleting', 'error', 'unknown', 'pending', 'unschedulable'],
  suspended: ['running', 'stopped', 'deleting', 'error', 'unknown', 'pending', 'unschedulable'],
  migrating: ['running', 'stopped', 'error'],
  deleting: ['deleted', 'error'],
  deleted: [],
  unschedulable: ['scheduling', 'deleting', 'deleted'],
  error: ['deleting', 'running', 'stopped', 'unknown', 'pending', 'unschedulable'],
  // The host reported again (drift), or the instance was recovered or force-deleted.
  unknown: ['running', 'stopped', 'suspended', 'error', 'deleting', 'deleted', 'pending', 'unschedulable'],
};

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return from === to || INSTANCE_TRANSITIONS[from].includes(to);
}

/**
 * The `from` states of a guarded UPDATE to `to`: those of `from` the table allows (staying in
 * the same state is always allowed). What the table refuses never matches, whatever a caller asks.
 */
export function guardFrom(from: readonly InstanceState[], to: InstanceState): InstanceState[] {
  return from.filter((s) => canTransition(s, to));
}

/** States from which `to` can be reached (including `to` itself, a no-op). */
export function statesLeadingTo(to: InstanceState): InstanceState[] {
  return (Object.keys(INSTANCE_TRANSITIONS) as InstanceState[]).filter((from) => canTransition(from, to));
}

export interface ActionRule {
  /** States in which the action may be requested. */
  from: readonly InstanceState[];
  /** The state the instance is in when the action succeeds. */
  to: InstanceState;
  /** A driver capability the action needs, when not every driver has it. */
  capability?: Capability;
}

export const ACTION_RULES: Record<InstanceAction, ActionRule> = {
  start: { from: ['stopped'], to: 'running' },
  stop: { from: ['running', 'suspended'], to: 'stopped' },
  restart: { from: ['running'], to: 'running' },
  suspend: { from: ['running'], to: 'suspended', capability: 'suspend' },
  resume: { from: ['suspended'], to: 'running', capability: 'suspend' },
};

/** States in which a delete may be requested. */
export const DELETABLE_STATES: readonly InstanceState[] = [
  'pending',
  'scheduling',
  'provisioning',
  'running',
  'stopped',
  'suspended',
  'unschedulable',
  'error',
  'unknown',
];

/** Instances in these states hold no host resources. */
export const STATES_WITHOUT_HOST: readonly InstanceState[] = ['pending', 'scheduling', 'unschedulable', 'deleted'];

const OPERATION_TRANSITIONS: Record<OperationStatus, readonly OperationStatus[]> = {
  queued: ['running', 'cancelled', 'failed', 'succeeded'],
  running: ['succeeded', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export function canOperationTransition(from: OperationStatus, to: OperationStatus): boolean {
  return OPERATION_TRANSITIONS[from].includes(to);
}

/** The `from` statuses of a guarded UPDATE of an operation to `to`, as the table allows them. */
export function guardOperationFrom(from: readonly OperationStatus[], to: OperationStatus): OperationStatus[] {
  return from.filter((s) => canOperationTransition(s, to));
}

export function operationStatusesLeadingTo(to: OperationStatus): OperationStatus[] {
  return (Object.keys(OPERATION_TRANSITIONS) as OperationStatus[]).filter((from) => canOperationTransition(from, to));
}
