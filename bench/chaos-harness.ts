// The chaos workload, shared by test/chaos.e2e-spec.ts (bounded) and bench/chaos.ts (long):
// 2 APIs, 2 controllers and N agent processes (simulated hosts) on one database and a Redis of
// its own, a workload of mixed operations, and faults at seeded random moments (kill -9 and
// restart of an agent, a controller or an API; FLUSHALL; pg_terminate_backend). It then lets the
// system quiesce and checks the invariants against PostgreSQL and what the simulated hosts hold.
import { ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import IORedis from 'ioredis';
import { Pool } from 'pg';
import { AgentOptions, simFleet } from '@hyperplane/agent';
import { exited, freePort } from './processes';

const ADMIN = 'chaos-admin-token-0123456789';
const TERMINAL = ['succeeded', 'failed', 'cancelled'];

function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const ROOT = repoRoot();

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type FaultKind = 'agent' | 'controller' | 'api' | 'redis-flush' | 'pg-terminate';

/** The agents' orphan sweep (HYPERPLANE_ORPHAN_SWEEP_S at 2 s): a copy a late command made goes within two sweeps. */
const ORPHAN_SWEEP_MS = 2000;

export interface ChaosOptions {
  seed: number;
  faults: number;
  /** A migrated, empty database of the run's own (dropped by the caller). */
  database: { url: string; name: string };
  redisUrl: string;
  hosts?: number;
  agents?: number;
  controllers?: number;
  apis?: number;
  /** The simulator's durations (1 = realistic). */
  timeScale?: number;
  /** Time between two faults, drawn uniformly in [min, max] ms. */
  gapMs?: [number, number];
  /** How long a killed process stays dead, drawn uniformly in [min, max] ms. */
  downMs?: [number, number];
  /** Clients sending operations at once. */
  workers?: number;
  /** Live instances the workload aims at (it deletes more than it creates above it). */
  targetInstances?: number;
  quiesceTimeoutMs?: number;
  /** How long a drawn fault kind that cannot happen now (its processes booting) is waited for before another stands in. */
  kindWaitMs?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  faultsByKind: Record<FaultKind, number>;
  faultSeconds: number;
  operations: { accepted: number; acceptedByKind: Record<string, number>; refused: number; refusedByStatus: Record<number, number>; unreachable: number; succeeded: number; failed: number; cancelled: number; notTerminal: number; allInDb: number };
  quiesceSeconds: number | null;
  restarts: Record<string, number>;
  /** Starts that failed (the process exited while booting) and were tried again. */
  failedStarts: number;
  /** The last output of each process that died by itself (its stack trace). */
  crashOutput: string[];
  instances: { live: number; onHosts: number; byState: Record<string, number> };
  journal: { effects: Record<string, number>; misses: number };
  /**
   * For the first few instances that broke an invariant (orphan, lost, on two hosts, drift):
   * their operations, state events and driver effects, oldest first, taken before the run's
   * database and files are removed, so a failure can be explained without a replay.
   */
  evidence: string[];
  /** Copies the database did not place there, found at quiet and removed by the agents' orphan sweep since (not a violation). */
  strayCopiesSwept: string[];
  violations: {
    acceptedNotTerminal: string[];
    acceptedMissing: string[];
    doubleTerminal: string[];
    opsNotTerminal: string[];
    lost: string[];
    duplicated: string[];
    orphans: string[];
    stateDrift: string[];
    overlappingCopies: string[];
    effectsOnDestroyed: string[];
    allocationsMatchClaims: boolean;
    duplicateHosts: string[];
    /** Processes that died without being killed (of a Redis flush or terminated connections). */
    selfExits: string[];
  };
  ok: boolean;
}

interface Managed {
  name: string;
  kind: 'agent' | 'controller' | 'api';
  child: ChildProcess | null;
  up: boolean;
  /** Someone is (re)starting it. */
  busy: boolean;
  restarts: number;
  start(): Promise<void>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Runs the workload and the faults, waits for quiet, and checks the invariants. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => undefined);
  const hostCount = opts.hosts ?? 100;
  const agentCount = opts.agents ?? 4;
  const controllerCount = opts.controllers ?? 2;
  const apiCount = opts.apis ?? 2;
  const timeScale = opts.timeScale ?? 0.05;
  const [gapMin, gapMax] = opts.gapMs ?? [150, 700];
  const [downMin, downMax] = opts.downMs ?? [200, 2500];
  const workers = opts.workers ?? 6;
  const target = opts.targetInstances ?? 250;
  const faultRandom = prng(opts.seed);
  const workRandom = prng(opts.seed ^ 0x5eed);
  const prefix = `hpc${opts.seed.toString(36)}`;
  const work = mkdtempSync(join(tmpdir(), 'hp-chaos-'));
  const sql = new Pool({ connectionString: opts.database.url, max: 3, application_name: 'chaos-checker' });
  // Its connections are terminated too: a failed query is retried, the pool must not throw.
  sql.on('error', () => undefined);
  const query = async (text: string, params: unknown[] = []): Promise<any[]> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await sql.query(text, params)).rows;
      } catch (e) {
        if (attempt >= 20) throw e;
        await sleep(100);
      }
    }
  };

  const apiPorts = await Promise.all(Array.from({ length: apiCount }, () => freePort()));
  const controllerPorts = await Promise.all(Array.from({ length: controllerCount }, () => freePort()));
  const baseEnv: Record<string, string> = {
    DATABASE_URL: opts.database.url,
    REDIS_URL: opts.redisUrl,
    HYPERPLANE_REDIS_PREFIX: prefix,
    HYPERPLANE_ADMIN_TOKEN: ADMIN,
    HYPERPLANE_MIGRATE: 'false',
    LOG_LEVEL: 'error',
    HYPERPLANE_HEARTBEAT_INTERVAL_S: '1',
    HYPERPLANE_HEARTBEAT_TIMEOUT_S: '8',
    HYPERPLANE_RECONCILE_INTERVAL_S: '2',
    HYPERPLANE_JOB_LOCK_MS: '4000',
    HYPERPLANE_AUTH_FAILURES_PER_MINUTE: '0',
    HYPERPLANE_RATE_LIMIT_PER_MINUTE: '1000000',
  };
  const apiUrls = apiPorts.map((p) => `http://127.0.0.1:${p}`);
  /**
   * The process's own database URL: its connections carry its name (`application_name`, which
   * the URL sets over the app's default), so a termination can spare a process that boots.
   */
  const databaseUrlOf = (name: string): string => {
    const url = new URL(opts.database.url);
    url.searchParams.set('application_name', `chaos-${name}`);
    return url.toString();
  };
  const spawnMain = (app: string, env: Record<string, string>): ChildProcess => {
    const main = join(ROOT, 'dist', 'apps', app, 'src', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build`);
    const child = spawn(process.execPath, [main], { cwd: ROOT, env: { ...process.env, ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return child;
  };

  const processes: Managed[] = [];
  let shuttingDown = false;
  const killedByUs = new WeakSet<ChildProcess>();
  const selfExits: string[] = [];
  let failedStarts = 0;
  const crashOutput: string[] = [];
  const restarts: Promise<void>[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    return await run();
  } finally {
    shuttingDown = true;
    for (const m of processes) {
      m.child?.kill('SIGKILL');
      if (m.child) await exited(m.child);
    }
    for (const c of cleanups) await c();
    await sql.end().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }

  async function run(): Promise<ChaosReport> {
  const supervise = (m: Managed, launch: () => { child: ChildProcess; ready: () => Promise<boolean> }): void => {
    m.start = async () => {
      m.busy = true;
      try {
        for (;;) {
          if (shuttingDown) return;
          const { child, ready } = launch();
          m.child = child;
          let tail = '';
          const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-12_000));
          child.stdout?.on('data', keep);
          child.stderr?.on('data', keep);
          child.once('exit', (code, signal) => {
            if (shuttingDown || killedByUs.has(child)) return;
            const why = `${m.name} exited by itself (code ${code}, signal ${signal}): ${tail.trim().split('\n').slice(-14).join(' | ').slice(-2400)}`;
            if (m.child !== child || !m.up) {
              // While starting (its database connection terminated, the API it enrolls with
              // down): it exits and is started again, as a service manager would.
              failedStarts++;
              return;
            }
            // Up and running, nobody killed it: it died of a fault it should have survived.
            // Noted as a violation, and started again.
            selfExits.push(why);
            crashOutput.push(`---- ${m.name} (code ${code}, signal ${signal}), its last output:\n${tail}`);
            log(`chaos: ${why}`);
            m.up = false;
            restarts.push(m.start());
          });
          const deadline = Date.now() + 180_000;
          let ok = false;
          while (!ok && child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
            ok = await ready();
            if (!ok) await sleep(100);
          }
          if (ok) {
            m.up = true;
            return;
          }
          killedByUs.add(child);
          child.kill('SIGKILL');
          await exited(child);
          await sleep(300);
        }
      } finally {
        m.busy = false;
      }
    };
  };
  for (let i = 0; i < apiCount; i++) {
    const m: Managed = { name: `api-${i}`, kind: 'api', child: null, up: false, busy: false, restarts: 0, start: async () => undefined };
    supervise(m, () => ({ child: spawnMain('api', { PORT: String(apiPorts[i]), DATABASE_URL: databaseUrlOf(m.name) }), ready: () => httpOk(`${apiUrls[i]}/readyz`) }));
    processes.push(m);
  }
  for (let i = 0; i < controllerCount; i++) {
    const m: Managed = { name: `controller-${i}`, kind: 'controller', child: null, up: false, busy: false, restarts: 0, start: async () => undefined };
    supervise(m, () => ({ child: spawnMain('controller', { HYPERPLANE_CONTROLLER_PORT: String(controllerPorts[i]), DATABASE_URL: databaseUrlOf(m.name) }), ready: () => httpOk(`http://127.0.0.1:${controllerPorts[i]}/readyz`) }));
    processes.push(m);
  }
  for (const m of processes) await m.start();
  log(`chaos: seed ${opts.seed}; ${apiCount} APIs, ${controllerCount} controllers up`);

  const api = async (method: string, path: string, body?: unknown, which?: number): Promise<{ status: number; body: any }> => {
    // A client of two APIs: a refused connection is tried on the other one (nothing was accepted).
    const first = which ?? Math.floor(workRandom() * apiCount);
    for (let k = 0; ; k++) {
      const url = apiUrls[(first + k) % apiCount]!;
      let res: Response;
      try {
        res = await fetch(url + path, {
          method,
          headers: { Authorization: `Bearer ${ADMIN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(15_000),
        });
      } catch (e) {
        const refused = (e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
        if (refused && k + 1 < apiCount) continue;
        throw e;
      }
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    }
  };

  // Agents: one enrollment token for the whole fleet, each agent its own share of the hosts.
  const enroll = await api('POST', '/v1/enrollment-tokens', { name: 'chaos', maxHosts: hostCount }, 0);
  if (enroll.status !== 201) throw new Error(`enrollment token: ${enroll.status} ${JSON.stringify(enroll.body)}`);
  const fleet = simFleet(hostCount, 'chaos');
  const agentDirs: string[] = [];
  const agentScript = join(ROOT, 'dist', 'bench', 'sim-agent.js');
  if (!existsSync(agentScript)) throw new Error(`${agentScript} is missing: run npm run build`);
  for (let i = 0; i < agentCount; i++) {
    const dataDir = join(work, `agent-${i}`);
    agentDirs.push(dataDir);
    const options: AgentOptions = {
      apiUrl: apiUrls[0]!,
      enrollmentToken: enroll.body.token,
      dataDir,
      redis: { url: opts.redisUrl, prefix },
      local: false,
      simHosts: fleet.filter((_, k) => k % agentCount === i),
      sim: { timeScale, seed: opts.seed, persist: true, journal: join(work, `journal-${i}.jsonl`) },
      heartbeatIntervalMs: 1000,
      syncIntervalMs: 5000,
      orphanSweepMs: ORPHAN_SWEEP_MS,
      lockDuration: 4000,
      concurrency: 8,
    };
    const m: Managed = { name: `agent-${i}`, kind: 'agent', child: null, up: false, busy: false, restarts: 0, start: async () => undefined };
    supervise(m, () => {
      const child = fork(agentScript, [], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, LOG_LEVEL: 'error' } });
      let ready = false;
      child.on('message', (msg) => (ready ||= msg === 'ready'));
      child.send(options);
      return { child, ready: async () => ready };
    });
    processes.push(m);
  }
  // Enrolled one after another (the first enrollment of each writes its state file).
  for (const m of processes.filter((p) => p.kind === 'agent')) await m.start();
  for (const deadline = Date.now() + 120_000; ; ) {
    const rows = await query(`SELECT count(*)::int AS n FROM hosts WHERE status = 'ready'`);
    if (rows[0].n >= hostCount) break;
    if (Date.now() > deadline) throw new Error(`only ${rows[0].n} of ${hostCount} hosts ready`);
    await sleep(200);
  }
  log(`chaos: ${hostCount} hosts ready on ${agentCount} agents`);

  // ---- the workload
  const accepted = new Map<string, string>();
  const acceptedByKind: Record<string, number> = {};
  let refused = 0;
  const refusedByStatus: Record<number, number> = {};
  let unreachable = 0;
  let known: { id: string; state: string; technology: string }[] = [];
  let stopWork = false;
  let nameSeq = 0;
  const accept = (kind: string, r: { status: number; body: any }) => {
    if (r.status === 202 && r.body?.id) {
      accepted.set(r.body.id, kind);
      acceptedByKind[kind] = (acceptedByKind[kind] ?? 0) + 1;
    } else {
      refused++;
      refusedByStatus[r.status] = (refusedByStatus[r.status] ?? 0) + 1;
    }
  };
  const refresh = async () => {
    try {
      known = (await sql.query(`SELECT id, state, technology FROM instances WHERE state <> 'deleted'`)).rows;
    } catch {
      /* terminated: next time */
    }
  };
  const pick = (states: string[], technology?: string) => {
    const fit = known.filter((i) => states.includes(i.state) && (!technology || i.technology === technology));
    return fit.length ? fit[Math.floor(workRandom() * fit.length)]! : null;
  };
  const spec = () => {
    const vm = workRandom() < 0.3;
    return vm
      ? { template: 'debian-12', technology: 'vm', resources: { vcpus: 1, memoryMiB: 512, diskGiB: 5 } }
      : { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } };
  };
  const step = async () => {
    const live = known.length;
    const x = workRandom();
    const name = () => `c${opts.seed.toString(36)}-${(nameSeq++).toString(36)}`;
    let inst;
    if (x < (live < target ? 0.25 : 0.05)) return accept('create', await api('POST', '/v1/instances', { name: name(), ...spec() }));
    if (x < (live < target ? 0.32 : 0.07)) {
      return accept('batch', await api('POST', '/v1/instances/batch', { count: 2 + Math.floor(workRandom() * 4), namePrefix: name(), spec: spec() }));
    }
    if (x < (live < target ? 0.42 : 0.3) && (inst = pick(['running', 'stopped', 'suspended', 'error', 'unschedulable']))) {
      return accept('delete', await api('DELETE', `/v1/instances/${inst.id}`));
    }
    if (x < 0.55 && (inst = pick(['running']))) return accept('stop', await api('POST', `/v1/instances/${inst.id}/actions/stop`));
    if (x < 0.68 && (inst = pick(['stopped']))) return accept('start', await api('POST', `/v1/instances/${inst.id}/actions/start`));
    if (x < 0.76 && (inst = pick(['running']))) return accept('restart', await api('POST', `/v1/instances/${inst.id}/actions/restart`));
    if (x < 0.84 && (inst = pick(['running'], 'vm'))) return accept('suspend', await api('POST', `/v1/instances/${inst.id}/actions/suspend`));
    if (x < 0.92 && (inst = pick(['suspended']))) return accept('resume', await api('POST', `/v1/instances/${inst.id}/actions/resume`));
    if ((inst = pick(['running', 'stopped']))) return accept('snapshot', await api('POST', `/v1/instances/${inst.id}/snapshots`, { name: name() }));
  };
  await refresh();
  const refresher = setInterval(() => void refresh(), 500);
  const workload = Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stopWork) {
        try {
          await step();
        } catch {
          unreachable++; // every API down, or one killed under the request: not accepted as far as the client knows
          await sleep(200);
        }
        await sleep(workRandom() * 100);
      }
    }),
  );

  // ---- the faults
  const faultsByKind: Record<FaultKind, number> = { agent: 0, controller: 0, api: 0, 'redis-flush': 0, 'pg-terminate': 0 };
  const redis = new IORedis(opts.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
  redis.on('error', () => undefined);
  cleanups.push(() => redis.disconnect());
  const weights: [FaultKind, number][] = [
    ['agent', 0.2],
    ['controller', 0.15],
    ['api', 0.1],
    ['redis-flush', 0.2],
    ['pg-terminate', 0.35],
  ];
  const maxAgentsDown = Math.max(1, Math.floor(agentCount / 2));
  const faultStart = Date.now();
  let lastFaultAt = faultStart;
  for (let n = 0; n < opts.faults; ) {
    await sleep(gapMin + faultRandom() * (gapMax - gapMin));
    // A process is killed only while it is up, and never the last one of its kind up (two of
    // four agents stay up): faults come faster than a process boots on a loaded machine, and a
    // control plane that is never up proves nothing. Otherwise the draw falls to the other kinds.
    const killable = (k: FaultKind) => {
      const ofKind = processes.filter((p) => p.kind === k);
      const up = ofKind.filter((p) => p.up && !p.busy);
      return up.length > 0 && up.length > (k === 'agent' ? ofKind.length - maxAgentsDown : 1);
    };
    // Connections are terminated only of processes that are up: a process that loses its
    // database while it boots exits (and is started again), and under a fault a second it would
    // never finish booting on a loaded machine. Each process's connections carry its name.
    const upWithDatabase = (): string[] => processes.filter((p) => p.kind !== 'agent' && p.up && !p.busy).map((p) => `chaos-${p.name}`);
    const isOpen = (k: FaultKind): boolean => (k === 'pg-terminate' ? upWithDatabase().length > 0 : !['agent', 'controller', 'api'].includes(k) || killable(k));
    // The kind is drawn by weight from all kinds; one not open now is waited for (a process that
    // is booting comes back in seconds), so the mix follows the weights instead of falling to
    // Redis flushes whenever something boots. After `kindWaitMs` (5 s) another open kind stands in.
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    let x = faultRandom() * total;
    let kind: FaultKind = weights[weights.length - 1]![0];
    for (const [k, w] of weights) {
      if (x < w) {
        kind = k;
        break;
      }
      x -= w;
    }
    const waitUntil = Date.now() + (opts.kindWaitMs ?? 5000);
    while (!isOpen(kind) && Date.now() < waitUntil) await sleep(100);
    if (!isOpen(kind)) {
      // Another open kind stands in, drawn by the same weights (a uniform draw made Redis
      // flushes, always open, most of the faults on a loaded machine).
      const open = weights.filter(([k]) => isOpen(k));
      if (open.length === 0) continue;
      let y = faultRandom() * open.reduce((sum, [, w]) => sum + w, 0);
      kind = open[open.length - 1]![0];
      for (const [k, w] of open) {
        if (y < w) {
          kind = k;
          break;
        }
        y -= w;
      }
    }
    const downFor = downMin + faultRandom() * (downMax - downMin);
    const which = faultRandom();
    if (kind === 'agent' || kind === 'controller' || kind === 'api') {
      const candidates = processes.filter((p) => p.kind === kind && p.up && !p.busy);
      const victim = candidates[Math.floor(which * candidates.length)]!;
      victim.up = false;
      victim.busy = true;
      killedByUs.add(victim.child!);
      victim.child!.kill('SIGKILL');
      await exited(victim.child!);
      victim.restarts++;
      restarts.push(
        (async () => {
          await sleep(downFor);
          await victim.start();
        })(),
      );
    } else if (kind === 'redis-flush') {
      try {
        await redis.flushall();
      } catch {
        continue;
      }
    } else {
      try {
        // Every connection of every process that is up (pools, listeners, advisory-lock sessions).
        await query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = ANY($2::text[]) AND pid <> pg_backend_pid()`, [
          opts.database.name,
          upWithDatabase(),
        ]);
      } catch {
        continue;
      }
    }
    faultsByKind[kind]++;
    n++;
    lastFaultAt = Date.now();
    if (n % 50 === 0) log(`chaos: ${n} faults, ${accepted.size} operations accepted, ${refused} refused, ${unreachable} unreachable`);
  }
  stopWork = true;
  await workload;
  clearInterval(refresher);
  log(`chaos: workload stopped; waiting for ${processes.filter((p) => !p.up).map((p) => p.name).join(', ') || 'nothing'} to be back`);
  await Promise.all(restarts);
  for (const m of processes) if (!m.up) await m.start();
  const faultSeconds = (lastFaultAt - faultStart) / 1000;
  log(`chaos: faults over in ${faultSeconds.toFixed(1)} s; waiting for quiet`);

  // ---- quiesce: every operation ended, no instance in between states, no outbox left
  let quiesceSeconds: number | null = null;
  const quiesceDeadline = Date.now() + (opts.quiesceTimeoutMs ?? 180_000);
  while (Date.now() < quiesceDeadline) {
    const [busy] = await query(`SELECT
        (SELECT count(*)::int FROM operations WHERE status IN ('queued', 'running')) AS ops,
        (SELECT count(*)::int FROM instances WHERE state IN ('pending', 'scheduling', 'provisioning', 'deleting', 'migrating')) AS inst,
        (SELECT count(*)::int FROM outbox) AS outbox`);
    if (busy.ops === 0 && busy.inst === 0 && busy.outbox === 0) {
      quiesceSeconds = (Date.now() - lastFaultAt) / 1000;
      break;
    }
    await sleep(250);
  }
  log(`chaos: ${quiesceSeconds === null ? 'did NOT quiesce' : `quiet ${quiesceSeconds.toFixed(1)} s after the last fault`}`);
  if (quiesceSeconds === null) {
    const stuck = await query(`SELECT kind, status, step, job_queue, count(*)::int AS n, min(updated_at) AS oldest FROM operations WHERE status IN ('queued', 'running') GROUP BY 1, 2, 3, 4 ORDER BY n DESC LIMIT 20`);
    for (const r of stuck) log(`  still ${r.status}: ${r.n} ${r.kind} at step ${r.step} on ${r.job_queue} (oldest update ${new Date(r.oldest).toISOString()})`);
    const states = await query(`SELECT state, count(*)::int AS n FROM instances GROUP BY 1`);
    log(`  instances: ${states.map((r) => `${r.state} ${r.n}`).join(', ')}`);
  }

  // ---- invariants
  const ops = await query(`SELECT id, status FROM operations`);
  const opStatus = new Map(ops.map((o) => [o.id as string, o.status as string]));
  const counts = { succeeded: 0, failed: 0, cancelled: 0, notTerminal: 0 };
  const acceptedNotTerminal: string[] = [];
  const acceptedMissing: string[] = [];
  for (const id of accepted.keys()) {
    const s = opStatus.get(id);
    if (!s) acceptedMissing.push(id);
    else if (TERMINAL.includes(s)) counts[s as 'succeeded']++;
    else {
      counts.notTerminal++;
      acceptedNotTerminal.push(`${id} (${accepted.get(id)}, ${s})`);
    }
  }
  const opsNotTerminal = ops.filter((o) => !TERMINAL.includes(o.status)).map((o) => `${o.id} (${o.status})`);
  const doubleTerminal = (
    await query(`SELECT subject_id, count(*)::int AS n, string_agg(data->>'status', ',') AS statuses FROM events
      WHERE subject_type = 'operation' AND type = 'operation.status' AND data->>'status' IN ('succeeded', 'failed', 'cancelled')
      GROUP BY subject_id HAVING count(*) > 1`)
  ).map((r) => `${r.subject_id} ×${r.n} (${r.statuses})`);
  const [alloc] = await query(`
    SELECT COALESCE(bool_and(ok), true) AS ok FROM (
      SELECT h.alloc_vcpus = COALESCE(SUM(i.claim_vcpus), 0) AND h.alloc_memory_mib = COALESCE(SUM(i.claim_memory_mib), 0)
         AND h.alloc_disk_gib = COALESCE(SUM(i.claim_disk_gib), 0) AND h.alloc_instances = COUNT(i.id) AS ok
      FROM hosts h LEFT JOIN instances i ON i.host_id = h.id GROUP BY h.id) t`);
  const duplicateHosts = (await query(`SELECT name, count(*)::int AS n FROM hosts GROUP BY name HAVING count(*) > 1`)).map((r) => `${r.name} ×${r.n}`);

  // What the hosts hold: each agent's state file names its hosts, each host's sim file its instances.
  const readOnHosts = (): Map<string, { hostId: string; state: string }[]> => {
    const found = new Map<string, { hostId: string; state: string }[]>();
    for (const dir of agentDirs) {
      const state = JSON.parse(readFileSync(join(dir, 'agent-state.json'), 'utf8')) as { hosts: Record<string, string> };
      for (const [key, hostId] of Object.entries(state.hosts)) {
        const file = join(dir, 'sim', `sim-${key.replace(/[^a-zA-Z0-9_.-]/g, '_')}.json`);
        if (!existsSync(file)) continue;
        for (const i of (JSON.parse(readFileSync(file, 'utf8')) as { instances: { id: string; state: string }[] }).instances) {
          found.set(i.id, [...(found.get(i.id) ?? []), { hostId, state: i.state }]);
        }
      }
    }
    return found;
  };
  // Copies the database does not place there (deleted, or on another host).
  const strays = async (): Promise<string[]> => {
    const placed = new Map((await query(`SELECT id, host_id FROM instances WHERE state <> 'deleted'`)).map((i) => [i.id as string, i.host_id as string | null]));
    return [...readOnHosts()].filter(([id, copies]) => copies.some((c) => placed.get(id) !== c.hostId)).map(([id]) => id);
  };
  // A late command may have left such copies; the agents' sweep removes them within two sweeps.
  const strayAtQuiet = await strays();
  if (strayAtQuiet.length > 0) {
    log(`chaos: ${strayAtQuiet.length} stray cop(ies) at quiet; waiting for the agents' orphan sweep`);
    const sweptBy = Date.now() + 4 * ORPHAN_SWEEP_MS + 5000;
    while (Date.now() < sweptBy && (await strays()).length > 0) await sleep(250);
  }
  const onHosts = readOnHosts();
  const live = await query(`SELECT id, host_id, state FROM instances WHERE state <> 'deleted'`);
  const byState: Record<string, number> = {};
  const lost: string[] = [];
  const orphans: string[] = [];
  const duplicated: string[] = [];
  const stateDrift: string[] = [];
  const liveById = new Map(live.map((i) => [i.id as string, i]));
  for (const i of live) {
    byState[i.state] = (byState[i.state] ?? 0) + 1;
    const copies = onHosts.get(i.id) ?? [];
    if (['running', 'stopped', 'suspended'].includes(i.state)) {
      const here = copies.find((c) => c.hostId === i.host_id);
      if (!here) lost.push(`${i.id} (${i.state} on ${i.host_id}, on hosts: ${copies.map((c) => c.hostId).join(',') || 'none'})`);
      else if (here.state !== i.state) stateDrift.push(`${i.id} (db ${i.state}, host ${here.state})`);
    }
  }
  let onHostCount = 0;
  for (const [id, copies] of onHosts) {
    onHostCount += copies.length;
    if (copies.length > 1) duplicated.push(`${id} on ${copies.map((c) => c.hostId).join(', ')}`);
    const db = liveById.get(id);
    for (const c of copies) if (!db || db.host_id !== c.hostId) orphans.push(`${id} on ${c.hostId} (db: ${db ? `${db.state} on ${db.host_id}` : 'deleted or unknown'})`);
  }

  // The journal of applied effects: copies of one id alive on two hosts at once, effects on destroyed instances.
  const effects: Record<string, number> = {};
  let misses = 0;
  const effectsOnDestroyed: string[] = [];
  const lifetimes = new Map<string, { h: string; from: number; to: number }[]>();
  const lines: { h: string; id: string; c: string; t: number; miss?: boolean; gone?: boolean }[] = [];
  for (let i = 0; i < agentCount; i++) {
    const file = join(work, `journal-${i}.jsonl`);
    if (!existsSync(file)) continue;
    for (const l of readFileSync(file, 'utf8').split('\n')) {
      try {
        if (l) lines.push(JSON.parse(l));
      } catch {
        /* a line cut by kill -9 */
      }
    }
  }
  lines.sort((a, b) => a.t - b.t);
  for (const l of lines) {
    if (l.miss) {
      misses++;
      continue;
    }
    effects[l.c] = (effects[l.c] ?? 0) + 1;
    if (l.gone) effectsOnDestroyed.push(`${l.c} of ${l.id} on ${l.h}`);
    const lives = lifetimes.get(l.id) ?? [];
    if (l.c === 'create') lives.push({ h: l.h, from: l.t, to: Infinity });
    if (l.c === 'destroy') {
      const open = lives.find((x) => x.h === l.h && x.to === Infinity);
      if (open) open.to = l.t;
    }
    lifetimes.set(l.id, lives);
  }
  const overlappingCopies: string[] = [];
  for (const [id, lives] of lifetimes) {
    for (let a = 0; a < lives.length; a++) {
      for (let b = a + 1; b < lives.length; b++) {
        const x = lives[a]!;
        const y = lives[b]!;
        if (x.h !== y.h && x.from < y.to && y.from < x.to) overlappingCopies.push(`${id} on ${x.h} and ${y.h}`);
      }
    }
  }


  const suspects = [
    ...new Set([...orphans, ...lost, ...duplicated, ...stateDrift, ...strayAtQuiet, ...effectsOnDestroyed.map((x) => x.split(' ')[2]!)].map((x) => x.split(' ')[0]!)),
  ].slice(0, 4);
  const evidence: string[] = [];
  for (const id of suspects) {
    const history = await query(
      `SELECT created_at AS at, 'op     ' || kind || ' ' || status || COALESCE(' (' || (error->>'code') || ': ' || (error->>'message') || ')', '')
                || ' step ' || COALESCE(step, '') || ' job ' || COALESCE(job_id, '') || COALESCE(' finished ' || to_char(finished_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS'), '') AS detail
         FROM operations WHERE instance_id = $1
       UNION ALL
       SELECT created_at, 'state  ' || COALESCE(data->>'from', 'new') || ' -> ' || (data->>'state') || COALESCE(' on ' || (data->>'hostId'), '') || COALESCE(' (' || (data->>'reason') || ')', '')
         FROM events WHERE type = 'instance.state' AND subject_id = $1`,
      [id],
    );
    const timeline = [
      ...history.map((h) => ({ t: new Date(h.at).getTime(), what: String(h.detail) })),
      ...lines.filter((x) => x.id === id).map((l) => ({ t: l.t, what: `driver ${l.c} on ${l.h}${l.miss ? ' (missing)' : ''}${l.gone ? ' (after destroy)' : ''}` })),
    ].sort((a, b) => a.t - b.t);
    evidence.push(`${id}:`, ...timeline.map((e) => `  ${new Date(e.t).toISOString()} ${e.what}`));
  }

  const violations = {
    acceptedNotTerminal,
    acceptedMissing,
    doubleTerminal,
    opsNotTerminal,
    lost,
    duplicated,
    orphans,
    stateDrift,
    overlappingCopies,
    effectsOnDestroyed,
    allocationsMatchClaims: alloc.ok as boolean,
    duplicateHosts,
    selfExits,
  };
  const ok = quiesceSeconds !== null && violations.allocationsMatchClaims && Object.values(violations).every((v) => v === true || (Array.isArray(v) && v.length === 0));
  return {
    seed: opts.seed,
    faultsByKind,
    faultSeconds,
    operations: { accepted: accepted.size, acceptedByKind, refused, refusedByStatus, unreachable, ...counts, allInDb: ops.length },
    quiesceSeconds,
    restarts: Object.fromEntries(processes.map((p) => [p.name, p.restarts])),
    failedStarts,
    crashOutput,
    instances: { live: live.length, onHosts: onHostCount, byState },
    journal: { effects, misses },
    evidence,
    strayCopiesSwept: strayAtQuiet.filter((id) => !orphans.some((o) => o.startsWith(id))),
    violations,
    ok,
  };
  }
}

/** The report as lines for a person (the bench prints it; the suite prints it when it fails). */
export function formatReport(r: ChaosReport): string {
  const v = r.violations;
  const list = (name: string, xs: string[]) => `  ${name.padEnd(22)} ${xs.length}${xs.length ? `  e.g. ${xs.slice(0, 3).join('; ')}` : ''}`;
  return [
    `seed ${r.seed}: ${r.ok ? 'all invariants hold' : 'INVARIANTS VIOLATED'}`,
    `faults by kind          ${Object.entries(r.faultsByKind).map(([k, n]) => `${k} ${n}`).join(', ')} (over ${r.faultSeconds.toFixed(1)} s)`,
    `restarts                ${Object.entries(r.restarts).map(([k, n]) => `${k} ${n}`).join(', ')}; starts that failed and were retried ${r.failedStarts}`,
    `operations accepted     ${r.operations.accepted} (${Object.entries(r.operations.acceptedByKind).map(([k, n]) => `${k} ${n}`).join(', ')})`,
    `  succeeded/failed/cancelled/not ended  ${r.operations.succeeded}/${r.operations.failed}/${r.operations.cancelled}/${r.operations.notTerminal}`,
    `  refused ${r.operations.refused} (${Object.entries(r.operations.refusedByStatus).map(([k, n]) => `${k}: ${n}`).join(', ')}), unreachable (API down) ${r.operations.unreachable}, operations in the db ${r.operations.allInDb}`,
    `quiesce after last fault ${r.quiesceSeconds === null ? 'never (timed out)' : `${r.quiesceSeconds.toFixed(1)} s`}`,
    `instances               ${r.instances.live} live in the db, ${r.instances.onHosts} on the hosts; ${Object.entries(r.instances.byState).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    `driver effects          ${Object.entries(r.journal.effects).map(([k, n]) => `${k} ${n}`).join(', ')}; refused for a missing instance ${r.journal.misses}`,
    `stray copies swept      ${r.strayCopiesSwept.length}${r.strayCopiesSwept.length ? ` (made by late commands, removed by the agents' orphan sweep): ${r.strayCopiesSwept.slice(0, 3).join(', ')}` : ''}`,
    `invariants:`,
    list('accepted not ended', v.acceptedNotTerminal),
    list('accepted not in db', v.acceptedMissing),
    list('two terminal events', v.doubleTerminal),
    list('any op not ended', v.opsNotTerminal),
    list('lost on hosts', v.lost),
    list('on two hosts', v.duplicated),
    list('orphans on hosts', v.orphans),
    list('state db != host', v.stateDrift),
    list('copies overlapping', v.overlappingCopies),
    list('effect on destroyed', v.effectsOnDestroyed),
    list('hosts enrolled twice', v.duplicateHosts),
    list('died by themselves', v.selfExits),
    `  allocations = claims   ${v.allocationsMatchClaims}`,
    ...(r.evidence.length ? ['what happened to them (operations, state events, driver effects):', ...r.evidence] : []),
  ].join('\n');
}
