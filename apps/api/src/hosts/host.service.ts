import { Injectable } from '@nestjs/common';
import { HostStatus } from '@hyperplane/domain';
import { HostEntity, HostRepository } from '@hyperplane/db';
import { problems } from '../common/problem';

export const HOST_ACTIONS = ['drain', 'maintenance', 'activate'] as const;
export type HostAction = (typeof HOST_ACTIONS)[number];

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
  constructor(private readonly hosts: HostRepository) {}

  async act(id: string, action: HostAction, reason?: string): Promise<HostEntity> {
    const rule = RULES[action];
    const host = await this.hosts.get(id);
    if (!host) throw problems.notFound('host', id);
    if (host.status === rule.to) return host;
    if (!rule.from.includes(host.status)) throw this.refusal(host, action);
    // Activating a host also forgives its failed creates: the administrator says it is sound.
    const [changed] = await this.hosts.setStatus([id], rule.from, rule.to, rule.to === 'ready' ? null : (reason ?? rule.reason), {
      clearCreateFailures: action === 'activate',
    });
    if (changed) return changed;
    // The status moved between the read and the guarded write (a heartbeat, another admin).
    const now = await this.hosts.get(id);
    if (!now) throw problems.notFound('host', id);
    if (now.status === rule.to) return now;
    throw this.refusal(now, action);
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
