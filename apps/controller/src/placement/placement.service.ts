import { Injectable, Logger } from '@nestjs/common';
import { Capability, TemplateSpec } from '@hyperplane/domain';
import { ClaimLimits, HostRepository, InstanceEntity, TemplateRepository, toTemplateSpec, Tx } from '@hyperplane/db';
import { DEFAULT_POLICY, PlacementDecision, PlacementPolicy, PlacementRequest, PlacementSuccess, Scheduler } from '@hyperplane/scheduler';
import { toHostSnapshot } from './host-snapshot';

const SNAPSHOT_MAX_AGE_MS = 2000;
const TEMPLATE_CACHE_MS = 10_000;

/**
 * The controller's view of the fleet for placement: a scheduler over a snapshot of ready
 * hosts, refreshed every couple of seconds and after a lost claim. The snapshot may be
 * stale; the capacity claim in PostgreSQL is what keeps hosts from being overcommitted.
 */
@Injectable()
export class PlacementService {
  private readonly log = new Logger('placement');
  private current: Scheduler | null = null;
  private loadedAt = 0;
  private loading: Promise<Scheduler> | null = null;
  private readonly templates = new Map<string, { spec: TemplateSpec | null; until: number }>();
  readonly policy: PlacementPolicy = DEFAULT_POLICY;

  constructor(
    private readonly hosts: HostRepository,
    private readonly templateRepo: TemplateRepository,
  ) {}

  async template(name: string): Promise<TemplateSpec | null> {
    const hit = this.templates.get(name);
    if (hit && hit.until > Date.now()) return hit.spec;
    const row = await this.templateRepo.get(name);
    const spec = row ? toTemplateSpec(row) : null;
    this.templates.set(name, { spec, until: Date.now() + TEMPLATE_CACHE_MS });
    return spec;
  }

  requestFor(instance: InstanceEntity, template: TemplateSpec): PlacementRequest {
    const p = instance.placement ?? {};
    return {
      template,
      technology: instance.requestedTechnology,
      resources: { vcpus: instance.vcpus, memoryMiB: instance.memoryMib, diskGiB: instance.diskGib },
      ...(instance.arch ? { arch: instance.arch } : {}),
      ...(instance.isolation ? { isolation: instance.isolation } : {}),
      ...(p.capabilities ? { capabilities: p.capabilities as Capability[] } : {}),
      ...(p.hostId ? { hostId: p.hostId } : {}),
      ...(p.labels ? { requiredLabels: p.labels } : {}),
      ...(p.preferredLabels ? { preferredLabels: p.preferredLabels } : {}),
      ...(p.zone ? { zone: p.zone } : {}),
      ...(p.strategy ? { strategy: p.strategy } : {}),
    };
  }

  /** Decides, and records the decision in the local snapshot so concurrent decisions see it. */
  async decide(request: PlacementRequest): Promise<PlacementDecision> {
    const scheduler = await this.scheduler();
    const decision = scheduler.place(request);
    if (decision.ok) scheduler.commit(decision);
    return decision;
  }

  /** Claims the decision's capacity in the caller's transaction; false if the host filled up. */
  claim(em: Tx, decision: PlacementSuccess): Promise<boolean> {
    return this.hosts.claim(
      em,
      { hostId: decision.hostId, technology: decision.technology, claim: decision.claim, instances: 1 },
      this.limitsFor(decision),
    );
  }

  /** The numbers the PostgreSQL claim must respect: the same the scheduler used. */
  limitsFor(decision: Pick<PlacementSuccess, 'technology'>): ClaimLimits {
    return {
      ratios: this.policy.ratios[decision.technology],
      reserved: this.policy.reserved,
      maxInstancesPerHost: this.policy.maxInstancesPerHost,
    };
  }

  /** After a lost claim or a failed transaction: take the host's real allocation from the database. */
  async refreshHost(hostId: string): Promise<void> {
    const scheduler = await this.scheduler();
    const host = await this.hosts.get(hostId);
    if (host && host.status === 'ready') scheduler.updateHost(toHostSnapshot(host));
    else scheduler.removeHost(hostId);
  }

  /** Forces a reload at the next decision (hosts joined, left, or freed capacity). */
  invalidate(): void {
    this.loadedAt = 0;
  }

  private async scheduler(): Promise<Scheduler> {
    if (this.current && Date.now() - this.loadedAt < SNAPSHOT_MAX_AGE_MS) return this.current;
    this.loading ??= this.load().finally(() => (this.loading = null));
    return this.loading;
  }

  private async load(): Promise<Scheduler> {
    const started = Date.now();
    const hosts = await this.hosts.schedulable();
    this.current = new Scheduler(hosts.map(toHostSnapshot), this.policy);
    this.loadedAt = started;
    this.log.debug(`snapshot of ${hosts.length} ready hosts in ${Date.now() - started} ms`);
    return this.current;
  }
}
