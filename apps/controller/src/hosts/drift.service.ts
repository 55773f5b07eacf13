import { Injectable, Logger } from '@nestjs/common';
import { Database, InstanceRepository, OperationRepository } from '@hyperplane/db';
import { AgentSyncPayload } from '@hyperplane/queue';

// unknown: its host was down (apps/controller/src/ha); the host's report says what it is.
const OBSERVABLE = ['running', 'stopped', 'suspended', 'unknown'] as const;

/**
 * Applies what an agent found on its host to instances that no operation is changing: a VM
 * whose process died goes `stopped`, an instance that vanished goes `error`. A report is always
 * a host's full set; agents send one when something changed there, and every tenth quiet pass
 * (5 min at the default 30 s) so that what a report could not correct is corrected later.
 */
@Injectable()
export class DriftService {
  private readonly log = new Logger('drift');

  constructor(
    private readonly db: Database,
    private readonly instances: InstanceRepository,
    private readonly operations: OperationRepository,
  ) {}

  async apply(sync: AgentSyncPayload): Promise<number> {
    const observedAt = new Date(sync.observedAt);
    const seen = new Map(sync.instances.map((i) => [i.id, i]));
    // Only settled instances, unchanged since the agent looked, whose state differs from the
    // report: the database finds them (usually none), rather than every instance of the host
    // being read on every report (10,000 hosts of 100 instances reporting every 30 s).
    const differing = await this.instances.differingFrom(sync.hostId, OBSERVABLE, observedAt, sync.instances);
    let changed = 0;
    for (const instance of differing) {
      const actual = seen.get(instance.id);
      if (await this.operations.activeForInstance(instance.id)) continue;
      const reason = actual
        ? `found ${actual.state} on its host${typeof actual.details?.exitReason === 'string' ? `: ${actual.details.exitReason}` : ''}`
        : 'missing on its host';
      const done = await this.db.transaction((em) =>
        this.instances.transition(em, instance.id, [instance.state], actual ? actual.state : 'error', { stateReason: reason }),
      );
      if (done) {
        changed++;
        this.log.warn(`instance ${instance.name} (${instance.id}) ${reason}`);
      }
    }
    return changed;
  }
}
