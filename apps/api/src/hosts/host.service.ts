import { Inject, Injectable, Logger } from '@nestjs/common';
import { HostStatus, statesLeadingTo } from '@hyperplane/domain';
import { Database, DEFAULT_PROJECT_ID, HostEntity, HostRepository, InstanceRepository, OperationEntity, OperationRepository } from '@hyperplane/db';
import { currentRequestId } from '@hyperplane/observability';
import { HeartbeatStore, LeaseStore } from '@hyperplane/queue';
import { problems } from '../common/problem';
import { Principal } from '../auth/principal';
import { IdempotencyContext } from '../common/idempotency';
import { OperationSubmitter, Submitted } from '../operations/operation-submitter.service';
import { AgentRedisService } from '../agents/agent-redis.service';
import { isTakenHostName } from '../agents/agent.service';

export const HOST_ACTIONS = ['drain', 'maintenance', 'activate'] as const;
export type HostAction = (typeof HOST_ACTIONS)[number];

/** When a drain's remaining instances are evacuated: a time, or seconds from now (on PostgreSQL's clock, which the controller compares with). */
export type DrainDeadline = Date | { inS: number };

/** Moved by an evacuation: instances in these states (the others stay, counted as skipped). */
const MOVABLE = statesLeadingTo('migrating').filter((s) => s !== 'migrating');

/** What each action sets, from which statuses, and the reason shown when none is given. */
const RULES: Record<HostAction, { to: HostStatus; from: HostStatus[]; reason: string | null }> = {
  drain: { to: 'draining', from: ['ready', 'maintenance', 'down'], reason: 'drained by an administrator: takes no new instances' },
  maintenance: { to: 'maintenance', from: ['ready', 'draining', 'down'], reason: 'in maintenance: takes no new instances' },
  activate: { to: 'ready', from: ['draining', 'maintenance'], reason: null },
};

/**
 * Whether a host takes new instances. Draining and maintenance keep what runs there and stop
 * new placements (the scheduler's status filter, and the claim in PostgreSQL, which only takes
 * a `ready` host); the heartbeat watcher leaves both alone. Activate makes the host `ready`
 * again; one that does not heartbeat then goes `down` as any other would.
 */
@Injectable()
export class HostService {
  private readonly log = new Logger('hosts');

  constructor(
    private readonly db: Database,
    private readonly hosts: HostRepository,
    private readonly instances: InstanceRepository,
    private readonly operations: OperationRepository,
    private readonly agentRedis: AgentRedisService,
    @Inject(HeartbeatStore) private readonly heartbeats: HeartbeatStore,
    @Inject(LeaseStore) private readonly leases: LeaseStore,
    private readonly submitter: OperationSubmitter,
  ) {}

  /** A new name, unique in the fleet (agents keep reporting their inventory; the name stays). */
  async rename(id: string, name: string): Promise<HostEntity> {
    const taken = (await this.hosts.withNames([name])).find((h) => h.id !== id);
    if (taken) throw problems.conflict(`host name ${name} is taken by host ${taken.id}`, { hostId: taken.id });
    try {
      const host = await this.hosts.rename(id, name);
      if (!host) throw problems.notFound('host', id);
      return host;
    } catch (e) {
      if (isTakenHostName(e)) throw problems.conflict(`host name ${name} is taken`);
      throw e;
    }
  }

  /**
   * Removes a host from the fleet. With instances still on it only when `force` (the host is
   * lost): its instances go to `error` without a host (their claims go with the host's row) and
   * their active operations fail. When it was its agent's last host, the agent's credential and
   * Redis user are revoked.
   */
  async remove(id: string, force: boolean): Promise<{ name: string; instances: number; agentRevoked: boolean }> {
    if (force) await this.mustBeFenced(id);
    const outcome = await this.db.transaction(async (em) => {
      const locked = await this.hosts.lockForRemoval(em, id);
      if (!locked) throw problems.notFound('host', id);
      const { host, instances } = locked;
      if (instances > 0 && !force) {
        throw problems.conflict(`host ${host.name} still has ${instances} instance(s); delete them first, or remove a lost host with ?force=true`, { instances });
      }
      const reason = `its host ${host.name} was removed from the fleet`;
      const evicted = await this.instances.evictFromHost(em, id, reason);
      const active: string[] = [];
      for (const instanceId of evicted) {
        const op = await this.operations.activeForInstance(instanceId, em);
        if (op) active.push(op.id);
      }
      await this.operations.finishMany(em, active, ['queued', 'running'], 'failed', { step: 'failed', error: { code: 'host-removed', message: reason } });
      const { agentRemoved } = await this.hosts.remove(em, host, evicted.length);
      return { host, evicted: evicted.length, agentRemoved };
    });
    const { host, agentRemoved } = outcome;
    // After the commit: Redis forgets the host (and its agent, when it went with it).
    await this.heartbeats.forget(host.agentId, [host.id]).catch(() => undefined);
    if (agentRemoved) {
      await this.heartbeats.drop(agentRemoved.id).catch(() => undefined);
      if (agentRemoved.redisUser) {
        await this.agentRedis.remove(agentRemoved.id).catch((e: unknown) => this.log.error(`could not remove the Redis user of agent ${agentRemoved.id}: ${String(e)}`));
      }
    }
    return { name: host.name, instances: outcome.evicted, agentRevoked: agentRemoved !== null };
  }

  /**
   * HA: a host with HA instances is removed (they are placed again elsewhere) only once it
   * cannot be running them: its lease has run out and the controller's margin after it has
   * passed (apps/controller/src/ha/README.md). Otherwise 409 saying until when to wait.
   */
  private async mustBeFenced(id: string): Promise<void> {
    const host = await this.hosts.get(id);
    if (!host || (await this.instances.haOnHosts([id])).length === 0) return;
    const left = (await this.leases.remaining([{ id: host.id, agentId: host.agentId }])).get(id);
    if (left !== null && left !== undefined) {
      throw problems.conflict(`host ${host.name} still holds its HA lease (its agent renewed it within the lease); its HA instances may be running there. Stop its agent, or wait for the lease to run out and the host to be fenced`, { leaseMsLeft: left });
    }
    const after = (await this.leases.restartAfter([id])).get(id);
    if (after === undefined || after > Date.now()) {
      throw problems.conflict(
        `host ${host.name} has HA instances and is not fenced yet${after ? ` (until ${new Date(after).toISOString()})` : ' (it must be down and its lease gone)'}; try again then`,
        after ? { fencedAt: new Date(after).toISOString() } : {},
      );
    }
  }

  /**
   * `deadline` (drain only): when it passes and instances remain, the controller evacuates the
   * host (apps/controller/src/hosts/drain-deadline.watcher.ts). Draining a draining host with a
   * deadline moves the deadline; without one it changes nothing. Activate and maintenance clear it.
   */
  async act(id: string, action: HostAction, reason?: string, deadline?: DrainDeadline): Promise<HostEntity> {
    const rule = RULES[action];
    const host = await this.hosts.get(id);
    if (!host) throw problems.notFound('host', id);
    if (host.status === rule.to) return deadline ? this.moveDrainDeadline(host, deadline, reason) : host;
    if (!rule.from.includes(host.status)) throw this.refusal(host, action);
    // Activating a host also forgives its failed creates: the administrator says it is sound.
    const [changed] = await this.hosts.setStatus([id], rule.from, rule.to, rule.to === 'ready' ? null : (reason ?? drainReason(rule.reason, deadline)), {
      clearCreateFailures: action === 'activate',
      drainDeadline: deadline ?? null,
    });
    if (changed) return changed;
    // The status moved between the read and the guarded write (a heartbeat, another admin).
    const now = await this.hosts.get(id);
    if (!now) throw problems.notFound('host', id);
    if (now.status === rule.to) return deadline ? this.moveDrainDeadline(now, deadline, reason) : now;
    throw this.refusal(now, action);
  }

  private async moveDrainDeadline(host: HostEntity, deadline: DrainDeadline, reason?: string): Promise<HostEntity> {
    const moved = await this.hosts.setDrainDeadline(host.id, deadline, reason ?? drainReason(RULES.drain.reason, deadline));
    if (moved) return moved;
    const now = await this.hosts.get(host.id);
    if (!now) throw problems.notFound('host', host.id);
    throw this.refusal(now, 'drain');
  }

  /**
   * Moves every instance off the host: the host goes `draining` first (nothing new lands), then
   * one parent operation (kind `evacuate`, in the default project, no instance) with a queued
   * `migrate` child per running or stopped instance there (live where both hosts can, else
   * offline). Instances with an operation of their own under way, or in another state, are left
   * (counted in the parent's request as `skipped`). Admins only.
   */
  async evacuate(principal: Principal, id: string, idem: IdempotencyContext): Promise<Submitted> {
    const replayed = await this.submitter.replay(principal, idem);
    if (replayed) return replayed;
    const host = await this.hosts.get(id);
    if (!host) throw problems.notFound('host', id);
    if (host.status === 'enrolling') throw problems.conflict(`host ${host.name} is still enrolling; there is nothing to evacuate`, { status: host.status });
    if (host.status !== 'draining') await this.act(id, 'drain', 'evacuating: takes no new instances');
    try {
      return await this.submitter.submit(principal, idem, {
        projectId: DEFAULT_PROJECT_ID,
        instanceId: null,
        kind: 'evacuate',
        request: { hostId: id, hostName: host.name },
        // One evacuation of a host at a time (the drain deadline's watcher takes the same lock).
        before: async (em) => {
          await this.hosts.lockForEvacuation(em, id);
          const active = await this.operations.activeEvacuation(em, id);
          if (active) throw new AlreadyEvacuating(active);
        },
        after: async (em, parentId) => {
          const { moving, skipped } = await this.operations.insertEvacuationChildren(
            em,
            { id: parentId, hostId: id, hostName: host.name, requestedBy: principal.tokenId, requestId: currentRequestId() ?? null },
            MOVABLE,
          );
          await this.operations.patch(em, parentId, { request: { hostId: id, hostName: host.name, count: moving, skipped } });
        },
      });
    } catch (e) {
      // The host is being evacuated already: that evacuation is the answer.
      if (e instanceof AlreadyEvacuating) return { operation: e.operation, replayed: false };
      throw e;
    }
  }

  private refusal(host: HostEntity, action: HostAction): Error {
    const why =
      host.status === 'down'
        ? `host ${host.name} is down; it becomes ready by itself when its agent heartbeats again`
        : host.status === 'enrolling'
          ? `host ${host.name} is still enrolling; it becomes ready at its first heartbeat`
          : `host ${host.name} is ${host.status}; ${action} needs it to be ${RULES[action].from.join(' or ')}`;
    return problems.conflict(why, { status: host.status });
  }
}

class AlreadyEvacuating extends Error {
  constructor(readonly operation: OperationEntity) {
    super(`host evacuation ${operation.id} is under way`);
  }
}

/** A drain's default reason, with its deadline when it has one. */
function drainReason(reason: string | null, deadline: DrainDeadline | undefined): string | null {
  if (!deadline || !reason) return reason;
  const at = deadline instanceof Date ? deadline : new Date(Date.now() + deadline.inS * 1000);
  return `${reason}; what remains is evacuated at ${at.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}
