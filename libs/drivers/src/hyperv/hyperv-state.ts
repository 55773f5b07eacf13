import { ActualState } from '../driver';

export interface HvStateMeaning {
  state: ActualState;
  /** Hyper-V is on its way somewhere else; the driver waits it out. */
  transitional: boolean;
  /** A `*Critical` state: the VM's storage is unreachable and needs a person. */
  broken: boolean;
}

// Names, not numbers (Msvm_ComputerSystem / Microsoft.HyperV.PowerShell.VMState): values past
// ForceShutdown differ between Windows builds, names do not.
const TABLE: Record<string, [ActualState, boolean]> = {
  Running: ['running', false],
  Off: ['stopped', false],
  Saved: ['suspended', false],
  Paused: ['suspended', false],
  Hibernated: ['suspended', false],
  Starting: ['running', true],
  Reset: ['running', true],
  Resuming: ['running', true],
  Stopping: ['stopped', true],
  ForceShutdown: ['stopped', true],
  ForceReboot: ['running', true],
  Saving: ['suspended', true],
  FastSaving: ['suspended', true],
  FastSaved: ['suspended', false],
  Pausing: ['suspended', true],
  ComponentServicing: ['stopped', true],
  Other: ['stopped', true],
};

export function hvState(name: string): HvStateMeaning {
  const critical = /^(\w+)Critical$/.exec(name);
  const base = critical ? critical[1]! : name;
  const row = TABLE[base];
  if (!row) return { state: 'stopped', transitional: false, broken: true };
  return { state: row[0], transitional: critical ? false : row[1], broken: critical !== null };
}
