// Migration at the agent level: the host commands a controller sends (migrate-prepare on the
// destination, migrate-send on the source, migrate-finish on the destination, migrate-cleanup on
// the source, migrate-abort on either side after a failure) go through the real Redis queues to
// two agents' host runtimes (each its own MultiQueueConsumer, agent id, host queue and results
// queue) and their drivers. The test plays the controller: it sends each command, reads its
// result from the agent's results queue and chooses the next. Simulated hosts (with failures
// injected at each step), and real LXC containers where this machine can run them.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Arch, InstanceSpec, MigrationMode, MigrationTarget } from '@hyperplane/domain';
import { Driver, LxcDriver, QemuDriver, resolveImageDir, SimDriver, SimFaults, TINY_LINUX_READY_MARKER, TINY_LINUX_TEMPLATE } from '@hyperplane/drivers';
import {
  AgentResultPayload,
  agentHostQueuePrefix,
  agentResultsQueueName,
  deleteRedisPrefix,
  HostCommand,
  HostCommandPayload,
  hostQueueName,
  JobName,
  JobQueue,
  MultiQueueConsumer,
} from '@hyperplane/queue';
import { HostRuntime } from '../apps/agent/src/host/host.runtime';

const REDIS_URL = process.env.HYPERPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const ARCH: Arch = process.arch === 'arm64' ? 'arm64' : 'x86_64';

jest.setTimeout(120_000);

interface FakeAgent {
  agentId: string;
  hostId: string;
  driver: Driver;
  consumer: MultiQueueConsumer;
  queue: JobQueue;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('migration through the host queues of two agents', () => {
  let prefix: string;
  let controller: JobQueue;
  let dir: string;
  const agents: FakeAgent[] = [];

  beforeAll(() => {
    prefix = `hpt${randomBytes(3).toString('hex')}`;
    controller = new JobQueue({ url: REDIS_URL, prefix }, 'test-controller');
    dir = mkdtempSync(join(tmpdir(), 'hp-mig-e2e-'));
  });
  afterAll(async () => {
    for (const a of agents) {
      await a.consumer.close();
      await a.queue.close();
    }
    await controller.close();
    await deleteRedisPrefix(REDIS_URL, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  /** An agent with one host running `driver`, consuming its host queue as the real agent does. */
  function startAgent(driver: Driver): FakeAgent {
    const agentId = randomUUID();
    const hostId = randomUUID();
    const redis = { url: REDIS_URL, prefix };
    const queue = new JobQueue(redis, 'agent');
    const consumer = new MultiQueueConsumer(redis, { concurrencyPerQueue: 4, lockDuration: 30_000, name: 'agent', keyPrefix: `${agentHostQueuePrefix(agentId)}consumer:` });
    new HostRuntime({ hostId, agentId, key: 'h', drivers: new Map([[driver.name, driver]]), queue, consumer }).start();
    const agent = { agentId, hostId, driver, consumer, queue };
    agents.push(agent);
    return agent;
  }

  function sim(key: string, faults?: SimFaults): SimDriver {
    return new SimDriver({ stateDir: join(dir, key), hostOs: 'linux', hostArch: ARCH, hostKey: key, capacity: { vcpus: 64, memoryMiB: 65536, diskGiB: 1000 }, timeScale: 0.01, faults });
  }

  /** Sends one host command as the controller does and waits for its result on the agent's results queue. */
  async function send(agent: FakeAgent, operationId: string, cmd: Omit<HostCommandPayload, 'operationId' | 'hostId' | 'driver'>): Promise<AgentResultPayload> {
    const data: HostCommandPayload = { operationId, hostId: agent.hostId, driver: agent.driver.name, ...cmd };
    await controller.enqueue({ queue: hostQueueName(agent.agentId, agent.hostId), name: JobName.HostCommand, jobId: `cmd-${operationId}-${cmd.command}-${agent.hostId}`, data });
    const deadline = Date.now() + 90_000;
    for (;;) {
      const jobs = await controller.queue(agentResultsQueueName(agent.agentId)).getJobs(['waiting']);
      const hit = jobs.map((j) => j.data as AgentResultPayload).find((r) => r.operationId === operationId && r.command === cmd.command && r.hostId === agent.hostId);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no result for ${cmd.command} on ${agent.hostId}`);
      await sleep(50);
    }
  }

  /**
   * The controller's side of a move: prepare → send → finish → cleanup, and on a failure of
   * prepare, send or finish: abort on the destination, then on the source. Returns the step that failed.
   */
  async function migrate(source: FakeAgent, destination: FakeAgent, spec: InstanceSpec, mode: MigrationMode): Promise<{ failed?: HostCommand; results: AgentResultPayload[] }> {
    const op = randomUUID();
    const results: AgentResultPayload[] = [];
    const step = async (agent: FakeAgent, command: HostCommand, extra: Partial<HostCommandPayload> = {}): Promise<AgentResultPayload> => {
      const r = await send(agent, op, { instanceId: spec.id, command, ...extra });
      results.push(r);
      return r;
    };
    const abort = async (failed: HostCommand) => {
      expect((await step(destination, 'migrate-abort', { migration: { side: 'destination' } })).ok).toBe(true);
      expect((await step(source, 'migrate-abort', { migration: { side: 'source' } })).ok).toBe(true);
      return { failed, results };
    };
    const prepared = await step(destination, 'migrate-prepare', { spec, migration: { mode } });
    if (!prepared.ok) return abort('migrate-prepare');
    const target = prepared.migration?.target as MigrationTarget;
    expect(target).toMatchObject({ mode, port: expect.any(Number) });
    const sent = await step(source, 'migrate-send', { migration: { target } });
    if (!sent.ok) return abort('migrate-send');
    expect(sent.migration?.stats).toMatchObject({ mode, totalMs: expect.any(Number) });
    const finished = await step(destination, 'migrate-finish');
    if (!finished.ok) return abort('migrate-finish');
    expect(finished.state).toBe('running');
    expect((await step(source, 'migrate-cleanup')).ok).toBe(true);
    return { results };
  }

  async function runningCopies(id: string, among: FakeAgent[]): Promise<string[]> {
    const where: string[] = [];
    for (const a of among) if ((await a.driver.list()).some((s) => s.id === id && s.state === 'running')) where.push(a.hostId);
    return where;
  }

  function simSpec(technology: 'vm' | 'container'): InstanceSpec {
    const id = randomUUID();
    return {
      id,
      name: `mig-${id.slice(0, 8)}`,
      template: { name: 'debian-12', osFamily: 'linux', distribution: 'debian', version: '12', archs: [ARCH], technologies: ['vm', 'container'] },
      technology,
      arch: ARCH,
      resources: { vcpus: 2, memoryMiB: 1024, diskGiB: 5 },
    };
  }

  it.each([
    ['vm', 'live'],
    ['container', 'offline'],
  ] as const)('moves a running simulated %s (%s): one running copy, on the destination, each step applied once', async (technology, mode) => {
    const [a, b] = [startAgent(sim(`a-${technology}`)), startAgent(sim(`b-${technology}`))];
    const spec = simSpec(technology);
    await a.driver.create(spec);
    await a.driver.start(spec.id);
    const { failed, results } = await migrate(a, b, spec, mode);
    expect(failed).toBeUndefined();
    expect(results.map((r) => [r.command, r.ok])).toEqual([
      ['migrate-prepare', true],
      ['migrate-send', true],
      ['migrate-finish', true],
      ['migrate-cleanup', true],
    ]);
    expect(await runningCopies(spec.id, [a, b])).toEqual([b.hostId]);
    expect(await a.driver.list()).toEqual([]);
    expect((a.driver as SimDriver).effects).toMatchObject({ 'migrate-send': 1, 'migrate-cleanup': 1 });
    expect((b.driver as SimDriver).effects).toMatchObject({ 'migrate-prepare': 1, 'migrate-finish': 1 });
  });

  it.each(['migrate-prepare', 'migrate-send', 'migrate-finish'] as const)('a failure injected at %s ends with the instance running on the source only', async (at) => {
    const faults: SimFaults = { [at]: { fatal: 1 } };
    const a = startAgent(sim(`fa-${at}`, at === 'migrate-send' ? faults : undefined));
    const b = startAgent(sim(`fb-${at}`, at === 'migrate-send' ? undefined : faults));
    const spec = simSpec('vm');
    await a.driver.create(spec);
    await a.driver.start(spec.id);
    const { failed, results } = await migrate(a, b, spec, 'live');
    expect(failed).toBe(at);
    expect(results.find((r) => r.command === at)).toMatchObject({ ok: false, error: { code: 'Fatal', message: expect.stringContaining(at) } });
    expect(await runningCopies(spec.id, [a, b])).toEqual([a.hostId]);
    expect(await b.driver.list()).toEqual([]);
    expect((b.driver as SimDriver).committed().memoryMiB).toBe(0);
  });

  it('refuses a migrate-send without its target, naming the field', async () => {
    const a = startAgent(sim('bad'));
    const spec = simSpec('vm');
    await a.driver.create(spec);
    const r = await send(a, randomUUID(), { instanceId: spec.id, command: 'migrate-send' });
    expect(r).toMatchObject({ ok: false, error: { code: 'InvalidArgument', message: expect.stringContaining('migration.target') } });
  });

  // ---- Real LXC containers, two lxcpaths, the archive over the agents' authenticated transfer ----

  const lxcMissing = ['lxc-start', 'lxc-info', 'lxc-destroy', 'tar'].filter((t) => ![...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin'].some((d) => d && existsSync(join(d, t))));
  const lxcWhyNot =
    process.platform !== 'linux' ? 'not Linux' : lxcMissing.length ? `${lxcMissing.join(', ')} missing` : process.getuid?.() !== 0 ? 'not root' : !['/bin/busybox', '/usr/bin/busybox'].some((p) => existsSync(p)) ? 'no busybox-static' : undefined;

  (lxcWhyNot && process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS !== '1' ? it.skip : it)('moves a running LXC container between two agents offline (real lxc)', async () => {
    if (lxcWhyNot) throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but LXC cannot run here: ${lxcWhyNot}`);
    const la = new LxcDriver({ stateDir: join(dir, 'lxc-a'), hostOs: 'linux', hostArch: ARCH });
    const lb = new LxcDriver({ stateDir: join(dir, 'lxc-b'), hostOs: 'linux', hostArch: ARCH });
    const [a, b] = [startAgent(la), startAgent(lb)];
    const id = randomUUID();
    const spec: InstanceSpec = {
      id,
      name: `mig-${id.slice(0, 8)}`,
      template: { name: 'busybox', osFamily: 'linux', distribution: 'busybox', version: '1', archs: [ARCH], technologies: ['container'], drivers: ['lxc'] },
      technology: 'container',
      arch: ARCH,
      resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 },
    };
    try {
      await la.create(spec);
      await la.start(id);
      const { failed } = await migrate(a, b, spec, 'offline');
      expect(failed).toBeUndefined();
      expect(await runningCopies(id, [a, b])).toEqual([b.hostId]);
      expect(existsSync(join(la.lxcPath, id))).toBe(false);
    } finally {
      for (const d of [la, lb]) {
        await d.destroy(id).catch(() => undefined);
        for (const name of existsSync(d.lxcPath) ? readdirSync(d.lxcPath) : []) {
          try {
            execFileSync('lxc-destroy', ['-P', d.lxcPath, '-n', name, '-f'], { stdio: 'ignore', timeout: 30_000 });
          } catch {
            // not a container
          }
        }
      }
    }
  });

  // ---- Real QEMU: a running tiny-linux VM moved live between two agents' hosts ----

  const qemuWhyNot =
    process.platform !== 'linux' || process.arch !== 'x64'
      ? 'not Linux x86_64'
      : !['qemu-system-x86_64', 'qemu-img'].every((t) => [...(process.env.PATH ?? '').split(delimiter), '/usr/bin'].some((d) => d && existsSync(join(d, t))))
        ? 'qemu-system-x86_64 or qemu-img missing'
        : !existsSync(join(resolveImageDir(), 'tiny-linux', 'manifest.json'))
          ? `no tiny-linux image in ${resolveImageDir()} (scripts/build-tiny-linux.sh)`
          : undefined;

  (qemuWhyNot && process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS !== '1' ? it.skip : it)(
    'moves a running QEMU VM live between two agents: the guest does not boot again (real qemu)',
    async () => {
      if (qemuWhyNot) throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but QEMU cannot run here: ${qemuWhyNot}`);
      const qa = new QemuDriver({ stateDir: join(dir, 'qemu-a'), hostOs: 'linux', hostArch: 'x86_64', imageDir: resolveImageDir() });
      const qb = new QemuDriver({ stateDir: join(dir, 'qemu-b'), hostOs: 'linux', hostArch: 'x86_64', imageDir: resolveImageDir() });
      const [a, b] = [startAgent(qa), startAgent(qb)];
      const id = randomUUID();
      const spec: InstanceSpec = { id, name: 'mig-vm', template: TINY_LINUX_TEMPLATE, technology: 'vm', arch: 'x86_64', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } };
      try {
        await qa.create(spec);
        await qa.start(id);
        const { failed, results } = await migrate(a, b, spec, 'live');
        expect(failed).toBeUndefined();
        expect(results.find((r) => r.command === 'migrate-send')?.migration?.stats).toMatchObject({ mode: 'live', downtimeMs: expect.any(Number) });
        expect(await runningCopies(id, [a, b])).toEqual([b.hostId]);
        const consoleB = readFileSync(join(dir, 'qemu-b', 'qemu', id, 'console.log'), 'utf8');
        expect(consoleB).not.toContain(TINY_LINUX_READY_MARKER); // it never booted on B
        await qb.stop(id, { timeoutS: 90 });
        expect(readFileSync(join(dir, 'qemu-b', 'qemu', id, 'console.log'), 'utf8')).toContain('power button pressed'); // the guest from A answers on B
      } finally {
        for (const d of [qa, qb]) await d.destroy(id).catch(() => undefined);
      }
    },
    240_000,
  );
});
