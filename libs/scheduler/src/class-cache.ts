import { HostStatus, OsFamily, Technology, toMilliVcpus } from '@hyperplane/domain';
import { FILTER, FILTER_COUNT } from './filter-codes';
import { HostIndex } from './host-index';
import { HostState, ProfileInterner } from './host-state';
import {
  ClassSpec,
  HostOption,
  StaticVerdict,
  evaluateStatic,
  placementVerdict,
  profileVerdict,
  skipVerdict,
} from './static-filters';
import { labelScore } from './weighers';

/** A host that passed every static filter of a class, with the ways it can serve it. */
export interface Passer {
  host: HostState;
  options: HostOption[];
}

/**
 * The passers in flat arrays for the per-decision walk: host slot, whether the template is
 * cached there, and each passer's options (from `optionStart[i]` to `optionStart[i + 1]`)
 * with their overheads, three numbers per option (milli-vCPUs, memoryMiB, diskGiB).
 */
export interface CompiledPassers {
  slots: Int32Array;
  local: Uint8Array;
  optionStart: Int32Array;
  overheads: Float64Array;
  /** Preferred labels (as JSON) → each passer's share of them; static, so computed once. */
  labelScores: Map<string, Float64Array>;
}

/** The static verdict of one class of alike requests over the whole fleet. */
export interface ClassEntry {
  spec: ClassSpec;
  /** Rejections by the static filters, by FILTER index. */
  counts: Int32Array;
  /** The hosts counted under `status`, by status, for the message. */
  statusCounts: Map<HostStatus, number>;
  /** Sorted by host id: sampling walks them in this order. */
  passers: Passer[];
  /** By host slot: 0 = not evaluated, FILTER index + 1 = rejected there, PASSED = in `passers`. */
  verdicts: Uint8Array;
  /** `passers` compiled; dropped whenever they change. */
  compiled: CompiledPassers | null;
  /** Hosts rejected under `windows-build` or `hyperv-isolation`, by filter: named in the message. */
  windowsRejected: Map<HostState, number>;
  /** `windowsRejected` as the message reads it; dropped whenever it changes. */
  windowsList?: { name: string; build: string | null; code: 'windows-build' | 'hyperv-isolation' }[] | null;
}

const PASSED = 255;

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Evaluates a class over the fleet, touching only the hosts the index cannot rule out. */
export function buildClassEntry(
  spec: ClassSpec,
  index: HostIndex,
  hostsById: readonly HostState[],
  slotCount: number,
  profiles: ProfileInterner | null,
): ClassEntry {
  const entry: ClassEntry = {
    spec,
    counts: new Int32Array(FILTER_COUNT),
    statusCounts: new Map(),
    passers: [],
    verdicts: new Uint8Array(slotCount),
    compiled: null,
    windowsRejected: new Map(),
  };
  index.countSkipped(spec, entry.counts);
  const marked = new Uint8Array(slotCount);
  index.candidates(spec, (host) => {
    marked[host.slot] = 1;
  });
  // Each profile is evaluated once; walking the id order keeps `passers` sorted.
  const byProfile: (StaticVerdict | undefined)[] = [];
  for (const host of hostsById) {
    if (marked[host.slot] !== 1) continue;
    const profile = profiles ? profiles.of(host) : -1;
    let verdict = profile >= 0 ? byProfile[profile] : undefined;
    if (verdict === undefined) {
      verdict = profileVerdict(host, spec);
      if (profile >= 0) byProfile[profile] = verdict;
    }
    if (typeof verdict !== 'number') {
      const placement = placementVerdict(host, spec);
      if (placement >= 0) verdict = placement;
    }
    record(entry, host, verdict);
  }
  return entry;
}

/**
 * A class with a zone or required labels, from the class without them: the base verdicts, then
 * zone and labels (the last static filters) over the base's passers only.
 */
export function deriveClassEntry(base: ClassEntry, spec: ClassSpec): ClassEntry {
  const entry: ClassEntry = {
    spec,
    counts: base.counts.slice(),
    statusCounts: new Map(base.statusCounts),
    passers: [],
    verdicts: base.verdicts.slice(),
    compiled: null,
    windowsRejected: new Map(base.windowsRejected),
    windowsList: null,
  };
  for (const passer of base.passers) {
    const verdict = placementVerdict(passer.host, spec);
    if (verdict >= 0) record(entry, passer.host, verdict);
    else entry.passers.push(passer);
  }
  return entry;
}

/** The passers as flat arrays, compiled on first use after a change. */
export function compiledPassers(entry: ClassEntry, templateName: string): CompiledPassers {
  if (entry.compiled) return entry.compiled;
  const { passers } = entry;
  const optionCount = passers.reduce((sum, p) => sum + p.options.length, 0);
  const compiled: CompiledPassers = {
    slots: new Int32Array(passers.length),
    local: new Uint8Array(passers.length),
    optionStart: new Int32Array(passers.length + 1),
    overheads: new Float64Array(optionCount * 3),
    labelScores: new Map(),
  };
  let o = 0;
  passers.forEach((passer, i) => {
    compiled.slots[i] = passer.host.slot;
    compiled.local[i] = passer.host.templates.has(templateName) ? 1 : 0;
    compiled.optionStart[i] = o;
    for (const option of passer.options) {
      compiled.overheads[o * 3] = toMilliVcpus(option.overheadVcpus);
      compiled.overheads[o * 3 + 1] = option.overheadMemoryMiB;
      compiled.overheads[o * 3 + 2] = option.overheadDiskGiB;
      o++;
    }
  });
  compiled.optionStart[passers.length] = o;
  entry.compiled = compiled;
  return compiled;
}

const MAX_LABEL_SETS = 16;

/** Each passer's preferred-labels score, cached per set of preferred labels. */
export function labelScoresOf(
  entry: ClassEntry,
  compiled: CompiledPassers,
  preferred: readonly (readonly [string, string])[],
): Float64Array {
  const key = JSON.stringify(preferred);
  let scores = compiled.labelScores.get(key);
  if (!scores) {
    scores = Float64Array.from(entry.passers, (passer) => labelScore(passer.host, preferred));
    if (compiled.labelScores.size >= MAX_LABEL_SETS) compiled.labelScores.clear();
    compiled.labelScores.set(key, scores);
  }
  return scores;
}

/** What a host looked like before an update, enough to take its old verdict back out. */
export interface PreviousFacts {
  status: HostStatus;
  os: OsFamily;
  masks: Record<Technology, number>;
}

/**
 * Re-evaluates one host after `updateHost` / `removeHost`: out with the old verdict (`previousFacts`
 * null for a new host), in with the new one unless the host is gone.
 */
export function refreshClassEntry(
  entry: ClassEntry,
  host: HostState,
  previousFacts: PreviousFacts | null,
  present: boolean,
): void {
  if (entry.verdicts.length <= host.slot) {
    const grown = new Uint8Array(Math.max(host.slot + 1, entry.verdicts.length * 2));
    grown.set(entry.verdicts);
    entry.verdicts = grown;
  }
  const previous = entry.verdicts[host.slot] ?? 0;
  if (previous === PASSED) {
    const at = findPasser(entry.passers, host.id);
    if (at >= 0) entry.passers.splice(at, 1);
  } else if (previous > 0) {
    const code = previous - 1;
    entry.counts[code]! -= 1;
    if (isWindowsCode(code)) {
      entry.windowsRejected.delete(host);
      entry.windowsList = null;
    }
    if (code === FILTER.status && previousFacts) bump(entry.statusCounts, previousFacts.status, -1);
  } else if (previousFacts) {
    // Never evaluated: the index skipped it and counted it from its OS and mask.
    const code = skipVerdict(entry.spec, previousFacts.os, previousFacts.masks[entry.spec.technology]);
    if (code >= 0) entry.counts[code]! -= 1;
  }
  entry.verdicts[host.slot] = 0;
  entry.compiled = null;
  if (!present) return;
  const verdict = evaluateStatic(host, entry.spec);
  if (typeof verdict === 'number') {
    record(entry, host, verdict);
    return;
  }
  entry.verdicts[host.slot] = PASSED;
  const at = insertionPoint(entry.passers, host.id);
  entry.passers.splice(at, 0, { host, options: verdict });
}

function record(entry: ClassEntry, host: HostState, verdict: number | HostOption[]): void {
  if (typeof verdict === 'number') {
    entry.counts[verdict]! += 1;
    entry.verdicts[host.slot] = verdict + 1;
    if (verdict === FILTER.status) bump(entry.statusCounts, host.snapshot.status, 1);
    if (isWindowsCode(verdict)) {
      entry.windowsRejected.set(host, verdict);
      entry.windowsList = null;
    }
  } else {
    entry.verdicts[host.slot] = PASSED;
    entry.passers.push({ host, options: verdict });
  }
}

export function isWindowsCode(code: number): boolean {
  return code === FILTER['windows-build'] || code === FILTER['hyperv-isolation'];
}

function bump<K>(map: Map<K, number>, key: K, delta: number): void {
  const next = (map.get(key) ?? 0) + delta;
  if (next === 0) map.delete(key);
  else map.set(key, next);
}

function insertionPoint(passers: readonly Passer[], id: string): number {
  let lo = 0;
  let hi = passers.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(passers[mid]!.host.id, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findPasser(passers: readonly Passer[], id: string): number {
  const at = insertionPoint(passers, id);
  return at < passers.length && passers[at]!.host.id === id ? at : -1;
}
