import { Injectable, Logger } from '@nestjs/common';
import { Capability, MigrationMode, Resources } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, isClaimRefused, OperationEntity, OperationError, OperationRepository, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { HostAgents } from '../../hosts/host-agents';
import { PlacementService } from '../../placement/placement.service';
import { instanceSpec } from '../host-command';
import { HostCommandSender } from '../host-command.sender';
import { hostError, OperationOutcomes } from '../operation-outcomes';
import { InstanceOperationHandler } from './instance-operation.handler';

type Phase = 'prepare' | 'send' | 'finish' | 'cleanup' | 'abort-destination' | 'abort-source';

/**
 * What the migration decided, kept in the operation's request (not shown by the API). The
 * target the destination returns (a credential) is never kept here: it goes straight into the
 * source's migrate-send command (the operation's private jobData).
 */
interface MigrationPlan {
  phase: Phase;
  mode: MigrationMode;
  /** The state the instance had before (and gets back after an abort). */
  from: 'running' | 'stopped';
  sourceHostId: string;
  /** The hosts' names when it was placed (the API shows them: fromHostName, toHostName). */
  sourceName?: string;
  destinationHostId: string;
  destinationName: string;
  /** What the instance claims on each host (the source's is released after cleanup). */
  sourceClaim: Resources;
  destinationClaim: Resources;
  /** Why an abort runs: the failure (or cancel/timeout) the operation ends with. */
  error?: OperationError;
  /** The operation ends cancelled (not failed) once the aborts are done. */
  endAs?: 'cancelled' | 'failed';
  /** Whether the destination's abort failed (its copy may remain; the claim is released anyway). */
  destinationAbortFailed?: boolean;
  /** Which sending of migrate-cleanup runs (absent: the first). */
  cleanupAttempt?: number;
  stats?: Record<string, unknown>;
}

/**
 * Sendings of migrate-cleanup at most, while it fails transiently (each sending is itself tried
 * by the agent with backoff; the later ones wait longer: hostCommandDelayMs).
 */
export const MIGRATE_CLEANUP_ATTEMPTS = 3;

/** Progress shown per phase. */
const PROGRESS: Record<Phase, number> = { prepare: 10, send: 30, finish: 80, cleanup: 90, 'abort-destination': 85, 'abort-source': 95 };

/**
 * Moves an instance to another host (issue 14 §4): destination `migrate-prepare` → source
 * `migrate-send` → destination `migrate-finish` (the commit point: the instance's hostId changes)
 * → source `migrate-cleanup` (the source's claim is released). Capacity is claimed on the
 * destination in the transaction that sends the first command. A failure (or a cancel or
 * timeout) before the commit aborts the destination first, then the source, and releases the
 * destination's claim: the instance runs on its source, as before. After the commit a cancel
 * changes nothing: the cleanup completes.
 */
@Injectable()
export class MigrateHandler extends InstanceOperationHandler {
  readonly kind = 'migrate' as const;
  private readonly log = new Logger('operations');

  constructor(
    outcomes: OperationOutcomes,
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly placement: PlacementService,
    private readonly commands: HostCommandSender,
    private readonly hostAgents: HostAgents,
  ) {
    super(outcomes);
  }

  protected async plan(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    if (op.status === 'running' && this.commands.sentToHost(op)) {
      // Run again after its command was recorded: send the same job again (a no-op if it exists).
      await this.commands.resendAlone(op);
      return;
    }
    if (instance.state !== 'running' && instance.state !== 'stopped') {
      return this.outcomes.fail(op, { code: 'conflict', message: `migrate needs the instance to be running or stopped; it is ${instance.state}` });
    }
    const template = await this.placement.template(instance.template);
    if (!template || !instance.hostId || !instance.technology) {
      return this.outcomes.fail(op, { code: 'not-found', message: `the instance's template ${instance.template} no longer exists or it has no host` });
    }
    const asked = op.request as { hostId?: string; live?: boolean };
    const source = await this.hosts.get(instance.hostId);
    const sourceCaps = source?.drivers.find((d) => d.name === instance.driver)?.offers.find((o) => o.technology === instance.technology)?.capabilities ?? [];
    const modes: MigrationMode[] = asked.live === true ? ['live'] : asked.live === false ? ['offline'] : sourceCaps.includes('liveMigrate') ? ['live', 'offline'] : ['offline'];
    const base = await this.placement.requestFor(instance, template);
    const policy = await this.placement.policyFor(instance.projectId);
    let lastReason = 'no host can take it';
    for (const mode of modes) {
      const capability: Capability = mode === 'live' ? 'liveMigrate' : 'offlineMigrate';
      if (!sourceCaps.includes(capability)) {
        lastReason = `the ${instance.driver} driver on host ${source?.name ?? instance.hostId} cannot ${mode}-migrate a ${instance.technology}`;
        continue;
      }
      const { hostId: _pinned, ...rest } = base;
      void _pinned;
      const request = {
        ...rest,
        technology: instance.technology,
        arch: instance.arch ?? undefined,
        capabilities: [...new Set([...(rest.capabilities ?? []), capability])],
        excludeHosts: [instance.hostId],
        ...(asked.hostId ? { hostId: asked.hostId } : {}),
      };
      const decision = await this.placement.decide(request, policy);
      if (!decision.ok) {
        lastReason = decision.reason;
        await this.db.transaction((em) => this.operations.patch(em, op.id, { result: { explanation: decision.explanation } }));
        continue;
      }
      if (decision.driver !== instance.driver) {
        this.placement.settle([decision]);
        await this.placement.refreshHost(decision.hostId);
        lastReason = `host ${decision.hostName} would run it with ${decision.driver}, not ${instance.driver}`;
        continue;
      }
      const plan: MigrationPlan = {
        phase: 'prepare',
        mode,
        from: instance.state,
        sourceHostId: instance.hostId,
        ...(source ? { sourceName: source.name } : {}),
        destinationHostId: decision.hostId,
        destinationName: decision.hostName,
        sourceClaim: this.instances.claimOf(instance),
        destinationClaim: decision.claim,
      };
      try {
        await this.hostAgents.agentOf(decision.hostId);
        const outcome = await this.db.transaction(async (em) => {
          if (decision.groupId) await this.placement.lockGroup(em, decision.groupId);
          // The runner moved it to running (beginsItself is false); ended meanwhile (cancelled): nothing to do.
          const current = await this.operations.getLocked(em, op.id);
          if (current?.status !== 'running') return 'cancelled' as const;
          const fields = { request: { ...op.request, migration: plan }, result: { explanation: decision.explanation } };
          await this.operations.patch(em, op.id, fields);
          const begun = { ...current, ...fields } as OperationEntity;
          const moved = await this.instances.transition(em, instance.id, [plan.from], 'migrating', { stateReason: null });
          if (!moved) throw new Lost('the instance changed state meanwhile');
          if (!(await this.placement.claim(em, decision, policy, instance.id))) throw new Lost('the claim was lost');
          await this.sendTo(em, begun, moved, plan.destinationHostId, 'migrate-prepare', { spec: instanceSpec(moved, template), migration: { mode } }, plan);
          return 'sent' as const;
        });
        this.placement.settle([decision]);
        if (outcome === 'sent') this.log.log(`instance ${instance.name} migrating (${mode}) to ${decision.hostName}`);
        return;
      } catch (error) {
        this.placement.settle([decision]);
        await this.placement.refreshHost(decision.hostId);
        if (!(error instanceof Lost) && !isClaimRefused(error)) throw error;
        lastReason = error instanceof Lost ? error.message : 'the claim was lost';
      }
    }
    await this.db.transaction(async (em) => {
      await this.operations.transition(em, op.id, ['queued', 'running'], 'failed', { step: 'unschedulable', error: { code: 'unschedulable', message: lastReason } });
    });
    this.log.warn(`operation ${op.id} (migrate of ${instance.name}) unschedulable: ${lastReason}`);
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const plan = planOf(op);
    switch (plan.phase) {
      case 'prepare': {
        const target = r.migration?.target;
        if (!target) return this.startAbort(em, op, instance, plan, { code: 'Fatal', message: 'migrate-prepare returned no target' });
        return this.sendTo(em, op, instance, plan.sourceHostId, 'migrate-send', { migration: { target } }, { ...plan, phase: 'send' });
      }
      case 'send': {
        const stats = r.migration?.stats ? { ...r.migration.stats } : undefined;
        return this.sendTo(em, op, instance, plan.destinationHostId, 'migrate-finish', {}, { ...plan, phase: 'finish', ...(stats ? { stats } : {}) });
      }
      case 'finish': {
        // The commit point: the instance is the destination's now, claiming there.
        const state = r.state === 'running' || r.state === 'stopped' ? r.state : plan.from;
        const moved = await this.instances.transition(em, instance.id, ['migrating'], state, {
          hostId: plan.destinationHostId,
          claimVcpus: plan.destinationClaim.vcpus,
          claimMemoryMib: plan.destinationClaim.memoryMiB,
          claimDiskGib: plan.destinationClaim.diskGiB,
          stateReason: null,
        });
        if (!moved) throw new Error(`instance ${instance.id} left migrating during its migration`);
        return this.sendTo(em, op, moved, plan.sourceHostId, 'migrate-cleanup', {}, { ...plan, phase: 'cleanup' });
      }
      case 'cleanup':
        await this.hosts.release(em, plan.sourceHostId, plan.sourceClaim);
        await this.done(em, op, instance, plan);
        return;
      case 'abort-destination':
        return this.abortSource(em, op, instance, plan);
      case 'abort-source':
        return this.endAborted(em, op, instance, plan, true);
    }
  }

  async onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const plan = planOf(op);
    const error = hostError(r);
    switch (plan.phase) {
      case 'prepare':
      case 'send':
      case 'finish':
        return this.startAbort(em, op, instance, plan, { code: error.code, message: `${r.command} failed: ${error.message}` });
      case 'cleanup': {
        // Committed: the instance runs on the destination. A transient failure sends the
        // cleanup again (a new attempt: a new job and result), a few times, later each time.
        const attempt = plan.cleanupAttempt ?? 1;
        if (error.code === 'Transient' && attempt < MIGRATE_CLEANUP_ATTEMPTS) {
          this.log.warn(`operation ${op.id}: migrate-cleanup failed on host ${plan.sourceHostId} (${error.message}); sending it again (attempt ${attempt + 1} of ${MIGRATE_CLEANUP_ATTEMPTS})`);
          return this.sendTo(em, op, instance, plan.sourceHostId, 'migrate-cleanup', { attempt: attempt + 1 }, { ...plan, cleanupAttempt: attempt + 1 });
        }
        // Given up: a stopped copy may remain on the source; its claim is released anyway (the
        // copy no longer runs) and the operation says so.
        await this.hosts.release(em, plan.sourceHostId, plan.sourceClaim);
        this.log.warn(`operation ${op.id}: migrate-cleanup failed on host ${plan.sourceHostId} after ${attempt} attempt(s): ${error.message}; its copy may remain there`);
        await this.done(em, op, instance, { ...plan, stats: { ...plan.stats, cleanupFailed: error.message, cleanupAttempts: attempt } });
        return;
      }
      case 'abort-destination':
        return this.abortSource(em, op, instance, { ...plan, destinationAbortFailed: true });
      case 'abort-source':
        return this.endAborted(em, op, instance, plan, false, error.message);
    }
  }

  override async onCancel(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.interrupt(em, op, instance, 'cancelled', { code: 'cancelled', message: 'the migration was cancelled' });
  }

  override async onTimeout(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.interrupt(em, op, instance, 'failed', { code: 'timeout', message: 'the migration did not finish in time' });
  }

  /**
   * Before the commit: the aborts run (the operation stays running until they are done, then
   * ends `endAs`). After it (cleanup) or while aborting already: nothing changes, the operation
   * ends when its current command reports. Not yet sent: it just ends.
   */
  private async interrupt(em: Tx, op: OperationEntity, instance: InstanceEntity | null, endAs: 'cancelled' | 'failed', error: OperationError): Promise<void> {
    const plan = (op.request as { migration?: MigrationPlan }).migration;
    if (op.status === 'queued' || !plan || !instance) {
      await this.outcomes.endedFromOutside(em, op, instance, endAs, error);
      return;
    }
    if (plan.phase === 'prepare' || plan.phase === 'send' || plan.phase === 'finish') {
      await this.startAbort(em, op, instance, { ...plan, endAs }, error);
    }
  }

  private async startAbort(em: Tx, op: OperationEntity, instance: InstanceEntity, plan: MigrationPlan, error: OperationError): Promise<void> {
    this.log.warn(`operation ${op.id}: migration of ${instance.name} aborted at ${plan.phase}: ${error.message}`);
    await this.sendTo(em, op, instance, plan.destinationHostId, 'migrate-abort', { migration: { side: 'destination' } }, { ...plan, phase: 'abort-destination', error });
  }

  private async abortSource(em: Tx, op: OperationEntity, instance: InstanceEntity, plan: MigrationPlan): Promise<void> {
    // The destination's copy is gone (or its abort failed): its claim goes either way.
    await this.hosts.release(em, plan.destinationHostId, plan.destinationClaim);
    await this.sendTo(em, op, instance, plan.sourceHostId, 'migrate-abort', { migration: { side: 'source' } }, { ...plan, phase: 'abort-source' });
  }

  private async endAborted(em: Tx, op: OperationEntity, instance: InstanceEntity, plan: MigrationPlan, ok: boolean, sourceError?: string): Promise<void> {
    const error = plan.error ?? { code: 'Fatal', message: 'the migration was aborted' };
    const reason = ok ? null : `the source's migrate-abort failed: ${sourceError ?? 'unknown'}`;
    await this.instances.transition(em, instance.id, ['migrating'], ok ? plan.from : 'error', { stateReason: reason ?? error.message, desiredState: plan.from });
    await this.operations.transition(em, op.id, ['running'], plan.endAs ?? 'failed', {
      step: plan.endAs === 'cancelled' ? 'cancelled' : 'failed',
      error: { code: error.code, message: reason ? `${error.message}; ${reason}` : error.message },
      request: { ...op.request, migration: plan },
    });
  }

  private async done(em: Tx, op: OperationEntity, instance: InstanceEntity, plan: MigrationPlan): Promise<void> {
    await this.operations.patch(em, op.id, { request: { ...op.request, migration: { ...plan, phase: 'cleanup' } } });
    await this.outcomes.succeeded(em, op, instance, {
      ...(op.result ?? {}),
      from: plan.sourceHostId,
      to: plan.destinationHostId,
      mode: plan.mode,
      ...(plan.stats ? { stats: plan.stats } : {}),
    });
  }

  /** Sends `command` to `hostId` (the source or the destination) for the instance, recording the phase. */
  private async sendTo(em: Tx, op: OperationEntity, instance: InstanceEntity, hostId: string, command: 'migrate-prepare' | 'migrate-send' | 'migrate-finish' | 'migrate-cleanup' | 'migrate-abort', extra: Record<string, unknown>, plan: MigrationPlan): Promise<void> {
    const attempt = typeof extra.attempt === 'number' && extra.attempt > 1 ? `, attempt ${extra.attempt}` : '';
    const step = `${command}${command === 'migrate-abort' ? ` (${hostId === plan.destinationHostId ? 'destination' : 'source'})` : ''} on ${hostId === plan.destinationHostId ? plan.destinationName : 'the source'}${attempt}`;
    await this.commands.send(op, { ...instance, hostId }, command, extra, { em, step });
    await this.operations.patch(em, op.id, { progress: PROGRESS[plan.phase], request: { ...op.request, migration: plan } });
  }
}

class Lost extends Error {}

function planOf(op: OperationEntity): MigrationPlan {
  const plan = (op.request as { migration?: MigrationPlan }).migration;
  if (!plan) throw new Error(`migrate operation ${op.id} has no plan`);
  return plan;
}
