/** What a workload needs from its isolation; `technology: "auto"` decides from it. */
export interface IsolationNeeds {
  /** shared: the workload may run on the host's kernel (a container); dedicated: its own kernel (a VM). */
  kernel?: 'shared' | 'dedicated';
  /** strict: a hardware boundary between tenants (a VM). */
  security?: 'standard' | 'strict';
  needs?: IsolationNeed[];
}

export const ISOLATION_NEEDS = [
  'custom-kernel',
  'kernel-modules',
  'nested-virtualization',
  'own-os-family',
  'privileged',
  'realtime',
] as const;
export type IsolationNeed = (typeof ISOLATION_NEEDS)[number];

/** Needs that a container, sharing the host kernel, cannot meet. */
export const NEEDS_DEDICATED_KERNEL: readonly IsolationNeed[] = [
  'custom-kernel',
  'kernel-modules',
  'nested-virtualization',
  'privileged',
];
