import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { HostInventory } from '@hyperplane/domain';
import { Database, HostEntity, HostRepository, TokenRepository } from '@hyperplane/db';
import { hostQueueName } from '@hyperplane/queue';
import { problems } from '../common/problem';
import { hashSecret, newSecret } from '../auth/secrets';

export interface EnrolledHost {
  id: string;
  name: string;
  /** The only queue this host's agent consumes. */
  queue: string;
}

export interface Enrollment {
  /** The agent's credential for later calls (shown once). */
  credential: string;
  hosts: EnrolledHost[];
}

@Injectable()
export class AgentService {
  constructor(
    private readonly db: Database,
    private readonly tokens: TokenRepository,
    private readonly hosts: HostRepository,
  ) {}

  /** Whether an enrollment token could enroll a host now (its host limit is checked at enrollment). */
  async enrollmentTokenUsable(secret: string): Promise<boolean> {
    const token = await this.tokens.findEnrollmentToken(hashSecret(secret));
    return !!token && !token.revokedAt && (!token.expiresAt || token.expiresAt.getTime() > Date.now());
  }

  /** A host enrolled with this agent credential, or null: the credential is unknown or revoked. */
  agentForCredential(secret: string): Promise<HostEntity | null> {
    return this.hosts.findByCredentialHash(hashSecret(secret));
  }

  /** Joins hosts to the fleet with an enrollment token; they become ready on their first heartbeat. */
  async enroll(secret: string, inventories: HostInventory[]): Promise<Enrollment> {
    const token = await this.tokens.findEnrollmentToken(hashSecret(secret));
    if (!token) throw problems.unauthorized('unknown enrollment token');
    const credential = newSecret('agent');
    const hosts = await this.addHosts(token.id, hashSecret(credential), inventories);
    return { credential, hosts };
  }

  /**
   * More hosts for an agent that enrolled already (an agent sends its hosts in pages), counted
   * against the enrollment token that enrolled it.
   */
  async enrollMore(credential: string, inventories: HostInventory[]): Promise<EnrolledHost[]> {
    const known = await this.agentForCredential(credential);
    if (!known) throw problems.unauthorized('the agent credential is unknown or revoked');
    if (!known.enrollmentTokenId) throw problems.forbidden('this agent was not enrolled with an enrollment token that can take more hosts');
    return this.addHosts(known.enrollmentTokenId, known.credentialHash, inventories);
  }

  private async addHosts(tokenId: string, credentialHash: string, inventories: HostInventory[]): Promise<EnrolledHost[]> {
    const enrolled = inventories.map((inv) => ({ id: randomUUID(), name: inv.hostname }));
    await this.db.transaction(async (em) => {
      if (!(await this.tokens.useEnrollmentToken(em, tokenId, inventories.length))) {
        throw problems.forbidden('the enrollment token is revoked, expired, or has no hosts left');
      }
      await this.hosts.insertMany(
        inventories.map((inventory, i) => ({ id: enrolled[i]!.id, name: inventory.hostname, inventory, credentialHash, enrollmentTokenId: tokenId })),
        em,
      );
    });
    return enrolled.map((h) => ({ ...h, queue: hostQueueName(h.id) }));
  }

  /** Replaces the inventory of hosts that this agent credential enrolled. */
  async report(credential: string, reports: { hostId: string; inventory: HostInventory }[]): Promise<void> {
    const hash = hashSecret(credential);
    const owned = await this.hosts.byIds(reports.map((r) => r.hostId));
    const mine = new Set(owned.filter((h) => h.credentialHash === hash).map((h) => h.id));
    const foreign = reports.find((r) => !mine.has(r.hostId));
    if (foreign) throw problems.unauthorized(`the credential does not belong to host ${foreign.hostId}`);
    for (const r of reports) await this.hosts.updateInventory(r.hostId, r.inventory);
  }
}
