import { Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { Driver, DriverError, InstanceObservation } from '@hyperplane/drivers';
import { agentResultsQueueName, AgentSyncPayload, ConsoleReadPayload, HostCommandBatchPayload, HostCommandPayload, hostQueueName, JobName, JobQueue, MultiQueueConsumer, syncJobId } from '@hyperplane/queue';
import { CommandHandler } from './command.handler';
import { OperationAborts } from './operation-aborts';

export interface HostRuntimeOptions {
  hostId: string;
  /** The agent's id: its hosts' queues and its results queue are named after it. */
  agentId: string;
  key: string;
  drivers: Map<string, Driver>;
  queue: JobQueue;
  /** Shared by all the agent's hosts: a few Redis connections however many hosts there are. */
  consumer: MultiQueueConsumer;
  /** How many commands of a command batch run at once (as many as jobs run at once per host). */
  concurrency?: number;
  /** The agent's abort signals, shared by its hosts. */
  aborts?: OperationAborts;
  /**
   * HA: whether an instance lives on another host (or was deleted) according to the API; asked
   * before running a command that would start an instance this host learned had moved away.
   */
  livesElsewhere?: (hostId: string, instanceId: string) => Promise<boolean>;
  /** Periodic syncs that found nothing new send a report anyway every this many passes (default 10). */
  fullReportEvery?: number;
}

/** A driver's instances and states, the cheap way when it has one. */
async function observe(driver: Driver): Promise<InstanceObservation[]> {
  if (driver.observe) return driver.observe();
  return (await driver.list()).map((s) => ({
    id: s.id,
    state: s.state,
    ...(typeof s.details?.exitReason === 'string' ? { exitReason: s.details.exitReason } : {}),
  }));
}

/** Commands that would run an instance: never for one that now lives elsewhere. */
const STARTING = new Set(['create', 'start', 'restart', 'resume']);

/** One host as its agent runs it: its drivers, the worker on its own queue, and its reports. */
export class HostRuntime {
  private readonly log = new Logger('agent');
  private readonly handler: CommandHandler;
  private syncing?: Promise<boolean>;
  /** What the last report said, and the periodic passes since that found the same. */
  private lastReport?: string;
  private quietPasses = 0;
  /** HA instances here (fenced when the lease is lost): from create commands and from the API. */
  readonly haIds = new Set<string>();
  /** Instances that the API said live elsewhere or were deleted: never started here again. */
  private readonly movedAway = new Set<string>();
  /** HA instances stopped by the last fence, started again if they turn out to be still ours. */
  private fenced: string[] = [];
  /** While fenced: commands wait here until the agent renewed its lease and learned what moved. */
  private gate: { promise: Promise<void>; open: () => void } | null = null;
  /** The command running now per instance id (a migration's copy arriving is one), settled when it ends. */
  private readonly busy = new Map<string, Promise<void>>();
  /** Instances a command was taken for since the last orphan sweep. */
  private readonly touched = new Set<string>();
  /** Copies the last orphan sweep found living elsewhere: removed if the next one finds them so too. */
  private suspects = new Set<string>();

  constructor(readonly opts: HostRuntimeOptions) {
    this.handler = new CommandHandler(opts.hostId, opts.drivers, opts.queue, agentResultsQueueName(opts.agentId), { concurrency: opts.concurrency, ...(opts.aborts ? { aborts: opts.aborts } : {}) });
  }

  get hostId(): string {
    return this.opts.hostId;
  }

  /** Starts taking this host's commands (only from its own queue, `host-<agentId>-<hostId>`). */
  start(): void {
    this.opts.consumer.add(hostQueueName(this.opts.agentId, this.opts.hostId), async (job: Job) => {
      // A console read changes nothing: it is answered even while the host is fenced.
      if (job.name === (JobName.ConsoleRead as string)) return this.handler.readConsole(job.data as ConsoleReadPayload);
      if (this.gate) await this.gate.promise;
      if (job.name === (JobName.HostCommand as string)) {
        const cmd = job.data as HostCommandPayload;
        return this.working([cmd.instanceId], async () => {
          if (!(await this.admit(cmd))) return;
          return this.handler.handle(cmd, job as Job<HostCommandPayload>);
        });
      }
      if (job.name === (JobName.HostCommandBatch as string)) {
        const batch = job.data as HostCommandBatchPayload;
        return this.working(
          batch.commands.map((c) => c.instanceId),
          async () => {
            const admitted = await Promise.all(batch.commands.map((c) => this.admit(c)));
            const commands = batch.commands.filter((_, i) => admitted[i]);
            if (commands.length === 0) return;
            return this.handler.handleBatch({ ...batch, commands }, job as Job<HostCommandBatchPayload>);
          },
        );
      }
      throw new Error(`no handler for job ${job.name} on a host queue`);
    });
  }

  /**
   * Reports what really exists on the host, so the controller can correct drifted instances.
   * The report is always the full set (the controller takes a missing instance as gone). With
   * `onlyChanged` (the periodic sync) a pass that finds the same as the last report sends
   * nothing, except every `fullReportEvery`-th pass. Resolves true when it sent a report.
   */
  sync(opts: { onlyChanged?: boolean } = {}): Promise<boolean> {
    const onlyChanged = opts.onlyChanged ?? false;
    // One pass at a time: a periodic pass joins one in flight; a full one runs after it.
    if (this.syncing && onlyChanged) return this.syncing;
    const previous = this.syncing?.catch(() => false);
    const pass: Promise<boolean> = (async () => {
      await previous;
      return this.syncPass(onlyChanged);
    })().finally(() => {
      if (this.syncing === pass) this.syncing = undefined;
    });
    this.syncing = pass;
    return pass;
  }

  private async syncPass(onlyChanged: boolean): Promise<boolean> {
    // Taken before listing: instances that change while we list are left for the next report.
    const observedAt = new Date().toISOString();
    const observed: InstanceObservation[] = [];
    for (const driver of this.opts.drivers.values()) {
      try {
        observed.push(...(await observe(driver)));
      } catch (e) {
        // A driver that cannot list must not make its instances look missing: skip the report.
        this.log.warn(`${driver.name} list failed on ${this.opts.key}: ${String(e)}`);
        return false;
      }
    }
    const instances: AgentSyncPayload['instances'] = observed.map((o) => ({ id: o.id, state: o.state, ...(o.exitReason ? { details: { exitReason: o.exitReason } } : {}) }));
    const fingerprint = observed
      .map((o) => `${o.id}:${o.state}:${o.exitReason ?? ''}`)
      .sort()
      .join('\n');
    if (onlyChanged && fingerprint === this.lastReport && ++this.quietPasses < (this.opts.fullReportEvery ?? 10)) return false;
    await this.opts.queue.enqueue({
      queue: agentResultsQueueName(this.opts.agentId),
      name: JobName.AgentSync,
      jobId: syncJobId(this.opts.hostId, Date.now()),
      data: { hostId: this.opts.hostId, observedAt, instances },
    });
    this.lastReport = fingerprint;
    this.quietPasses = 0;
    return true;
  }

  /** Remembers HA creates; refuses (drops) a command that would run an instance that lives elsewhere now. */
  private async admit(cmd: HostCommandPayload): Promise<boolean> {
    if (this.movedAway.has(cmd.instanceId) && STARTING.has(cmd.command)) {
      // A command sent before the instance was recovered elsewhere (stale), or one placing it
      // here again since: the API tells which.
      if (!this.opts.livesElsewhere || (await this.opts.livesElsewhere(this.opts.hostId, cmd.instanceId))) {
        this.log.warn(`${cmd.command} of ${cmd.instanceId} on ${this.opts.key} dropped: the instance lives elsewhere now`);
        return false;
      }
      this.movedAway.delete(cmd.instanceId);
    }
    if (cmd.command === 'create' && cmd.ha) this.haIds.add(cmd.instanceId);
    return true;
  }

  /**
   * Runs a command's work with its instances marked busy (and touched, for the orphan sweep),
   * one command at a time per instance, as each real driver's own lock does: a command that
   * runs late (a job run again after its agent died) waits for the one running rather than
   * acting beside it, and then finds what that one left (a destroyed instance: NotFound). A
   * command takes all its instances at once, when none is busy, so two batches cannot deadlock.
   */
  private async working<T>(ids: string[], work: () => Promise<T>): Promise<T> {
    const mine = [...new Set(ids)];
    for (let running = this.runningFor(mine); running.length > 0; running = this.runningFor(mine)) await Promise.all(running);
    let release = (): void => undefined;
    const done = new Promise<void>((r) => (release = r));
    for (const id of mine) {
      this.busy.set(id, done);
      this.touched.add(id);
    }
    try {
      return await work();
    } finally {
      for (const id of mine) if (this.busy.get(id) === done) this.busy.delete(id);
      release();
    }
  }

  private runningFor(ids: string[]): Promise<void>[] {
    const running: Promise<void>[] = [];
    for (const id of ids) {
      const p = this.busy.get(id);
      if (p) running.push(p);
    }
    return running;
  }

  /**
   * The instances here that no command is working on now: what an orphan sweep may ask about.
   * Throws when a driver cannot list.
   */
  async idleHoldings(): Promise<string[]> {
    return (await this.holdings()).filter((id) => !this.busy.has(id));
  }

  /**
   * One orphan sweep, with what the API says lives elsewhere now (or was deleted) among
   * idleHoldings(): copies that the previous sweep found so too, with no command for them since,
   * are removed without being started, with this host's commands waiting meanwhile (so that no
   * command placing the instance here again runs between the check and the removal). The rest
   * are remembered for the next sweep. `mayOpen` says whether the commands may go on afterwards
   * (not while the agent is fenced). Answers what it removed.
   */
  async sweep(foreign: readonly string[], mayOpen: () => boolean): Promise<string[]> {
    const confirmed = foreign.filter((id) => this.suspects.has(id) && !this.touched.has(id));
    this.suspects = new Set(foreign.filter((id) => !confirmed.includes(id)));
    this.touched.clear();
    if (confirmed.length === 0) return [];
    const held = !this.gate;
    if (held) this.hold();
    try {
      // A command taken just before the hold is still running: its instance is left alone.
      const removable = confirmed.filter((id) => !this.busy.has(id));
      const removed: string[] = [];
      for (const id of removable) {
        this.movedAway.add(id);
        this.haIds.delete(id);
        if (await this.remove(id, 'it lives on another host now or was deleted')) removed.push(id);
      }
      return removed;
    } finally {
      if (held && mayOpen()) this.open();
    }
  }

  /** Commands wait (the lease is lost) until open() is called. */
  hold(): void {
    if (this.gate) return;
    let open = (): void => undefined;
    const promise = new Promise<void>((r) => (open = r));
    this.gate = { promise, open };
  }

  open(): void {
    const gate = this.gate;
    this.gate = null;
    gate?.open();
  }

  /** The instance ids on this host now (by every driver); throws when a driver cannot list. */
  async holdings(): Promise<string[]> {
    const ids: string[] = [];
    for (const driver of this.opts.drivers.values()) ids.push(...(await observe(driver)).map((o) => o.id));
    return ids;
  }

  /**
   * The fence: every HA instance here is stopped at once (force), whatever else happens;
   * answers those that were there. An instance a driver does not have is skipped.
   */
  async fence(): Promise<string[]> {
    const stopped: string[] = [];
    for (const id of this.haIds) {
      for (const driver of this.opts.drivers.values()) {
        try {
          await driver.stop(id, { force: true });
          stopped.push(id);
          break;
        } catch (e) {
          if (e instanceof DriverError && e.code === 'NotFound') continue;
          this.log.error(`fence: could not stop ${id} on ${this.opts.key} with ${driver.name}: ${String(e)}`);
        }
      }
    }
    this.fenced = [...new Set([...this.fenced, ...stopped])];
    return stopped;
  }

  /**
   * After the lease is renewed: what the API said. Copies of instances that live elsewhere now
   * (or were deleted) are destroyed without being started; HA instances the fence stopped that
   * are still ours are started again. Answers what it destroyed and restarted.
   */
  async learn(foreign: readonly string[], ha: readonly string[]): Promise<{ destroyed: string[]; restarted: string[] }> {
    const destroyed: string[] = [];
    for (const id of foreign) {
      this.movedAway.add(id);
      this.haIds.delete(id);
      if (await this.remove(id, 'it lives elsewhere now')) destroyed.push(id);
    }
    for (const id of ha) this.haIds.add(id);
    const restarted: string[] = [];
    const foreignSet = new Set(foreign);
    for (const id of this.fenced.filter((x) => !foreignSet.has(x))) {
      for (const driver of this.opts.drivers.values()) {
        try {
          await driver.start(id);
          restarted.push(id);
          break;
        } catch (e) {
          if (e instanceof DriverError && e.code === 'NotFound') continue;
          this.log.error(`could not start ${id} again after the fence on ${this.opts.key}: ${String(e)}`);
        }
      }
    }
    this.fenced = [];
    return { destroyed, restarted };
  }

  /** Destroys a copy without starting it (forced stop first), with whichever driver has it. True when one did. */
  private async remove(id: string, why: string): Promise<boolean> {
    for (const driver of this.opts.drivers.values()) {
      try {
        await driver.stop(id, { force: true }).catch((e: unknown) => {
          if (!(e instanceof DriverError && e.code === 'NotFound')) throw e;
        });
        await driver.destroy(id);
        return true;
      } catch (e) {
        if (!(e instanceof DriverError && e.code === 'NotFound')) this.log.error(`could not remove ${id} (${why}) on ${this.opts.key}: ${String(e)}`);
      }
    }
    return false;
  }

  async stop(): Promise<void> {
    this.open();
    await this.opts.consumer.remove(hostQueueName(this.opts.agentId, this.opts.hostId));
  }
}
