import { ActualState } from '../driver';

/** What one state string `prlctl` prints means for the contract. */
export interface PrlStateMeaning {
  /** The state the instance is in or heading to. */
  state: ActualState;
  /** Still moving: a command that needs a settled state waits for it to end. */
  transitional: boolean;
  /** The tool cannot tell what the instance is doing (broken config, lost bundle). */
  broken?: boolean;
}

/**
 * Every state `prlctl` reports (OpenVZ/prlctl `src/Utils.cpp#vmstate2str`, plus Desktop's
 * `inaccessible`), mapped to where the instance is or is going. `paused` is a frozen guest that
 * keeps its memory, the same thing LXC calls FROZEN, so it reads as `suspended` too. States
 * whose direction the name does not tell (a snapshot being taken of a running or a stopped VM)
 * keep the last settled state the caller knows, see `settledOr`.
 */
export const PRL_STATES: Readonly<Record<string, PrlStateMeaning | 'keep'>> = {
  stopped: { state: 'stopped', transitional: false },
  running: { state: 'running', transitional: false },
  paused: { state: 'suspended', transitional: false },
  suspended: { state: 'suspended', transitional: false },
  mounted: { state: 'stopped', transitional: false },
  starting: { state: 'running', transitional: true },
  restoring: { state: 'running', transitional: true },
  resetting: { state: 'running', transitional: true },
  continuing: { state: 'running', transitional: true },
  resuming: { state: 'running', transitional: true },
  reconnecting: { state: 'running', transitional: true },
  migrating: { state: 'running', transitional: true },
  stopping: { state: 'stopped', transitional: true },
  pausing: { state: 'suspended', transitional: true },
  suspending: { state: 'suspended', transitional: true },
  compacting: { state: 'stopped', transitional: true },
  snapshoting: 'keep',
  del_snapshot: 'keep',
  syncing: 'keep',
  invalid: { state: 'stopped', transitional: false, broken: true },
  inaccessible: { state: 'stopped', transitional: false, broken: true },
  unknown: { state: 'stopped', transitional: true, broken: true },
};

/**
 * The meaning of a state string; `previous` answers for states that keep it (snapshoting,
 * del_snapshot, syncing), `stopped` when nothing is known. Unknown strings are transitional:
 * waiting is safer than guessing.
 */
export function prlState(raw: string | undefined, previous: ActualState = 'stopped'): PrlStateMeaning {
  const key = (raw ?? 'unknown').trim().toLowerCase();
  const known = Object.hasOwn(PRL_STATES, key) ? PRL_STATES[key] : undefined;
  if (known === 'keep') return { state: previous, transitional: true };
  return known ?? { state: previous, transitional: true, broken: true };
}
