import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HostInventory, MAX_HOSTS_PER_AGENT_REQUEST, OsFamily } from '@hyperplane/domain';
import { Driver, REAL_DRIVER_FACTORIES, SimDriver, SimFaults } from '@hyperplane/drivers';
import { addScrapeSource, HealthServer, queueJobs, ReadinessChecks, startHealthServer } from '@hyperplane/observability';
import { AbortListener, agentHostQueuePrefix, endRedis, HeartbeatStore, hostQueueName, JobQueue, LeaseStore, MultiQueueConsumer, observeJob, RedisSettings } from '@hyperplane/queue';
import { AgentApiClient, ApiError } from './enrollment/api.client';
import { AgentState, readAgentState, writeAgentState } from './enrollment/agent-state';
import { HostRuntime } from './host/host.runtime';
import { OperationAborts } from './host/operation-aborts';
import { probeDrivers } from './inventory/driver-probes';
import { hostOs, readLocalInventory, readOsFacts } from './inventory/local-inventory';
import { SimHostSpec, simInventory } from './sim/sim-fleet';

export const AGENT_VERSION = '0.1.0';
const LOCAL_KEY = 'local';

export interface AgentOptions {
  apiUrl: string;
  enrollmentToken?: string;
  /** The agent's own directory: its state file and its drivers' state. */
  dataDir: string;
  /** Where Redis is (`redis://` or `rediss://`); the agent's own user comes from its enrollment. */
  redis: RedisSettings;
  /** PEM certificates to trust for an https:// API (a private CA). */
  tlsCa?: string;
  /** Run this machine's real drivers as a host. */
  local: boolean;
  simHosts: SimHostSpec[];
  /** Simulated hosts: `persist: false` keeps their state in memory only (benchmarks: a real host's state is written on its own disk). */
  sim: { timeScale: number; faults?: SimFaults; seed: number; persist?: boolean; journal?: string };
  heartbeatIntervalMs: number;
  /**
   * HA fencing: the lease renewed with every heartbeat, and how long before it would expire
   * the agent fences its HA instances (see apps/controller/src/ha/README.md).
   */
  ha?: { leaseMs: number; safetyMs: number };
  syncIntervalMs: number;
  /** How often copies of instances that live elsewhere now (or were deleted) are looked for (default 10 sync intervals). */
  orphanSweepMs?: number;
  lockDuration: number;
  /** Commands run at once per host (default 8). */
  concurrency?: number;
  /** Where to serve /healthz, /readyz and /metrics (none when absent or port 0). */
  listen?: { port: number; bind: string };
  /**
   * Tests only (no setting reads it): the OS this machine's drivers are built for and the
   * local inventory reports, so an agent here with a fake tool on its PATH (the fake Hyper-V
   * PowerShell host) stands in for a host of another OS.
   */
  localHostAs?: { os: OsFamily; osVersion?: string; kernel?: string };
}

/**
 * An agent: enrolls its hosts (this machine, simulated ones, or both), reports their
 * inventory, beats for them, and runs each host's queue. It never touches the database.
 */
export class AgentRuntime {
  private readonly log = new Logger('agent');
  // Made once enrolled: the agent connects to Redis with its own user, given at enrollment.
  private queue: JobQueue | undefined;
  private consumer: MultiQueueConsumer | undefined;
  private heartbeats: HeartbeatStore | undefined;
  private aborter: AbortListener | undefined;
  private leases: LeaseStore | undefined;
  private credential = '';
  /** The lease is ours until this time (performance.now(): a monotonic clock, immune to clock steps). */
  private leaseUntil = 0;
  /**
   * Fenced: commands wait and nothing HA is started until the lease is renewed and the API has
   * said what moved away. An agent starts fenced (it may have been gone a long time).
   */
  private fenced = true;
  private fencing: Promise<void> | null = null;
  private learning: Promise<void> | null = null;
  private sweeping = false;
  /** What the fences did (tests and logs): when each began and ended, on which host, what it stopped. */
  readonly fences: { hostId: string; startedAt: string; doneAt: string; stopped: string[] }[] = [];
  private agentId = '';
  private readonly api: AgentApiClient;
  private hosts: HostRuntime[] = [];
  private timers: NodeJS.Timeout[] = [];
  private listener: HealthServer | null = null;
  private removeScrapeSource: (() => void) | null = null;
  /** Jobs at once per host queue, and commands at once within a command batch. */
  private readonly concurrency: number;

  constructor(private readonly opts: AgentOptions) {
    this.concurrency = opts.concurrency ?? 8;
    this.api = new AgentApiClient(opts.apiUrl, { ca: opts.tlsCa });
  }

  /** The enrollment's id (known once started): the agent's queues are named after it. */
  get id(): string {
    return this.agentId;
  }

  get hostIds(): string[] {
    return this.hosts.map((h) => h.hostId);
  }

  /** The driver instance serving a host (tests look inside simulated hosts). */
  driver(hostId: string, name: string): Driver | undefined {
    return this.hosts.find((h) => h.hostId === hostId)?.opts.drivers.get(name);
  }

  /** Redis answers and the agent's hosts are enrolled (and their queues consumed). */
  readinessChecks(): ReadinessChecks {
    return {
      redis: async () => {
        if (!this.queue) throw new Error('not connected yet (enrolling)');
        await this.queue.connection.ping();
      },
      enrolled: async () => {
        if (this.hosts.length === 0) throw new Error('not enrolled yet');
      },
    };
  }

  /** The port of its /healthz, /readyz and /metrics listener (null when off). */
  get listenPort(): number | null {
    return this.listener?.port ?? null;
  }

  async start(): Promise<void> {
    // Listening first: /healthz answers and /readyz says why not while the agent enrolls.
    if (this.opts.listen?.port) {
      this.listener = await startHealthServer({ ...this.opts.listen, checks: this.readinessChecks() });
      this.log.log(`health and metrics on http://${this.opts.listen.bind}:${this.listener.port}`);
    }
    this.removeScrapeSource = addScrapeSource(() => this.collectQueueDepths());
    const planned = await this.plan();
    const state = await this.enrollment(planned);
    this.agentId = state.agentId;
    this.credential = state.credential;
    const redis: RedisSettings = { ...this.opts.redis, ...(state.redis ? { username: state.redis.username, password: state.redis.password } : {}) };
    const queue = (this.queue = new JobQueue(redis, 'agent'));
    const consumer = (this.consumer = new MultiQueueConsumer(redis, {
      concurrencyPerQueue: this.concurrency,
      lockDuration: this.opts.lockDuration,
      name: 'agent',
      // Its own keys under its queues' prefix, where its Redis user may write.
      keyPrefix: `${agentHostQueuePrefix(state.agentId)}consumer:`,
      onError: (e, q) => this.log.warn(`${q ?? 'queue'}: ${e.message}`),
      around: observeJob,
    }));
    this.heartbeats = new HeartbeatStore(queue.connection, redis.prefix);
    // Cancelled or timed-out operations: the controller pushes their ids on this agent's abort list.
    const aborts = new OperationAborts();
    this.aborter = new AbortListener(
      redis,
      state.agentId,
      (operationId) => {
        if (aborts.abort(operationId)) this.log.log(`aborting the host work of operation ${operationId}`);
      },
      (e) => this.log.warn(`abort signals: ${e.message}`),
    );
    this.leases = new LeaseStore(queue.connection, redis.prefix);
    for (const [key, { drivers }] of planned) {
      const hostId = state.hosts[key]!;
      const livesElsewhere = async (host: string, instanceId: string): Promise<boolean> =>
        (await this.api.assignments(this.credential, [{ hostId: host, instanceIds: [instanceId] }])).hosts[0]?.foreign.includes(instanceId) ?? true;
      this.hosts.push(new HostRuntime({ hostId, agentId: state.agentId, key, drivers, queue, consumer, concurrency: this.concurrency, aborts, livesElsewhere }));
    }
    // Fenced until the first renewal and what the API says moved away while the agent was gone.
    for (const h of this.hosts) h.hold();
    for (const h of this.hosts) h.start();
    await this.beat();
    this.timers.push(setInterval(() => void this.beat(), this.opts.heartbeatIntervalMs));
    if (this.opts.ha) {
      const { safetyMs } = this.opts.ha;
      this.timers.push(setInterval(() => this.checkLease(), Math.max(50, Math.min(500, Math.floor(safetyMs / 4)))));
    }
    // The periodic sync reports a host only when something changed there (or now and then anyway).
    this.timers.push(setInterval(() => void this.syncAll({ onlyChanged: true }), this.opts.syncIntervalMs));
    this.timers.push(setInterval(() => void this.sweepOrphans(), this.opts.orphanSweepMs ?? this.opts.syncIntervalMs * 10));
    this.log.log(`agent running ${this.hosts.length} host(s): ${[...planned.keys()].slice(0, 5).join(', ')}${planned.size > 5 ? ', …' : ''}`);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.aborter?.close();
    this.aborter = undefined;
    await this.fencing;
    // Redis unreachable, or refusing this agent's user (rotated, revoked): what would be sent
    // there fails at once instead of waiting forever, so the agent can stop.
    if (this.queue && this.queue.connection.status !== 'ready') endRedis(this.queue.connection);
    if (this.consumer && !this.consumer.connected) {
      await this.consumer.close();
    } else {
      await Promise.all(this.hosts.map((h) => h.stop()));
      await this.consumer?.close();
    }
    // No command runs any more: the drivers let go of what they hold open (migration listeners).
    const closing: Promise<void>[] = [];
    for (const h of this.hosts) for (const d of h.opts.drivers.values()) if (d.close) closing.push(d.close().catch(() => undefined));
    await Promise.all(closing);
    this.hosts = [];
    this.removeScrapeSource?.();
    await this.listener?.close();
    this.listener = null;
    await this.queue?.close();
  }

  /** Its host queues' jobs, together (one pipelined count at scrape time). */
  private async collectQueueDepths(): Promise<void> {
    if (!this.queue) return;
    const c = await this.queue.countJobs(this.hosts.map((h) => hostQueueName(this.agentId, h.hostId)));
    queueJobs.labels('host', 'waiting').set(c.waiting);
    queueJobs.labels('host', 'active').set(c.active);
    queueJobs.labels('host', 'delayed').set(c.delayed);
  }

  /** Reports every host's actual instances now (normally on an interval, then only hosts where something changed). */
  async syncAll(opts: { onlyChanged?: boolean } = {}): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.sync(opts).catch((e: unknown) => this.log.warn(`sync failed: ${String(e)}`))));
  }

  private async beat(): Promise<void> {
    // Taken before sending: Redis starts the lease later than this, so the agent's idea of its
    // end is never later than Redis's (up to clock-rate drift, which the safety covers).
    const sentAt = performance.now();
    try {
      await this.heartbeats?.beat(this.agentId, this.hostIds);
      if (this.opts.ha) await this.leases?.renew(this.agentId, this.hostIds, this.opts.ha.leaseMs);
    } catch (e) {
      this.log.warn(`heartbeat failed: ${String(e)}`);
      return;
    }
    if (this.opts.ha) this.leaseUntil = sentAt + this.opts.ha.leaseMs;
    if (this.fenced) await this.learn();
  }

  /**
   * Removes copies of instances that live on another host now or were deleted, in steady state
   * (learn() does it when the agent comes back). A command that runs late — re-sent after a
   * lost job, a job run again after its agent died — can make a copy after its instance moved
   * or was deleted; nothing else would ever remove it. Each host's idle instances are checked
   * with the API (as learn() does) and HostRuntime.sweep() removes those found so twice in a
   * row, untouched in between: a placement or a migration in flight is never taken for one.
   */
  async sweepOrphans(): Promise<string[]> {
    if (this.fenced || this.learning || this.sweeping) return [];
    const removed: string[] = [];
    this.sweeping = true;
    try {
      for (let i = 0; i < this.hosts.length; i += MAX_HOSTS_PER_AGENT_REQUEST) {
        const page = this.hosts.slice(i, i + MAX_HOSTS_PER_AGENT_REQUEST);
        const holdings = await Promise.all(page.map(async (h) => ({ hostId: h.hostId, instanceIds: await h.idleHoldings() })));
        const answer = await this.api.assignments(this.credential, holdings);
        for (const a of answer.hosts) {
          const host = page.find((h) => h.hostId === a.hostId);
          const gone = host ? await host.sweep(a.foreign, () => !this.fenced) : [];
          if (gone.length > 0) this.log.warn(`host ${a.hostId}: removed ${gone.length} copy(ies) of instances that live elsewhere now or were deleted: ${gone.join(', ')}`);
          removed.push(...gone);
        }
      }
    } catch (e) {
      this.log.warn(`orphan sweep failed, next time then: ${String(e)}`);
    } finally {
      this.sweeping = false;
    }
    return removed;
  }

  /** Fences when the lease was not renewed `safetyMs` before its end. */
  private checkLease(): void {
    if (!this.opts.ha || this.fenced || this.leaseUntil === 0) return;
    if (performance.now() < this.leaseUntil - this.opts.ha.safetyMs) return;
    this.fenced = true;
    this.fencing = this.fence().finally(() => (this.fencing = null));
  }

  /** Stops every HA instance of every host at once (force), and holds their commands. */
  private async fence(): Promise<void> {
    for (const h of this.hosts) h.hold();
    await Promise.all(
      this.hosts.map(async (h) => {
        const startedAt = new Date().toISOString();
        const stopped = await h.fence();
        const doneAt = new Date().toISOString();
        this.fences.push({ hostId: h.hostId, startedAt, doneAt, stopped });
        if (stopped.length > 0) this.log.warn(`fence: lease not renewed; host ${h.hostId} force-stopped ${stopped.length} HA instance(s) from ${startedAt} to ${doneAt}: ${stopped.join(', ')}`);
      }),
    );
  }

  /**
   * The lease is ours again: asks the API what each host holds that now lives elsewhere,
   * destroys those copies without starting them, starts again what the fence stopped that is
   * still ours, then takes commands again and reports every host in full.
   */
  private learn(): Promise<void> {
    this.learning ??= (async () => {
      await this.fencing;
      const holdings = await Promise.all(this.hosts.map(async (h) => ({ hostId: h.hostId, instanceIds: await h.holdings() })));
      for (let i = 0; i < holdings.length; i += MAX_HOSTS_PER_AGENT_REQUEST) {
        const page = holdings.slice(i, i + MAX_HOSTS_PER_AGENT_REQUEST);
        const answer = await this.api.assignments(this.credential, page).catch((e: unknown) => {
          // An API from before HA knows no assignments: nothing can have been recovered elsewhere.
          if (e instanceof ApiError && e.status === 404) return { hosts: page.map((h) => ({ hostId: h.hostId, foreign: [], ha: [] })) };
          throw e;
        });
        for (const a of answer.hosts) {
          const host = this.hosts.find((h) => h.hostId === a.hostId);
          if (!host) continue;
          const { destroyed, restarted } = await host.learn(a.foreign, a.ha);
          if (destroyed.length > 0) this.log.warn(`host ${a.hostId}: removed ${destroyed.length} instance(s) that live elsewhere now or were deleted: ${destroyed.join(', ')}`);
          if (restarted.length > 0) this.log.warn(`host ${a.hostId}: started ${restarted.length} fenced HA instance(s) again (still here): ${restarted.join(', ')}`);
        }
      }
      // A fence that began meanwhile (the lease lost again) keeps the gates shut.
      if (this.fencing || (this.opts.ha && performance.now() >= this.leaseUntil - this.opts.ha.safetyMs)) return;
      this.fenced = false;
      for (const h of this.hosts) h.open();
      await this.syncAll();
    })()
      .catch((e: unknown) => this.log.warn(`could not learn what moved away (still fenced): ${String(e)}`))
      .finally(() => (this.learning = null));
    return this.learning;
  }

  /** The hosts this agent stands for, with their drivers and inventory. */
  private async plan(): Promise<Map<string, { drivers: Map<string, Driver>; inventory: HostInventory }>> {
    const planned = new Map<string, { drivers: Map<string, Driver>; inventory: HostInventory }>();
    if (this.opts.local) {
      // The OS facts first: the architecture drivers get is the machine's, not Node's (Rosetta).
      const facts = await readOsFacts();
      // Tests run the local host as another OS (with that OS's fake tools on the PATH).
      const as = this.opts.localHostAs;
      const { drivers, probes } = await probeDrivers(REAL_DRIVER_FACTORIES, { dataDir: this.opts.dataDir, hostOs: as?.os ?? hostOs(), hostArch: facts.arch });
      for (const p of probes) if (!p.installed) this.log.log(`driver ${p.name} not used: ${p.error ?? 'no reason given'}`);
      const inventory = await readLocalInventory(this.opts.dataDir, probes, AGENT_VERSION, facts);
      if (as) Object.assign(inventory, { os: as.os, osVersion: as.osVersion ?? inventory.osVersion, kernel: as.kernel ?? inventory.kernel });
      planned.set(LOCAL_KEY, { drivers, inventory });
    }
    for (const spec of this.opts.simHosts) {
      const driver = new SimDriver({
        stateDir: join(this.opts.dataDir, 'sim'),
        hostOs: spec.os,
        hostArch: spec.arch,
        hostKernel: spec.kernel,
        hostKey: spec.key,
        capacity: spec.capacity,
        timeScale: this.opts.sim.timeScale,
        faults: spec.faults ?? this.opts.sim.faults,
        seed: this.opts.sim.seed,
        persist: this.opts.sim.persist,
        journal: this.opts.sim.journal,
      });
      planned.set(spec.key, { drivers: new Map([['sim', driver]]), inventory: simInventory(spec, AGENT_VERSION) });
    }
    return planned;
  }

  /** Reuses the saved enrollment when the API still knows it; enrolls otherwise. */
  private async enrollment(planned: Map<string, { inventory: HostInventory }>): Promise<AgentState> {
    const file = join(this.opts.dataDir, 'agent-state.json');
    const saved = await readAgentState(file);
    const keys = [...planned.keys()];
    if (saved && saved.apiUrl === this.opts.apiUrl && keys.every((k) => saved.hosts[k])) {
      try {
        if (!saved.agentId) {
          // Saved before agents had ids and Redis users: a rotation tells both (and a new credential).
          const rotated = await this.api.rotate(saved.credential);
          Object.assign(saved, { agentId: rotated.agentId, credential: rotated.credential, redis: rotated.redis });
          await writeAgentState(file, saved);
        }
        await this.api.reportInventory(
          saved.credential,
          keys.map((k) => ({ hostId: saved.hosts[k]!, inventory: planned.get(k)!.inventory })),
        );
        return saved;
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 401) throw e;
        this.log.warn('the API no longer knows this agent; enrolling again');
      }
    }
    if (!this.opts.enrollmentToken) throw new Error('this agent is not enrolled: set HYPERPLANE_ENROLLMENT_TOKEN (an admin makes one with POST /v1/enrollment-tokens)');
    const res = await this.api.enroll(this.opts.enrollmentToken, keys.map((k) => planned.get(k)!.inventory));
    const state: AgentState = {
      apiUrl: this.opts.apiUrl,
      agentId: res.agentId,
      credential: res.credential,
      redis: res.redis,
      hosts: Object.fromEntries(keys.map((k, i) => [k, res.hosts[i]!.id])),
    };
    await writeAgentState(file, state);
    this.log.log(`enrolled ${keys.length} host(s)`);
    return state;
  }
}
