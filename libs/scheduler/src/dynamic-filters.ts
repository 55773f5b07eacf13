import { Resources, Technology, toMilliVcpus } from '@hyperplane/domain';
import { CapacityTable, STRIDE, USABLE } from './capacity-table';
import { CompiledPassers, Passer } from './class-cache';
import { MAX_MACOS_GUESTS } from './compatibility';
import { FILTER } from './filter-codes';
import { HostState } from './host-state';
import { PlacementGroupSpec } from './placement.types';
import { HostOption } from './static-filters';
import { WEIGHTS, WeighContext, softGroupScore } from './weighers';

/** A host that passed every filter, with the driver that serves and its score. */
export interface Scored {
  host: HostState;
  option: HostOption;
  score: number;
}

export interface DynamicInput {
  passers: readonly Passer[];
  compiled: CompiledPassers;
  table: CapacityTable;
  technology: Technology;
  resources: Resources;
  group: PlacementGroupSpec | undefined;
  /** Host slot → members of the request's group there; null without a group. */
  members: ReadonlyMap<number, number> | null;
  /** Hosts anywhere that run a member of the request's group (hard affinity: first member goes anywhere). */
  groupHosts: number;
  weigh: WeighContext;
  /** Per passer, the preferred-labels score; null without preferred labels. */
  labelScores: Float64Array | null;
  /** Stop after this many fitting hosts (0 = evaluate all). */
  sampleSize: number;
  /** Where the walk over `passers` starts (sampling only). */
  start: number;
  /** The request is a macOS guest: hosts with MAX_MACOS_GUESTS of them already refuse it. */
  macosGuest: boolean;
  /** Evaluate this passer only (by index in `passers`): a host whose state just changed. */
  only?: number;
  /** When given, every fitting host is also pushed here with its score, in walk order. */
  collect?: Scored[];
}

export interface DynamicResult {
  fitting: number;
  /** The best hosts, best first: the chosen one and up to three alternatives. */
  best: Scored[];
  /** Passers not evaluated because sampling stopped early. */
  skipped: number;
  /** Per capacity filter: whether a driver overhead was part of what the hosts lacked. */
  overhead: { vcpus: boolean; memory: boolean; disk: boolean };
  /** Names of hosts refused under `macos-guests` (the first MACOS_NAMES_KEPT), for the message. */
  macosFull: string[];
}

const MACOS_NAMES_KEPT = 5;

/** How many of the best hosts a decision keeps: the chosen one and three alternatives. */
export const KEEP = 4;
// FILTER and WEIGHTS are looked up by name; the hot loop wants plain constants.
const ANTI_AFFINITY = FILTER['anti-affinity'];
const AFFINITY = FILTER.affinity;
const GROUP_MAX = FILTER['group-max'];
const MACOS_GUESTS = FILTER['macos-guests'];
const DENSITY = FILTER.density;
const VCPUS = FILTER.vcpus;
const MEMORY = FILTER.memory;
const DISK = FILTER.disk;
const W_STRATEGY = WEIGHTS.strategy;
const W_LOCALITY = WEIGHTS.locality;
const W_GROUP = WEIGHTS.group;
const W_LABELS = WEIGHTS.preferredLabels;

/**
 * The filters that change with every placement — groups, density, capacity — in FILTER_ORDER,
 * then the weighers (see weighers.ts), over the hosts that passed the static filters. Adds the
 * rejections to `counts`. This is the per-decision hot loop: it reads flat arrays and touches a
 * host object only for one good enough to keep.
 */
export function evaluateDynamic(input: DynamicInput, counts: Int32Array): DynamicResult {
  const { passers, compiled, resources, group, weigh } = input;
  const { slots, local, optionStart, overheads } = compiled;
  const data = input.table.data;
  const usableAt = USABLE[input.technology];
  const n = passers.length;
  const sampling = input.only === undefined && input.sampleSize > 0 && n > input.sampleSize;
  const hardAnti = group !== undefined && group.strict && group.policy === 'anti-affinity';
  const hardAffinity = group !== undefined && group.strict && group.policy === 'affinity' && input.groupHosts > 0;
  const maxPerHost = group?.maxPerHost ?? Number.POSITIVE_INFINITY;
  const members = input.members;
  const binpack = weigh.strategy === 'binpack';
  const softGroup = weigh.softGroup;
  const labelScores = input.labelScores;
  const totalWeight = weigh.totalWeight;
  // vCPUs in milli-vCPUs, as the capacity table and the compiled overheads hold them.
  const rv = toMilliVcpus(resources.vcpus);
  const rm = resources.memoryMiB;
  const rd = resources.diskGiB;
  const overhead = { vcpus: false, memory: false, disk: false };
  const macosFull: string[] = [];
  const macosGuest = input.macosGuest;
  const best: Scored[] = [];
  // The score a host must beat to be kept once `best` is full (ties: the lower id wins).
  let bar = Number.NEGATIVE_INFINITY;
  let barId = '';
  let fitting = 0;
  let skipped = 0;
  const collect = input.collect ?? null;
  const walk = input.only === undefined ? n : 1;
  let at = input.only ?? (sampling ? input.start % n : 0);
  for (let i = 0; i < walk; i++, at++) {
    if (at === n) at = 0;
    const slot = slots[at]!;
    let memberCount = 0;
    if (members !== null) {
      memberCount = members.get(slot) ?? 0;
      if (hardAnti && memberCount > 0) {
        counts[ANTI_AFFINITY]! += 1;
        continue;
      }
      if (hardAffinity && memberCount === 0) {
        counts[AFFINITY]! += 1;
        continue;
      }
      if (memberCount >= maxPerHost) {
        counts[GROUP_MAX]! += 1;
        continue;
      }
    }
    if (macosGuest && passers[at]!.host.macosGuests >= MAX_MACOS_GUESTS) {
      counts[MACOS_GUESTS]! += 1;
      if (macosFull.length < MACOS_NAMES_KEPT) macosFull.push(passers[at]!.host.snapshot.name);
      continue;
    }
    const base = slot * STRIDE;
    const u = base + usableAt;
    if (data[base + 3]! + 1 > data[u + 3]!) {
      counts[DENSITY]! += 1;
      continue;
    }
    const av = data[base]! + rv;
    const am = data[base + 1]! + rm;
    const ad = data[base + 2]! + rd;
    const uv = data[u]!;
    const um = data[u + 1]!;
    const ud = data[u + 2]!;
    let chosen = -1;
    let worst = -1;
    let worstOverhead = false;
    const end = optionStart[at + 1]!;
    for (let o = optionStart[at]!; o < end; o++) {
      const ov = overheads[o * 3]!;
      const om = overheads[o * 3 + 1]!;
      const od = overheads[o * 3 + 2]!;
      let failed = -1;
      let blamed = false;
      if (av + ov > uv) {
        failed = VCPUS;
        blamed = ov > 0;
      } else if (am + om > um) {
        failed = MEMORY;
        blamed = om > 0;
      } else if (ad + od > ud) {
        failed = DISK;
        blamed = od > 0;
      } else {
        chosen = o;
        break;
      }
      if (failed > worst) {
        worst = failed;
        worstOverhead = blamed;
      } else if (failed === worst) {
        worstOverhead ||= blamed;
      }
    }
    if (chosen < 0) {
      counts[worst]! += 1;
      if (worstOverhead) {
        if (worst === VCPUS) overhead.vcpus = true;
        else if (worst === MEMORY) overhead.memory = true;
        else overhead.disk = true;
      }
      continue;
    }
    fitting++;
    // The weighers (weighers.ts), inlined: fullness after placement by the most constrained resource.
    const fv = uv > 0 ? (av + overheads[chosen * 3]!) / uv : 1;
    const fm = um > 0 ? (am + overheads[chosen * 3 + 1]!) / um : 1;
    const fd = ud > 0 ? (ad + overheads[chosen * 3 + 2]!) / ud : 1;
    let fullest = fv > fm ? fv : fm;
    if (fd > fullest) fullest = fd;
    if (fullest > 1) fullest = 1;
    else if (fullest < 0) fullest = 0;
    let sum = W_STRATEGY * (binpack ? fullest : 1 - fullest) + (local[at] === 1 ? W_LOCALITY : 0);
    if (softGroup !== null) sum += W_GROUP * softGroupScore(softGroup, memberCount);
    if (labelScores !== null) sum += W_LABELS * labelScores[at]!;
    const failures = passers[at]!.host.snapshot.createFailures;
    const score = failures ? sum / totalWeight - failures : sum / totalWeight;
    if (collect !== null) collect.push({ host: passers[at]!.host, option: passers[at]!.options[chosen - optionStart[at]!]!, score });
    if (score > bar || (score === bar && passers[at]!.host.id < barId)) {
      const passer = passers[at]!;
      keepBest(best, passer.host, passer.options[chosen - optionStart[at]!]!, score);
      if (best.length === KEEP) {
        const last = best[KEEP - 1]!;
        bar = last.score;
        barId = last.host.id;
      }
    }
    if (sampling && fitting >= input.sampleSize) {
      skipped = n - i - 1;
      break;
    }
  }
  return { fitting, best, skipped, overhead, macosFull };
}

/** Higher score first; equal scores by host id, so the order never depends on the walk. */
function keepBest(best: Scored[], host: HostState, option: HostOption, score: number): void {
  let at = best.length;
  while (at > 0) {
    const other = best[at - 1]!;
    if (other.score > score || (other.score === score && other.host.id < host.id)) break;
    at--;
  }
  if (at >= KEEP) return;
  best.splice(at, 0, { host, option, score });
  if (best.length > KEEP) best.pop();
}
