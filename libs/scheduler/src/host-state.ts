import { ARCHES, Capacity, DRIVER_NAMES, DriverName, Technology } from '@hyperplane/domain';
import { driverUsableOn, runnableArchs, windowsBuildOf } from './compatibility';
import { HostSnapshot } from './placement.types';

export const DRIVER_INDEX: Readonly<Record<DriverName, number>> = Object.fromEntries(
  DRIVER_NAMES.map((name, i) => [name, i]),
) as Record<DriverName, number>;
export const ARCH_INDEX = Object.fromEntries(ARCHES.map((arch, i) => [arch, i])) as Record<(typeof ARCHES)[number], number>;

/** Bit of (driver, guest arch) in a host's per-technology mask. 6 drivers × 2 arches = 12 bits. */
export function pairBit(driverIndex: number, archIndex: number): number {
  return 1 << (driverIndex * ARCHES.length + archIndex);
}

/**
 * The scheduler's mutable view of one host. The object lives as long as the host is in the
 * scheduler (the caches hold references to it); `updateHost()` rewrites its fields in place.
 */
export interface HostState {
  readonly slot: number;
  id: string;
  /** The static facts; allocations live in the CapacityTable, group counts below. */
  snapshot: HostSnapshot;
  /** Group id → members here; only groups with at least one member. */
  groups: Map<string, number>;
  templates: ReadonlySet<string>;
  windowsBuild: string | null;
  /** macOS guests holding a licence slot here; commit() adds the ones it places. */
  macosGuests: number;
  /** Interned id of what `profileVerdict` reads; -1 until a class build asks for it. */
  profile: number;
  /**
   * Per technology, which (driver, guest arch) pairs the host can serve: the driver is usable on
   * the host OS, has an offer of the technology, and runs the arch natively or by emulation.
   */
  masks: Record<Technology, number>;
}

export function createHostState(slot: number, snapshot: HostSnapshot): HostState {
  const state = { slot } as HostState;
  applySnapshot(state, snapshot);
  return state;
}

/** Rewrites the state from a snapshot (the capacity table is loaded separately). */
export function applySnapshot(state: HostState, snapshot: HostSnapshot): void {
  state.id = snapshot.id;
  state.snapshot = snapshot;
  state.profile = -1;
  state.groups = new Map(Object.entries(snapshot.groups ?? {}).filter(([, count]) => count > 0));
  state.templates = new Set(snapshot.templates ?? []);
  state.macosGuests = snapshot.macosGuests ?? 0;
  state.windowsBuild = snapshot.os === 'windows' ? windowsBuildOf(snapshot.osVersion, snapshot.kernel) : null;
  state.masks = { container: 0, vm: 0 };
  for (const probe of snapshot.drivers) {
    if (!Object.hasOwn(DRIVER_INDEX, probe.name) || !driverUsableOn(probe, snapshot.os)) continue;
    for (const offer of probe.offers) {
      for (const arch of runnableArchs(offer, snapshot.arch)) {
        state.masks[offer.technology] |= pairBit(DRIVER_INDEX[probe.name], ARCH_INDEX[arch]);
      }
    }
  }
}

/**
 * Hosts with equal profiles pass or fail every profile filter alike: status, OS, versions,
 * arch and drivers. Interning them lets a class build evaluate each profile once; fleets are
 * built from a few images, so 10,000 hosts have far fewer profiles.
 */
export class ProfileInterner {
  private readonly ids = new Map<string, number>();

  of(host: HostState): number {
    if (host.profile >= 0) return host.profile;
    const s = host.snapshot;
    const key = `${s.status}|${s.os}|${s.osVersion}|${s.kernel}|${s.arch}|${JSON.stringify(s.drivers)}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(key, id);
    }
    host.profile = id;
    return id;
  }
}

/** The host as it stands now, with the allocations the caller read from the capacity table. */
export function currentSnapshot(state: HostState, allocated: Capacity): HostSnapshot {
  const out: HostSnapshot = { ...state.snapshot, allocated, groups: Object.fromEntries(state.groups) };
  if (state.macosGuests > 0) out.macosGuests = state.macosGuests;
  else delete out.macosGuests;
  return out;
}

/** Do two snapshots agree on everything the static filters and the class caches read? */
export function sameStaticFacts(a: HostSnapshot, b: HostSnapshot): boolean {
  return (
    a.id === b.id &&
    a.status === b.status &&
    a.os === b.os &&
    a.osVersion === b.osVersion &&
    a.kernel === b.kernel &&
    a.arch === b.arch &&
    a.zone === b.zone &&
    (a.labels === b.labels || JSON.stringify(sortedEntries(a.labels)) === JSON.stringify(sortedEntries(b.labels))) &&
    sameList(a.templates ?? [], b.templates ?? []) &&
    (a.drivers === b.drivers || JSON.stringify(a.drivers) === JSON.stringify(b.drivers))
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}
