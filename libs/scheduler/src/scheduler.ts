import { ARCHES, fromMilliVcpus, Technology, toMilliVcpus } from '@hyperplane/domain';
import { CapacityTable } from './capacity-table';
import {
  ClassEntry,
  PreviousFacts,
  buildClassEntry,
  compareIds,
  compiledPassers,
  deriveClassEntry,
  isWindowsCode,
  labelScoresOf,
  refreshClassEntry,
} from './class-cache';
import { BestHeap } from './best-heap';
import { DynamicInput, DynamicResult, KEEP, Scored, evaluateDynamic } from './dynamic-filters';
import {
  MessageContext,
  WindowsHostRejected,
  failureSummary,
  rejectionsFrom,
  successSummary,
} from './explanation';
import { FILTER, FILTER_COUNT, FilterCode } from './filter-codes';
import { HostIndex } from './host-index';
import {
  HostState,
  ProfileInterner,
  applySnapshot,
  createHostState,
  currentSnapshot,
  sameStaticFacts,
} from './host-state';
import { DEFAULT_POLICY } from './placement-policy';
import {
  Candidate,
  Explanation,
  HostSnapshot,
  PlacementDecision,
  PlacementPolicy,
  PlacementRequest,
  PlacementSuccess,
} from './placement.types';
import { ClassSpec, baseSpecOf, classSpecFor, evaluateStatic } from './static-filters';
import { planTechnology } from './technology';
import { weighContext } from './weighers';

/** Distinct request classes whose static verdicts are kept; the least recently used goes first. */
const MAX_CACHED_CLASSES = 512;

export interface SchedulerOptions {
  /**
   * Evaluate the static filters once per host profile (status, OS, versions, arch, drivers)
   * when building a class, instead of once per host. Pays off from the second class on; the
   * one-shot `place()` turns it off. Either way the decisions are the same. Default true.
   */
  shareProfiles?: boolean;
}

/** One technology tried on the fleet: every rejection counted, the best hosts found. */
export interface Attempt {
  technology: Technology;
  counts: Int32Array;
  messages: MessageContext;
  result: DynamicResult;
}

/** An attempt with what its dynamic walk read (null when a request-level filter refused). */
interface Walked extends Attempt {
  input: DynamicInput | null;
}

/**
 * Placement over an in-memory snapshot of the fleet. `place()` decides without changing
 * anything; `commit()` records a decision's claim so the next decision of a batch sees it.
 * The static filters' verdict for each class of alike requests is cached and kept current by
 * `updateHost()` / `removeHost()` host by host; `commit()` only touches allocations and group
 * counts, which the dynamic filters read on every decision.
 */
export class Scheduler {
  private readonly policy: PlacementPolicy;
  private readonly slots: (HostState | undefined)[] = [];
  private readonly byId = new Map<string, HostState>();
  /** Sorted by id: classes list their hosts in this order, which sampling depends on. */
  private hostsById: HostState[] = [];
  private readonly index = new HostIndex();
  private readonly table = new CapacityTable();
  private readonly profiles: ProfileInterner | null;
  private readonly classes = new Map<string, ClassEntry>();
  /** Group id → host slot → members there (hosts with at least one). */
  private readonly groupMembers = new Map<string, Map<number, number>>();
  private totalInstances = 0;

  constructor(hosts: readonly HostSnapshot[], policy: PlacementPolicy = DEFAULT_POLICY, options: SchedulerOptions = {}) {
    this.policy = policy;
    this.profiles = options.shareProfiles === false ? null : new ProfileInterner();
    for (const snapshot of hosts) {
      if (this.byId.has(snapshot.id)) throw new Error(`duplicate host id ${snapshot.id}`);
      const host = createHostState(this.slots.length, snapshot);
      this.slots.push(host);
      this.byId.set(host.id, host);
      this.index.add(host);
      this.table.load(host.slot, snapshot, policy);
      this.countDynamic(host, 1);
    }
    this.hostsById = [...this.byId.values()].sort((a, b) => compareIds(a.id, b.id));
  }

  /** Hosts in the snapshot. */
  get size(): number {
    return this.byId.size;
  }

  /** A host as the scheduler sees it now, claims committed so far included. */
  host(id: string): HostSnapshot | undefined {
    const host = this.byId.get(id);
    return host ? currentSnapshot(host, this.table.allocated(host.slot)) : undefined;
  }

  /** Every host as the scheduler sees it now, by id. */
  hosts(): HostSnapshot[] {
    return this.hostsById.map((host) => currentSnapshot(host, this.table.allocated(host.slot)));
  }

  place(request: PlacementRequest): PlacementDecision {
    const plan = planTechnology(request);
    if (plan.kind === 'reject') {
      return this.decide(request, this.rejectAll(request, plan.technology, plan.code, plan.blocker), plan.reason);
    }
    if (plan.kind === 'fixed') return this.decide(request, this.attempt(request, plan.technology), plan.reason);
    // auto, and a container is possible: prefer it when a host takes it.
    const container = this.attempt(request, 'container');
    if (container.result.best.length > 0 || !plan.vmPossible) {
      const reason = plan.containerReason(container.result.fitting, container.result.skipped > 0);
      return this.decide(request, container, reason);
    }
    const vm = this.attempt(request, 'vm');
    return this.decide(request, vm, plan.vmReason(rejectionsFrom(container.counts, container.messages)), container);
  }

  /** Records a decision's claim: allocated += claim, instances += 1, and the group member. */
  commit(decision: PlacementSuccess): void {
    const host = this.byId.get(decision.hostId);
    if (!host) throw new Error(`cannot commit to unknown host ${decision.hostId}`);
    this.table.claim(host.slot, decision.claim.vcpus, decision.claim.memoryMiB, decision.claim.diskGiB);
    this.totalInstances += 1;
    if (decision.macosGuest) host.macosGuests += 1;
    if (decision.groupId !== undefined) {
      const members = (host.groups.get(decision.groupId) ?? 0) + 1;
      host.groups.set(decision.groupId, members);
      this.membersOf(decision.groupId).set(host.slot, members);
    }
  }

  /**
   * Places `count` alike requests and commits each: the same decisions, explanations included,
   * as `place()` then `commit()` one after another, but the fleet is walked once per run of
   * placements — after each one only the host that took it is evaluated again (the others'
   * verdicts and scores read only their own state). What that shortcut cannot reproduce (a
   * placement group, a pinned host, sampling, `auto` falling back to a VM) is decided one by
   * one. Once a request fails, nothing has changed: the same decision answers the rest.
   */
  placeMany(request: PlacementRequest, count: number): PlacementDecision[] {
    const out: PlacementDecision[] = [];
    const shortcut = count > 1 && request.group === undefined && request.hostId === undefined && !((this.policy.sampleSize ?? 0) > 0);
    const plan = planTechnology(request);
    while (out.length < count) {
      if (!shortcut || plan.kind === 'reject') {
        if (!this.placeOne(request, out, count)) break;
        continue;
      }
      const technology = plan.kind === 'fixed' ? plan.technology : 'container';
      const reason = (fitting: number): string => (plan.kind === 'fixed' ? plan.reason : plan.containerReason(fitting, false));
      const fitting: Scored[] = [];
      const walked = this.attempt(request, technology, fitting);
      if (walked.input === null || walked.result.best.length === 0) {
        // Nothing fits this technology: a failure, or under auto the VM, decided as place() does.
        if (!this.placeOne(request, out, count)) break;
        continue;
      }
      const { input, counts } = walked;
      const overhead = walked.result.overhead;
      const heap = new BestHeap(fitting);
      const passerOf = new Map<number, number>();
      input.compiled.slots.forEach((slot, at) => passerOf.set(slot, at));
      while (out.length < count && heap.size > 0) {
        const best = heap.top(KEEP);
        const result: DynamicResult = { fitting: heap.size, best, skipped: 0, overhead, macosFull: walked.result.macosFull };
        const decision = this.decide(request, { ...walked, result }, reason(heap.size)) as PlacementSuccess;
        out.push(decision);
        this.commit(decision);
        const again: Scored[] = [];
        const delta = new Int32Array(FILTER_COUNT);
        const after = evaluateDynamic({ ...input, only: passerOf.get(best[0]!.host.slot)!, collect: again }, delta);
        if (again.length > 0) {
          heap.replaceTop(again[0]!);
        } else {
          heap.pop();
          for (const name of after.macosFull) if (!walked.result.macosFull.includes(name)) walked.result.macosFull.push(name);
          for (let i = 0; i < FILTER_COUNT; i++) counts[i]! += delta[i]!;
          overhead.vcpus ||= after.overhead.vcpus;
          overhead.memory ||= after.overhead.memory;
          overhead.disk ||= after.overhead.disk;
        }
      }
    }
    return out;
  }

  /** One place() and its commit; a failure answers every remaining request. False once failed. */
  private placeOne(request: PlacementRequest, out: PlacementDecision[], count: number): boolean {
    const decision = this.place(request);
    if (!decision.ok) {
      while (out.length < count) out.push(decision);
      return false;
    }
    out.push(decision);
    this.commit(decision);
    return true;
  }

  /** Adds a host or replaces what is known of it (allocations and groups included). */
  updateHost(snapshot: HostSnapshot): void {
    const host = this.byId.get(snapshot.id);
    if (!host) {
      const added = createHostState(this.slots.length, snapshot);
      this.slots.push(added);
      this.byId.set(added.id, added);
      this.hostsById.splice(this.positionOf(added.id), 0, added);
      this.index.add(added);
      this.table.load(added.slot, snapshot, this.policy);
      this.countDynamic(added, 1);
      for (const entry of this.classes.values()) refreshClassEntry(entry, added, null, true);
      return;
    }
    this.countDynamic(host, -1);
    if (sameStaticFacts(host.snapshot, snapshot)) {
      // Only allocations, groups, capacity or the name changed: the dynamic filters and
      // weighers read those live, so no class needs re-evaluating.
      applySnapshot(host, snapshot);
      this.table.load(host.slot, snapshot, this.policy);
      this.countDynamic(host, 1);
      return;
    }
    const previous = factsOf(host);
    this.index.remove(host);
    applySnapshot(host, snapshot);
    this.table.load(host.slot, snapshot, this.policy);
    this.index.add(host);
    this.countDynamic(host, 1);
    for (const entry of this.classes.values()) refreshClassEntry(entry, host, previous, true);
  }

  /** Forgets a host; false when it was not known. */
  removeHost(id: string): boolean {
    const host = this.byId.get(id);
    if (!host) return false;
    this.countDynamic(host, -1);
    this.index.remove(host);
    this.byId.delete(id);
    this.hostsById.splice(this.positionOf(id), 1);
    this.slots[host.slot] = undefined;
    const previous = factsOf(host);
    for (const entry of this.classes.values()) refreshClassEntry(entry, host, previous, false);
    return true;
  }

  /**
   * Runs every filter for one technology: request-level, pinned or cached static, then dynamic.
   * With `collect`, every fitting host is also gathered there with its score.
   */
  private attempt(request: PlacementRequest, technology: Technology, collect?: Scored[]): Walked {
    const requestLevel = requestLevelFailure(request, technology);
    if (requestLevel) return { ...this.rejectAll(request, technology, requestLevel), input: null };
    const spec = classSpecFor(request, technology);
    const counts = new Int32Array(FILTER_COUNT);
    let entry: ClassEntry;
    if (request.hostId !== undefined) {
      // Pinned: one host to evaluate, no class worth caching.
      const pinned = this.byId.get(request.hostId);
      counts[FILTER.pinned] = this.size - (pinned ? 1 : 0);
      const verdict = pinned ? evaluateStatic(pinned, spec) : FILTER.pinned;
      if (pinned && typeof verdict === 'number') counts[verdict]! += 1;
      entry = {
        spec,
        counts,
        statusCounts: new Map(pinned && verdict === FILTER.status ? [[pinned.snapshot.status, 1]] : []),
        passers: pinned && typeof verdict !== 'number' ? [{ host: pinned, options: verdict }] : [],
        verdicts: new Uint8Array(0),
        compiled: null,
        windowsRejected: new Map(pinned && typeof verdict === 'number' && isWindowsCode(verdict) ? [[pinned, verdict]] : []),
      };
    } else {
      entry = this.classEntry(spec);
      counts.set(entry.counts);
    }
    if (request.excludeHosts?.length) entry = this.without(entry, new Set(request.excludeHosts), counts);
    const { passers, statusCounts } = entry;
    const weigh = weighContext(request, this.policy);
    const compiled = compiledPassers(entry, request.template.name);
    const members = request.group ? (this.groupMembers.get(request.group.id) ?? new Map<number, number>()) : null;
    const sampleSize = Math.max(0, Math.floor(this.policy.sampleSize ?? 0));
    const input: DynamicInput = {
      passers,
      compiled,
      table: this.table,
      technology,
      resources: request.resources,
      group: request.group,
      members,
      groupHosts: members?.size ?? 0,
      weigh,
      labelScores: weigh.preferredLabels.length > 0 ? labelScoresOf(entry, compiled, weigh.preferredLabels) : null,
      macosGuest: isMacosGuest(request, technology),
      sampleSize,
      start: sampleSize > 0 ? this.sampleStart(spec, weigh.strategy === 'spread', passers.length) : 0,
    };
    const result = evaluateDynamic(collect ? { ...input, collect } : input, counts);
    return {
      technology,
      counts,
      result,
      messages: {
        request,
        technology,
        wantedArchs: spec.wantedArchs,
        statusCounts,
        overhead: result.overhead,
        macosFull: result.macosFull,
        ...(entry.windowsRejected.size > 0 ? { windowsHosts: (entry.windowsList ??= windowsHostsOf(entry.windowsRejected)) } : {}),
        ...(spec.hypervRequired ? { hypervRequired: true } : {}),
      },
      input,
    };
  }

  /** The entry without the excluded hosts, counted under `excluded` (a copy: the cached one stays whole). */
  private without(entry: ClassEntry, excluded: ReadonlySet<string>, counts: Int32Array): ClassEntry {
    const passers = entry.passers.filter((p) => !excluded.has(p.host.id));
    if (passers.length === entry.passers.length) return entry;
    counts[FILTER.excluded]! += entry.passers.length - passers.length;
    return { ...entry, passers, compiled: null };
  }

  /** Every host rejected by one request-level filter. */
  private rejectAll(request: PlacementRequest, technology: Technology, code: FilterCode, blocker?: string): Attempt {
    const counts = new Int32Array(FILTER_COUNT);
    counts[FILTER[code]] = this.size;
    return {
      technology,
      counts,
      result: { fitting: 0, best: [], skipped: 0, overhead: { vcpus: false, memory: false, disk: false }, macosFull: [] },
      messages: {
        request,
        technology,
        wantedArchs: request.arch ? [request.arch] : request.template.archs,
        statusCounts: new Map(),
        overhead: { vcpus: false, memory: false, disk: false },
        blocker,
      },
    };
  }

  private classEntry(spec: ClassSpec): ClassEntry {
    const cached = this.classes.get(spec.key);
    if (cached) {
      this.classes.delete(spec.key);
      this.classes.set(spec.key, cached);
      return cached;
    }
    const entry =
      spec.key === spec.baseKey
        ? buildClassEntry(spec, this.index, this.hostsById, this.slots.length, this.profiles)
        : deriveClassEntry(this.classEntry(baseSpecOf(spec)), spec);
    if (this.classes.size >= MAX_CACHED_CLASSES) {
      const oldest = this.classes.keys().next();
      if (!oldest.done) this.classes.delete(oldest.value);
    }
    this.classes.set(spec.key, entry);
    return entry;
  }

  /**
   * Where a sampled walk starts: a hash of the seed and the class. Binpack keeps the start fixed
   * (first fit from one place packs hosts); spread moves it with every instance placed in the
   * fleet. Both are functions of the state only, so a preview equals the real decision.
   */
  private sampleStart(spec: ClassSpec, spread: boolean, n: number): number {
    if (n === 0) return 0;
    const salt = spread ? `|${this.totalInstances}` : '';
    return fnv1a(`${this.policy.seed ?? 0}|${spec.key}${salt}`) % n;
  }

  private decide(request: PlacementRequest, attempt: Attempt, reason: string, other?: Attempt): PlacementDecision {
    const rejections = rejectionsFrom(attempt.counts, attempt.messages);
    const { result, technology } = attempt;
    const sampled = result.skipped > 0 ? { size: result.fitting, skipped: result.skipped } : undefined;
    const explanation: Explanation = {
      summary: '',
      technology: { chosen: technology, reason },
      hostsConsidered: this.size,
      rejections,
      alternatives: [],
      fitting: result.fitting,
    };
    if (sampled) explanation.sampled = sampled;
    if (other) {
      const otherRejections = rejectionsFrom(other.counts, other.messages);
      explanation.otherTechnology = {
        technology: other.technology,
        summary: failureSummary(this.size, otherRejections),
        rejections: otherRejections,
      };
    }
    const [best, ...rest] = result.best;
    if (!best) {
      explanation.summary = failureSummary(this.size, rejections);
      return { ok: false, reason: explanation.summary, explanation };
    }
    const candidate = (s: typeof best): Candidate => ({
      hostId: s.host.id,
      hostName: s.host.snapshot.name,
      driver: s.option.driver,
      technology,
      arch: s.option.arch,
      score: s.score,
      ...(s.option.isolation ? { isolation: s.option.isolation } : {}),
    });
    explanation.chosen = candidate(best);
    explanation.alternatives = rest.map(candidate);
    explanation.summary = successSummary(explanation.chosen, explanation.alternatives, result.fitting, this.size, sampled);
    const success: PlacementSuccess = {
      ok: true,
      hostId: best.host.id,
      hostName: best.host.snapshot.name,
      technology,
      driver: best.option.driver,
      arch: best.option.arch,
      score: best.score,
      claim: {
        vcpus: fromMilliVcpus(toMilliVcpus(request.resources.vcpus) + toMilliVcpus(best.option.overheadVcpus)),
        memoryMiB: request.resources.memoryMiB + best.option.overheadMemoryMiB,
        diskGiB: request.resources.diskGiB + best.option.overheadDiskGiB,
      },
      explanation,
    };
    if (request.group) success.groupId = request.group.id;
    if (isMacosGuest(request, technology)) success.macosGuest = true;
    if (best.option.isolation) success.windowsIsolation = best.option.isolation;
    return success;
  }

  /** Instances and group members of a host in or out of the fleet-wide tallies. */
  private countDynamic(host: HostState, sign: 1 | -1): void {
    this.totalInstances += sign * this.table.instances(host.slot);
    for (const [group, members] of host.groups) {
      if (members <= 0) continue;
      const slots = this.membersOf(group);
      if (sign > 0) slots.set(host.slot, members);
      else slots.delete(host.slot);
      if (slots.size === 0) this.groupMembers.delete(group);
    }
  }

  private membersOf(group: string): Map<number, number> {
    let slots = this.groupMembers.get(group);
    if (!slots) {
      slots = new Map();
      this.groupMembers.set(group, slots);
    }
    return slots;
  }

  private positionOf(id: string): number {
    let lo = 0;
    let hi = this.hostsById.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.hostsById[mid]!.id, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Decides one request on a snapshot of the fleet: a one-shot `Scheduler`. */
export function place(
  request: PlacementRequest,
  hosts: readonly HostSnapshot[],
  policy: PlacementPolicy = DEFAULT_POLICY,
): PlacementDecision {
  return new Scheduler(hosts, policy, { shareProfiles: false }).place(request);
}

/** The hosts a class rejected under the Windows filters, for the message (at most a few per build are named). */
function windowsHostsOf(rejected: ReadonlyMap<HostState, number>): WindowsHostRejected[] {
  const out: WindowsHostRejected[] = [];
  for (const [host, code] of rejected) {
    out.push({ name: host.snapshot.name, build: host.windowsBuild, code: code === FILTER['windows-build'] ? 'windows-build' : 'hyperv-isolation' });
  }
  return out;
}

/** A macOS VM: it takes one of its host's MAX_MACOS_GUESTS licence slots. */
function isMacosGuest(request: PlacementRequest, technology: Technology): boolean {
  return technology === 'vm' && request.template.osFamily === 'macos';
}

function requestLevelFailure(request: PlacementRequest, technology: Technology): FilterCode | null {
  const { template } = request;
  if (!template.technologies.includes(technology)) return 'template-technology';
  const archs = template.archs.filter((a) => ARCHES.includes(a));
  if (archs.length === 0 || (request.arch !== undefined && !archs.includes(request.arch))) return 'template-arch';
  return null;
}

function factsOf(host: HostState): PreviousFacts {
  return { status: host.snapshot.status, os: host.snapshot.os, masks: { ...host.masks } };
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The host snapshot with a decision's claim recorded: what commit() does to a scheduler's own copy. */
export function withClaim(host: HostSnapshot, decision: PlacementSuccess): HostSnapshot {
  const a = host.allocated;
  const groups = decision.groupId === undefined ? host.groups : { ...host.groups, [decision.groupId]: (host.groups?.[decision.groupId] ?? 0) + 1 };
  return {
    ...host,
    allocated: { vcpus: fromMilliVcpus(toMilliVcpus(a.vcpus) + toMilliVcpus(decision.claim.vcpus)), memoryMiB: a.memoryMiB + decision.claim.memoryMiB, diskGiB: a.diskGiB + decision.claim.diskGiB, instances: a.instances + 1 },
    ...(groups ? { groups } : {}),
    ...(decision.macosGuest ? { macosGuests: (host.macosGuests ?? 0) + 1 } : {}),
  };
}
