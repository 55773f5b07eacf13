import { Injectable } from '@nestjs/common';
import { HostRepository } from '@hyperplane/db';
import { hostQueueName } from '@hyperplane/queue';

/**
 * Which agent each host belongs to: host queues are named after the agent (one Redis ACL
 * pattern per agent), and a result is accepted only from the agent of its host. A host never
 * changes agent (enrolling again makes new hosts), so what is learnt is kept.
 */
@Injectable()
export class HostAgents {
  private readonly known = new Map<string, string>();

  constructor(private readonly hosts: HostRepository) {}

  /** Host id → agent id, for the hosts that exist. */
  async of(hostIds: string[]): Promise<Map<string, string>> {
    const missing = [...new Set(hostIds.filter((id) => !this.known.has(id)))];
    if (missing.length > 0) for (const [host, agent] of await this.hosts.agentIdsOf(missing)) this.known.set(host, agent);
    const out = new Map<string, string>();
    for (const id of hostIds) {
      const agent = this.known.get(id);
      if (agent) out.set(id, agent);
    }
    return out;
  }

  /** The agent of one host; throws for a host that does not exist (removed meanwhile). */
  async agentOf(hostId: string): Promise<string> {
    const agent = (await this.of([hostId])).get(hostId);
    if (!agent) throw new Error(`host ${hostId} no longer exists`);
    return agent;
  }

  /** The queue of a host (built in one place: hostQueueName). */
  async queueOf(hostId: string): Promise<string> {
    return hostQueueName(await this.agentOf(hostId), hostId);
  }
}
