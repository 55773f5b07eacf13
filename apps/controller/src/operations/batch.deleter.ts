import { Injectable, Logger } from '@nestjs/common';
import { DELETABLE_STATES } from '@hyperplane/domain';
import { Database, HostRepository, InstanceRepository, OperationEntity, OperationRepository, OutboxRepository } from '@hyperplane/db';
import { HostCommandPayload } from '@hyperplane/queue';
import { HostAgents } from '../hosts/host-agents';
import { eachChunk, runAlone } from './batch-children';
import { hostCommandPayload } from './host-command';
import { HostCommandSender } from './host-command.sender';

const CHUNK = 4000;

/**
 * Sends a batch delete's children to their hosts in bulk: per chunk (children taken in the order
 * of their hosts) one transaction that moves the instances to `deleting` and sends the destroys
 * as command batches (one job per host, not one per child). A batch's instances spread over
 * many more hosts than it has instances on each (ids picked at random across a fleet) still
 * make a job per host: about one command each. Their results settle in bulk too (ResultApplier.applyMany: instances deleted,
 * each host's claims released in one sum). A child whose instance is on no host, or (force) on
 * a host that is down, takes the single path (DeleteHandler), which knows those cases. Safe to
 * run again after a crash: it only takes children still queued without a job.
 */
@Injectable()
export class BatchDeleter {
  private readonly log = new Logger('batch');

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly outbox: OutboxRepository,
    private readonly commands: HostCommandSender,
    private readonly hostAgents: HostAgents,
  ) {}

  async run(parent: OperationEntity): Promise<void> {
    const force = parent.request.force === true;
    const started = Date.now();
    const total = await eachChunk(
      parent.id,
      () => this.operations.queuedChildrenByHost(parent.id, CHUNK),
      (children) => this.deleteChunk(children, force),
    );
    this.log.log(`batch delete ${parent.id}: ${total} children handled in ${Date.now() - started} ms`);
  }

  /** One chunk in one transaction. Returns how many children left `queued` without a job. */
  private async deleteChunk(children: Pick<OperationEntity, 'id' | 'instanceId'>[], force: boolean): Promise<number> {
    const instances = new Map((await this.instances.brief(children.map((c) => c.instanceId!))).map((i) => [i.id, i]));
    const hostIds = [...new Set([...instances.values()].map((i) => i.hostId).filter((h): h is string => h !== null))];
    // Read outside the transaction, as BatchPlacer does: the hosts' agents and (force) their status.
    const agents = await this.hostAgents.of(hostIds);
    const down = force ? new Set((await this.hosts.byIds(hostIds)).filter((h) => h.status === 'down').map((h) => h.id)) : new Set<string>();
    const alone: typeof children = [];
    const bulk: typeof children = [];
    for (const c of children) {
      const hostId = instances.get(c.instanceId!)?.hostId ?? null;
      if (hostId === null || !agents.has(hostId) || down.has(hostId)) alone.push(c);
      else bulk.push(c);
    }
    return this.db.transaction(async (em) => {
      // Operations first, then instances: the order every single path locks them in.
      const queued = await this.operations.lockQueued(em, bulk.map((c) => c.id));
      const mine = bulk.filter((c) => queued.has(c.id));
      const deleting = new Map(
        (await this.instances.transitionMany(em, mine.map((c) => c.instanceId!), DELETABLE_STATES, 'deleting')).map((i) => [i.id, i]),
      );
      const refused = mine.filter((c) => !deleting.has(c.instanceId!));
      const failed = await this.operations.finishMany(em, refused.map((c) => c.id), ['queued'], 'failed', {
        step: 'failed',
        error: { code: 'invalid-state', message: 'the instance could no longer be deleted (its state changed after the batch was accepted)' },
      });
      const commands: { operationId: string; step: string; payload: HostCommandPayload }[] = [];
      for (const c of mine) {
        const instance = deleting.get(c.instanceId!);
        if (!instance) continue;
        commands.push({ operationId: c.id, step: 'destroy', payload: hostCommandPayload(c.id, instance, 'destroy', force ? { stop: { force: true } } : {}) });
      }
      const sent = await this.commands.sendBatches(em, commands);
      await runAlone(em, this.outbox, this.operations, alone);
      return failed.length + sent + alone.length;
    });
  }
}
