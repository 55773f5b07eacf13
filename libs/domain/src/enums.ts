// The vocabulary shared by every part of Hyperplane. Values are the wire format: they appear
// in the API, in the database and in queue payloads, so they never change once released.

export const OS_FAMILIES = ['linux', 'windows', 'macos'] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];

export const ARCHES = ['x86_64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];

export const TECHNOLOGIES = ['container', 'vm'] as const;
export type Technology = (typeof TECHNOLOGIES)[number];

export const REQUESTED_TECHNOLOGIES = ['container', 'vm', 'auto'] as const;
export type RequestedTechnology = (typeof REQUESTED_TECHNOLOGIES)[number];

export const HOST_STATUSES = ['enrolling', 'ready', 'draining', 'maintenance', 'down'] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

export const INSTANCE_STATES = [
  'pending',
  'scheduling',
  'provisioning',
  'running',
  'stopped',
  'suspended',
  'migrating',
  'deleting',
  'deleted',
  'unschedulable',
  'error',
  // Its host is down: what runs there is not known until the host reports again.
  'unknown',
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

export const OPERATION_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];
export const ACTIVE_OPERATION_STATUSES: readonly OperationStatus[] = ['queued', 'running'];
export const TERMINAL_OPERATION_STATUSES: readonly OperationStatus[] = ['succeeded', 'failed', 'cancelled'];

export const INSTANCE_ACTIONS = ['start', 'stop', 'restart', 'suspend', 'resume'] as const;
export type InstanceAction = (typeof INSTANCE_ACTIONS)[number];

/** Changes that need a driver capability, each with its own body. */
export const INSTANCE_CHANGES = ['snapshot', 'restore', 'snapshot-delete', 'clone', 'resize'] as const;
export type InstanceChange = (typeof INSTANCE_CHANGES)[number];

/**
 * `recover`: an HA instance whose host was lost (and fenced) placed and created again
 * elsewhere, keeping its identity; the controller starts it (apps/controller/src/ha).
 * `migrate`: an instance moved to another host (apps/controller/src/operations/handlers/migrate.handler.ts).
 * `evacuate`: a host emptied, a parent (no instance) of one `migrate` per instance (handlers/evacuate.handler.ts).
 */
export const OPERATION_KINDS = ['create', 'delete', ...INSTANCE_ACTIONS, ...INSTANCE_CHANGES, 'recover', 'migrate', 'evacuate'] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

/**
 * Parents of many alike children, one per instance: `batch` (POST /v1/instances/batch, a
 * `create` each) and `batch-delete` (POST /v1/instances/batch-delete, a `delete` each).
 */
export const BATCH_KINDS = ['batch', 'batch-delete'] as const;
export type BatchKind = (typeof BATCH_KINDS)[number];

/**
 * Kinds placed and created like a create: `create`, and `recover` (an HA instance of a lost
 * host made again elsewhere, keeping its identity). Where a create's result is handled (a failed
 * create tried on another host, its clean-up), a recover's is handled the same way.
 */
export function createsInstance(kind: string): boolean {
  return kind === 'create' || kind === 'recover';
}

/** High availability of an instance: restarted elsewhere when its host is lost (after the fence). */
export interface HaPolicy {
  restart: boolean;
  /** Higher first when several instances are recovered at once (0–1000, default 0). */
  priority: number;
}

export const CAPABILITIES = [
  'suspend',
  'snapshot',
  'clone',
  'liveResize',
  'liveMigrate',
  'offlineMigrate',
  'console',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const ROLES = ['admin', 'operator', 'viewer'] as const;
/**
 * admin: everything, every project. operator: reads and changes instances of its projects.
 * viewer: reads its projects. A token with no project is fleet-wide (admins only).
 */
export type Role = (typeof ROLES)[number];

export const DRIVER_NAMES = ['sim', 'lxc', 'qemu', 'prlctl', 'hyperv', 'wincontainer'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (values as readonly string[]).includes(value);
}
