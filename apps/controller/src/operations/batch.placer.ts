import { Injectable, Logger } from '@nestjs/common';
import { Resources, addResources, TemplateSpec, ZERO_RESOURCES } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, OutboxRepository, Tx } from '@hyperplane/db';
import { HostCommandPayload } from '@hyperplane/queue';
import { PlacementPolicy, PlacementRequest, PlacementSuccess } from '@hyperplane/scheduler';
import { HostAgents } from '../hosts/host-agents';
import { PlacementService } from '../placement/placement.service';
import { eachChunk, runAlone } from './batch-children';
import { createArgs, hostCommandPayload } from './host-command';
import { HostCommandSender } from './host-command.sender';

const CHUNK = 4000;

type Child = Pick<OperationEntity, 'id' | 'instanceId' | 'projectId'>;

/** Children no host can take, for one reason. */
interface Refused {
  ops: string[];
  instances: string[];
  reason: string;
  explanation: Record<string, unknown>;
}

interface Placed {
  op: Child;
  instance: InstanceEntity;
  decision: PlacementSuccess;
}

/**
 * Places a batch's children in bulk: decisions in memory (alike requests decided together by
 * Scheduler.placeMany, which walks the fleet once rather than once per child), then per chunk
 * one transaction with one aggregated capacity claim per host and technology, bulk updates of
 * instances and operations, and the creates sent as command batches (one job per host, not
 * one per child). A host whose claim fails (another controller got there first) is refreshed
 * and its instances tried again in the next round. Safe to run again after a crash: it only
 * takes children still queued.
 */
@Injectable()
export class BatchPlacer {
  private readonly log = new Logger('batch');
  /** Chunk transactions of all batches in this process, one after another (see placeChunk). */
  private gate: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly outbox: OutboxRepository,
    private readonly placement: PlacementService,
    private readonly commands: HostCommandSender,
    private readonly hostAgents: HostAgents,
  ) {}

  async run(parent: OperationEntity): Promise<void> {
    const started = Date.now();
    const placedTotal = await eachChunk(
      parent.id,
      () => this.operations.queuedChildren(parent.id, CHUNK),
      (children) => this.placeChunk(children),
    );
    this.log.log(`batch ${parent.id}: ${placedTotal} children handled in ${Date.now() - started} ms`);
  }

  /** One chunk: decide all, then one transaction. Returns how many children left `queued`. */
  private async placeChunk(children: Child[]): Promise<number> {
    const instances = new Map((await this.instances.byIds(children.map((c) => c.instanceId!))).map((i) => [i.id, i]));
    const placed: Placed[] = [];
    const refused = new Map<string, Refused>();
    const individually: Child[] = [];
    // Children whose requests are alike (a batch's usually all are) are decided together.
    const alike = new Map<string, { request: PlacementRequest; policy: PlacementPolicy; members: { op: Child; instance: InstanceEntity }[] }>();
    for (const op of children) {
      const instance = instances.get(op.instanceId!);
      if (!instance || instance.state !== 'pending') continue;
      // Group rules are checked under a lock per group: such children take the single path.
      if (instance.placementGroupId) {
        individually.push(op);
        continue;
      }
      const template = await this.placement.template(instance.template);
      if (!template) continue;
      const policy = await this.placement.policyFor(instance.projectId);
      const request = await this.placement.requestFor(instance, template);
      const key = `${instance.projectId}|${JSON.stringify(request)}`;
      const entry = alike.get(key) ?? { request, policy, members: [] };
      entry.members.push({ op, instance });
      alike.set(key, entry);
    }
    for (const { request, policy, members } of alike.values()) {
      const decisions = await this.placement.decideMany(request, policy, members.length);
      members.forEach(({ op, instance }, i) => {
        const decision = decisions[i]!;
        if (decision.ok) {
          placed.push({ op, instance, decision });
          return;
        }
        const entry = refused.get(decision.reason) ?? { ops: [], instances: [], reason: decision.reason, explanation: decision.explanation as unknown as Record<string, unknown> };
        entry.ops.push(op.id);
        entry.instances.push(instance.id);
        refused.set(decision.reason, entry);
      });
    }

    // Everything the transaction needs from outside it is read first: a query on the pool from
    // inside it (a policy whose cache expired, a host's agent) could wait for a connection that
    // single-path creates hold while they wait for this transaction's host locks.
    const policies = new Map<string, PlacementPolicy>();
    const templates = new Map<string, TemplateSpec>();
    for (const p of placed) {
      if (!policies.has(p.instance.projectId)) policies.set(p.instance.projectId, await this.placement.policyFor(p.instance.projectId));
      if (!templates.has(p.instance.template)) templates.set(p.instance.template, (await this.placement.template(p.instance.template))!);
    }
    await this.hostAgents.of([...new Set(placed.map((p) => p.decision.hostId))]);
    const lost = new Set<string>();
    let moved: number;
    try {
      moved = await this.serially(() => this.db.transaction((em) => this.write(em, { refused: [...refused.values()], individually, placed, lost, policies, templates })));
    } finally {
      this.placement.settle(placed.map((p) => p.decision));
    }
    await this.placement.refreshHosts([...lost]);
    return moved + individually.length;
  }

  /** The chunk's one transaction: refusals, children for the single path, claims and dispatch. */
  private async write(
    em: Tx,
    chunk: { refused: Refused[]; individually: Child[]; placed: Placed[]; lost: Set<string>; policies: ReadonlyMap<string, PlacementPolicy>; templates: ReadonlyMap<string, TemplateSpec> },
  ): Promise<number> {
    let count = 0;
    for (const r of chunk.refused) {
      const gone = await this.instances.unschedulableMany(em, r.instances, r.reason, r.explanation);
      const goneIds = new Set(gone.map((g) => g.id));
      const goneOps = r.ops.filter((_, i) => goneIds.has(r.instances[i]!));
      count += (await this.operations.finishMany(em, goneOps, ['queued'], 'failed', { step: 'unschedulable', error: { code: 'unschedulable', message: r.reason } })).length;
    }
    await runAlone(em, this.outbox, this.operations, chunk.individually);
    const granted = await this.claimAll(em, chunk.placed, chunk.lost, chunk.policies);
    return count + (await this.dispatch(em, granted, chunk.templates));
  }

  /**
   * Alike children are packed onto the same hosts, so concurrent chunks (of one batch or of
   * several) would claim the same boundary hosts and queue behind each other's row locks. One
   * transaction at a time per process avoids that convoy; deciding the next chunk overlaps it.
   */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.gate.then(work, work);
    this.gate = run.catch(() => undefined);
    return run;
  }

  /**
   * One guarded claim per (host, technology, project), all in one statement (HostRepository.
   * claimMany). A host with claims of more than one kind (rare: `auto` requests, or several
   * projects) has the others claimed in further rounds, once its row is already locked.
   */
  private async claimAll(em: Tx, placed: Placed[], lost: Set<string>, policies: ReadonlyMap<string, PlacementPolicy>): Promise<Placed[]> {
    const groups = new Map<string, Placed[]>();
    for (const p of placed) {
      const key = `${p.decision.hostId}/${p.decision.technology}/${p.instance.projectId}`;
      const group = groups.get(key);
      if (group) group.push(p);
      else groups.set(key, [p]);
    }
    const rounds: Placed[][][] = [];
    const seen = new Map<string, number>();
    for (const group of groups.values()) {
      const hostId = group[0]!.decision.hostId;
      const round = seen.get(hostId) ?? 0;
      seen.set(hostId, round + 1);
      (rounds[round] ??= []).push(group);
    }
    const granted: Placed[] = [];
    for (const round of rounds) {
      const claims = [];
      for (const group of round) {
        const first = group[0]!;
        const policy = policies.get(first.instance.projectId)!;
        const claim = group.reduce<Resources>((sum, p) => addResources(sum, p.decision.claim), { ...ZERO_RESOURCES });
        claims.push({ hostId: first.decision.hostId, technology: first.decision.technology, claim, instances: group.length, limits: this.placement.limits(first.decision, policy) });
      }
      const ok = await this.hosts.claimMany(em, claims);
      for (const group of round) {
        const hostId = group[0]!.decision.hostId;
        if (ok.has(hostId)) granted.push(...group);
        else lost.add(hostId);
      }
    }
    return granted;
  }

  /** Instances to provisioning, children to running with their host commands (in command batches), in bulk. */
  private async dispatch(em: Tx, granted: Placed[], templates: ReadonlyMap<string, TemplateSpec>): Promise<number> {
    if (granted.length === 0) return 0;
    const moved = await this.instances.placeMany(
      em,
      granted.map((p) => ({
        id: p.instance.id,
        hostId: p.decision.hostId,
        driver: p.decision.driver,
        technology: p.decision.technology,
        arch: p.decision.arch,
        claim: p.decision.claim,
        explanation: { summary: p.decision.explanation.summary },
      })),
    );
    const byId = new Map(moved.map((i) => [i.id, i]));
    // Claimed for an instance that stopped being pending (its child was cancelled): give it back.
    for (const p of granted) if (!byId.has(p.instance.id)) await this.hosts.release(em, p.decision.hostId, p.decision.claim);
    const commands: { operationId: string; step: string; payload: HostCommandPayload }[] = [];
    for (const p of granted) {
      const instance = byId.get(p.instance.id);
      if (!instance) continue;
      const template = templates.get(instance.template)!;
      const payload = hostCommandPayload(p.op.id, instance, 'create', createArgs(instance, template));
      commands.push({ operationId: p.op.id, step: `provisioning on ${p.decision.hostName}`, payload });
    }
    // One job per host for its share of the chunk, not one per instance.
    return this.commands.sendBatches(em, commands);
  }
}
