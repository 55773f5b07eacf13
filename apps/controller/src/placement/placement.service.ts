import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { TemplateSpec } from '@hyperplane/domain';
import { AppConfig } from '@hyperplane/config';
import {
  ClaimLimits,
  hostSnapshot,
  HostRepository,
  InstanceEntity,
  PlacementGroupEntity,
  PgListener,
  PlacementGroupRepository,
  placementRequest,
  POLICY_CHANNEL,
  ProjectRepository,
  TemplateRepository,
  toTemplateSpec,
  Tx,
} from '@hyperplane/db';
import {
  HostSnapshot,
  MAX_MACOS_GUESTS,
  mergePolicy,
  PlacementDecision,
  PlacementPolicy,
  PlacementRequest,
  PlacementSuccess,
  policyFromSettings,
  policyKey,
  Scheduler,
  withClaim,
} from '@hyperplane/scheduler';

import { NOTIFY_LISTENER } from '../notify-listener';
import { observePlacement } from '../observability/controller-metrics';

const SNAPSHOT_MAX_AGE_MS = 2000;
const CACHE_MS = 10_000;
/** A decision nobody settled (a caller that died mid-way) stops counting after this long. */
const PENDING_MAX_AGE_MS = 60_000;

interface Cached<T> {
  value: T;
  until: number;
}

/**
 * The controller's view of the fleet for placement: schedulers (one per distinct policy) over
 * a snapshot of ready hosts, refreshed every couple of seconds and after a lost claim. The
 * snapshot may be stale; the claim in PostgreSQL (capacity, and group rules under a lock on
 * the group) is what keeps hosts from being overcommitted and groups from being broken.
 *
 * Every decision is recorded at once in the snapshot and in every scheduler, and stays
 * `pending` until its caller settles it (its transaction ended). A reload reads only what is
 * committed, so it records the pending decisions again; otherwise the claims of transactions
 * still in flight would vanish from view until the next reload.
 */
@Injectable()
export class PlacementService implements OnModuleInit {
  private readonly log = new Logger('placement');
  /** The hosts as loaded, with every decision since recorded (new schedulers start from it). */
  private hosts: HostSnapshot[] = [];
  private position = new Map<string, number>();
  private readonly pending = new Map<PlacementSuccess, number>();
  private readonly schedulers = new Map<string, { policy: PlacementPolicy; scheduler: Scheduler }>();
  private loadedAt = 0;
  /** Bumped by invalidate(): a load that began before it does not count as fresh. */
  private generation = 0;
  private loading: Promise<void> | null = null;
  private readonly templates = new Map<string, Cached<TemplateSpec | null>>();
  private readonly groups = new Map<string, Cached<PlacementGroupEntity | null>>();
  private readonly policies = new Map<string, Cached<PlacementPolicy>>();
  private policyGeneration = 0;
  readonly basePolicy: PlacementPolicy;

  constructor(
    config: AppConfig,
    private readonly hostRepo: HostRepository,
    private readonly templateRepo: TemplateRepository,
    private readonly groupRepo: PlacementGroupRepository,
    private readonly projectRepo: ProjectRepository,
    @Inject(NOTIFY_LISTENER) private readonly listener: PgListener,
  ) {
    this.basePolicy = policyFromSettings(config);
  }

  template(name: string): Promise<TemplateSpec | null> {
    return this.cached(this.templates, name, async () => {
      const row = await this.templateRepo.get(name);
      return row ? toTemplateSpec(row) : null;
    });
  }

  group(id: string | null): Promise<PlacementGroupEntity | null> {
    return id ? this.cached(this.groups, id, () => this.groupRepo.get(id)) : Promise.resolve(null);
  }

  /**
   * The global policy with the project's overrides. Cached, and forgotten at every change of a
   * policy (NOTIFY hp_policy): a load that began before the change is not kept.
   */
  async policyFor(projectId: string): Promise<PlacementPolicy> {
    const hit = this.policies.get(projectId);
    if (hit && hit.until > Date.now()) return hit.value;
    const generation = this.policyGeneration;
    const project = await this.projectRepo.get(projectId);
    const policy = mergePolicy(this.basePolicy, project?.policy);
    if (generation === this.policyGeneration) this.policies.set(projectId, { value: policy, until: Date.now() + CACHE_MS });
    return policy;
  }

  /** A project's policy changed (here or in any process): the next decision reads it again. */
  forgetPolicies(): void {
    this.policies.clear();
    this.policyGeneration++;
  }

  onModuleInit(): void {
    this.listener.on(POLICY_CHANNEL, () => this.forgetPolicies());
  }

  async requestFor(instance: InstanceEntity, template: TemplateSpec): Promise<PlacementRequest> {
    return placementRequest(instance, template, await this.group(instance.placementGroupId));
  }

  /** Decides, and records the decision in every local scheduler so concurrent decisions see it. */
  async decide(request: PlacementRequest, policy: PlacementPolicy): Promise<PlacementDecision> {
    return (await this.decideMany(request, policy, 1))[0]!;
  }

  /**
   * `count` alike requests decided one after another (Scheduler.placeMany), each recorded
   * everywhere. The caller settles them once the transaction that claims them has ended.
   */
  async decideMany(request: PlacementRequest, policy: PlacementPolicy, count: number): Promise<PlacementDecision[]> {
    await this.fresh();
    const own = this.scheduler(policy);
    const started = process.hrtime.bigint();
    const decisions = own.placeMany(request, count);
    observePlacement(count, Number(process.hrtime.bigint() - started) / 1e9, decisions);
    const now = Date.now();
    for (const d of decisions) {
      if (!d.ok) continue;
      this.pending.set(d, now);
      this.record(d, own);
    }
    return decisions;
  }

  /** The transaction that claimed these decisions ended (committed or rolled back). */
  settle(decisions: Iterable<PlacementDecision>): void {
    for (const d of decisions) if (d.ok) this.pending.delete(d);
  }

  /** The decision's claim in the snapshot and in every scheduler but `except` (which made it). */
  private record(d: PlacementSuccess, except?: Scheduler): void {
    const at = this.position.get(d.hostId);
    if (at === undefined) return;
    this.hosts[at] = withClaim(this.hosts[at]!, d);
    for (const { scheduler } of this.schedulers.values()) if (scheduler !== except) scheduler.commit(d);
  }

  /** Whether the request would be placed now (nothing is recorded). */
  async wouldPlace(request: PlacementRequest, policy: PlacementPolicy): Promise<boolean> {
    await this.fresh();
    return this.scheduler(policy).place(request).ok;
  }

  /**
   * Whether a host still enrolling (enrolled since `since`, not yet beaten) would take the
   * request once ready: what it claims is checked again when it is ready and really placed.
   */
  async enrollingWouldPlace(request: PlacementRequest, policy: PlacementPolicy, since: Date): Promise<boolean> {
    const rows = await this.hostRepo.enrollingSince(since);
    if (rows.length === 0) return false;
    const asReady = rows.map((h): HostSnapshot => ({ ...hostSnapshot(h), status: 'ready' }));
    return new Scheduler(asReady, policy).place(request).ok;
  }

  /** Serialises placements in a group; the first statement of the placing transaction. */
  async lockGroup(em: Tx, groupId: string): Promise<void> {
    await this.groupRepo.lock(em, groupId);
  }

  /**
   * Claims the decision in the caller's transaction: the group's rules re-checked now (under
   * the lock taken with lockGroup), then the host's capacity in one guarded UPDATE sent with
   * the COMMIT (HostRepository.claimAtCommit), so the host's row, which concurrent placements
   * all want, is locked for no round trip. False if the group's rules no longer hold; capacity
   * that no longer fits fails the commit instead (isClaimRefused says so of its error).
   */
  async claim(em: Tx, decision: PlacementSuccess, policy: PlacementPolicy, instanceId: string): Promise<boolean> {
    const group = await this.group(decision.groupId ?? null);
    if (group) {
      const { onHost, placed } = await this.groupRepo.countMembers(em, group.id, decision.hostId, instanceId);
      if (group.strict && group.policy === 'anti-affinity' && onHost > 0) return false;
      if (group.strict && group.policy === 'affinity' && placed > 0 && onHost === 0) return false;
      if (group.maxPerHost && onHost >= group.maxPerHost) return false;
    }
    const claim = { hostId: decision.hostId, technology: decision.technology, claim: decision.claim, instances: 1 };
    if (!decision.macosGuest) {
      await this.hostRepo.claimAtCommit(em, claim, this.limits(decision, policy));
      return true;
    }
    // A Mac's guests are counted after its claim, under its row's lock: a concurrent placement
    // on this Mac waits at the claim and then counts this guest (on the host in this transaction).
    if (!(await this.hostRepo.claim(em, claim, this.limits(decision, policy)))) return false;
    const guests = (await this.hostRepo.macosGuestCounts([decision.hostId], em)).get(decision.hostId) ?? 0;
    return guests <= MAX_MACOS_GUESTS;
  }

  /** The numbers the PostgreSQL claim must respect: the same the scheduler used. */
  limits(decision: Pick<PlacementSuccess, 'technology'>, policy: PlacementPolicy): ClaimLimits {
    return { ratios: policy.ratios[decision.technology], reserved: policy.reserved, maxInstancesPerHost: policy.maxInstancesPerHost };
  }

  /** After a lost claim or a failed transaction: take the host's real state from the database. */
  refreshHost(hostId: string): Promise<void> {
    return this.refreshHosts([hostId]);
  }

  /** refreshHost for many hosts at once (a batch's chunk can lose claims on hundreds): three reads in all. */
  async refreshHosts(hostIds: readonly string[]): Promise<void> {
    if (hostIds.length === 0) return;
    const ids = [...new Set(hostIds)];
    const wanted = new Set(ids);
    const inFlight = [...this.pending.keys()].filter((d) => wanted.has(d.hostId));
    const [rows, groups, macos] = await Promise.all([this.hostRepo.byIds(ids), this.hostRepo.groupCounts(ids), this.hostRepo.macosGuestCounts(ids)]);
    const found = new Map(rows.map((h) => [h.id, h]));
    const added: HostSnapshot[] = [];
    for (const hostId of ids) {
      const host = found.get(hostId);
      const snapshot = host ? hostSnapshot(host, groups.get(hostId) ?? {}, macos.get(hostId)) : null;
      const at = this.position.get(hostId);
      if (snapshot && at !== undefined) this.hosts[at] = snapshot;
      else if (snapshot) added.push(snapshot);
      for (const { scheduler } of this.schedulers.values()) {
        if (snapshot) scheduler.updateHost(snapshot);
        else scheduler.removeHost(hostId);
      }
    }
    const gone = new Set(ids.filter((id) => !found.has(id) && this.position.has(id)));
    if (added.length || gone.size) this.setHosts([...this.hosts.filter((h) => !gone.has(h.id)), ...added]);
    for (const d of inFlight) this.record(d);
  }

  /** Forces a reload at the next decision (hosts joined, left, changed status, or freed capacity). */
  invalidate(): void {
    this.loadedAt = 0;
    this.generation++;
  }

  private scheduler(policy: PlacementPolicy): Scheduler {
    const key = policyKey(policy);
    let entry = this.schedulers.get(key);
    if (!entry) {
      entry = { policy, scheduler: new Scheduler(this.hosts, policy) };
      this.schedulers.set(key, entry);
    }
    return entry.scheduler;
  }

  private async fresh(): Promise<void> {
    // A big fleet is reloaded less often (a reload of 10,000 hosts costs ~0.1 s); lost claims
    // refresh their host at once either way.
    if (Date.now() - this.loadedAt < Math.max(SNAPSHOT_MAX_AGE_MS, this.hosts.length)) return;
    this.loading ??= this.load().finally(() => (this.loading = null));
    await this.loading;
  }

  private async load(): Promise<void> {
    const started = Date.now();
    const generation = this.generation;
    for (const [d, at] of this.pending) if (started - at > PENDING_MAX_AGE_MS) this.pending.delete(d);
    // Taken before the read: a decision settled while it runs may or may not be in what it
    // reads, and counting it twice (until the next reload) is the safe side.
    const inFlight = [...this.pending.keys()];
    const [rows, groups, macos] = await Promise.all([this.hostRepo.schedulable(), this.hostRepo.groupCounts(), this.hostRepo.macosGuestCounts()]);
    this.setHosts(rows.map((h) => hostSnapshot(h, groups.get(h.id) ?? {}, macos.get(h.id))));
    // Schedulers are rebuilt from the new snapshot (cheap next to a decision at this size).
    const policies = [...this.schedulers.values()].map((e) => e.policy);
    this.schedulers.clear();
    for (const p of policies) this.scheduler(p);
    for (const d of inFlight) this.record(d);
    this.loadedAt = generation === this.generation ? started : 0;
    this.log.debug(`snapshot of ${rows.length} hosts in ${Date.now() - started} ms`);
  }

  private setHosts(hosts: HostSnapshot[]): void {
    this.hosts = hosts;
    this.position = new Map(hosts.map((h, i) => [h.id, i]));
  }

  private async cached<T>(map: Map<string, Cached<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const hit = map.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await load();
    map.set(key, { value, until: Date.now() + CACHE_MS });
    return value;
  }
}
