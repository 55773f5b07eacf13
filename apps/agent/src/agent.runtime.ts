import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { HostInventory, OsFamily } from '@hyperplane/domain';
import { Driver, REAL_DRIVER_FACTORIES, SimDriver, SimFaults } from '@hyperplane/drivers';
import { addScrapeSource, HealthServer, queueJobs, ReadinessChecks, startHealthServer } from '@hyperplane/observability';
import { agentHostQueuePrefix, endRedis, HeartbeatStore, hostQueueName, JobQueue, MultiQueueConsumer, observeJob, RedisSettings } from '@hyperplane/queue';
import { AgentApiClient, ApiError } from './enrollment/api.client';
import { AgentState, readAgentState, writeAgentState } from './enrollment/agent-state';
import { HostRuntime } from './host/host.runtime';
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
  syncIntervalMs: number;
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
    for (const [key, { drivers }] of planned) {
      const hostId = state.hosts[key]!;
      this.hosts.push(new HostRuntime({ hostId, agentId: state.agentId, key, drivers, queue, consumer, concurrency: this.concurrency }));
    }
    for (const h of this.hosts) h.start();
    await this.beat();
    this.timers.push(setInterval(() => void this.beat(), this.opts.heartbeatIntervalMs));
    // The periodic sync reports a host only when something changed there (or now and then anyway).
    this.timers.push(setInterval(() => void this.syncAll({ onlyChanged: true }), this.opts.syncIntervalMs));
    this.log.log(`agent running ${this.hosts.length} host(s): ${[...planned.keys()].slice(0, 5).join(', ')}${planned.size > 5 ? ', …' : ''}`);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    // Redis unreachable, or refusing this agent's user (rotated, revoked): what would be sent
    // there fails at once instead of waiting forever, so the agent can stop.
    if (this.queue && this.queue.connection.status !== 'ready') endRedis(this.queue.connection);
    if (this.consumer && !this.consumer.connected) {
      await this.consumer.close();
    } else {
      await Promise.all(this.hosts.map((h) => h.stop()));
      await this.consumer?.close();
    }
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
    await this.heartbeats?.beat(this.agentId, this.hostIds).catch((e: unknown) => this.log.warn(`heartbeat failed: ${String(e)}`));
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
