// Real containers (LXC) and real VMs (QEMU) on this machine, driven only through the HTTP API,
// with a real agent for this host. What the drivers did is checked without asking them: lxc-*
// tools, /sys/fs/cgroup, /proc, the QEMU process's own argv, its console log and its QMP socket.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Driver, LxcDriver, QEMU_OVERHEAD_MIB, QmpClient, REAL_DRIVER_FACTORIES, resolveImageDir } from '@hyperplane/drivers';
import { AgentRuntime } from '@hyperplane/agent';
import { startStack, Stack } from '@hyperplane/testing';

const REQUIRE_REAL = process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS === '1';
const READY_MARKER = 'HYPERPLANE-GUEST-READY';
const MiB = 1024 * 1024;
const REPO = join(__dirname, '..');
const IMAGE_DIR = resolveImageDir();
const LXC_TOOLS = ['lxc-start', 'lxc-stop', 'lxc-info', 'lxc-ls', 'lxc-wait', 'lxc-freeze', 'lxc-unfreeze', 'lxc-cgroup', 'lxc-snapshot', 'lxc-copy', 'lxc-destroy'];
const QEMU_TOOLS = ['qemu-system-x86_64', 'qemu-img'];

function onPath(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  return dirs.some((dir) => dir && existsSync(join(dir, tool)));
}

/** Why LXC containers and QEMU VMs cannot run here, or undefined when they can. */
function whyNotRunnable(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `this is ${process.platform}/${process.arch}, not Linux x86_64 (tiny-linux is an x86_64 image)`;
  const missing = [...LXC_TOOLS, ...QEMU_TOOLS].filter((tool) => !onPath(tool));
  if (missing.length) return `${missing.join(', ')} not installed (apt-get install lxc busybox-static qemu-system-x86 qemu-utils)`;
  if (!['/bin/busybox', '/usr/bin/busybox'].some((p) => existsSync(p))) return 'busybox-static is not installed';
  if (process.getuid?.() !== 0) return 'privileged LXC containers need root';
  return undefined;
}

/** The accelerator the host allows, decided from the host itself: KVM needs a real /dev/kvm (not PVM) and vmx/svm. */
function expectedAccelerator(): 'kvm' | 'tcg' {
  if (!existsSync('/dev/kvm') || existsSync('/sys/module/kvm_pvm')) return 'tcg';
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'kvm' : 'tcg';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns something defined; throws with `what` when `timeoutMs` passes. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

// ---- LXC, seen from outside the driver ----------------------------------------------------------

interface LxcSeen {
  state: string;
  pid?: number;
}

function lxcInfo(lxcPath: string, id: string): LxcSeen | undefined {
  try {
    const out = execFileSync('lxc-info', ['-P', lxcPath, '-n', id, '-s', '-p'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const state = /^State:\s+(\S+)/m.exec(out)?.[1];
    const pid = /^PID:\s+(\d+)/m.exec(out)?.[1];
    return state ? { state, ...(pid ? { pid: Number(pid) } : {}) } : undefined;
  } catch {
    return undefined; // lxc-info exits 1 for a container it does not know
  }
}

function lxcNames(lxcPath: string): string[] {
  if (!existsSync(lxcPath)) return [];
  return execFileSync('lxc-ls', ['-P', lxcPath, '-1'], { encoding: 'utf8', timeout: 30_000 })
    .split(/\s+/)
    .filter(Boolean);
}

function runningPid(lxcPath: string, id: string): number {
  const seen = lxcInfo(lxcPath, id);
  if (seen?.state !== 'RUNNING' || !seen.pid) throw new Error(`container ${id} is ${seen?.state ?? 'unknown to LXC'}, not running`);
  return seen.pid;
}

/** A file of the cgroup `pid` sits in, found from /proc/<pid>/cgroup (v1 per controller, or v2). */
function cgroupFile(pid: number, controller: string, file: string): string | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  for (const line of lines) {
    const [, controllers = '', path = ''] = line.split(':');
    if (controllers.split(',').includes(controller)) {
      const full = `/sys/fs/cgroup/${controller}${path}/${file}`;
      return existsSync(full) ? readFileSync(full, 'utf8').trim() : undefined;
    }
  }
  const unified = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const full = `/sys/fs/cgroup${unified}/${file}`;
  return unified !== undefined && existsSync(full) ? readFileSync(full, 'utf8').trim() : undefined;
}

const CGROUP_V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

/** cgroup v2 weight back to v1 shares, as runc ≥ 1.3 maps them (the inverse of the driver's mapping, computed here). */
function weightToShares(weight: number): number {
  const y = Math.log10(weight) + 7 / 34;
  return Math.round(2 ** ((-125 + Math.sqrt(125 * 125 + 4 * 612 * y)) / 2));
}

/** The memory limit in bytes and the CPU shares the kernel applies to the process. */
function cgroupLimits(pid: number): { memoryBytes: number; cpuShares: number } {
  if (CGROUP_V2) {
    return { memoryBytes: Number(cgroupFile(pid, 'memory', 'memory.max')), cpuShares: weightToShares(Number(cgroupFile(pid, 'cpu', 'cpu.weight'))) };
  }
  return { memoryBytes: Number(cgroupFile(pid, 'memory', 'memory.limit_in_bytes')), cpuShares: Number(cgroupFile(pid, 'cpu', 'cpu.shares')) };
}

/** Processes whose command line names `id`, or that sit in a cgroup LXC made for it. */
function processesOf(id: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const cgroup = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      if (cmdline.includes(id) || cgroup.includes(`lxc.payload.${id}`) || cgroup.includes(`lxc.monitor.${id}`)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Every path under `root` whose name contains `needle` (symlinks are not followed). */
function pathsNamed(root: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.name.includes(needle)) found.push(full);
      if (entry.isDirectory()) walk(full);
    }
  };
  if (existsSync(root)) walk(root);
  return found;
}

// ---- QEMU, seen from outside the driver ---------------------------------------------------------

interface QemuSeen {
  pid: number;
  argv: string[];
}

/** Live QEMU processes whose command line mentions `needle` (an instance id, a state directory). */
function qemuProcesses(needle: string): QemuSeen[] {
  const found: QemuSeen[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv[0]?.includes('qemu-system') && argv.some((a) => a.includes(needle))) found.push({ pid: Number(entry), argv });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function theQemuOf(id: string): QemuSeen {
  const found = qemuProcesses(id);
  if (found.length !== 1) throw new Error(`expected one QEMU process for ${id}, found ${found.length}`);
  return found[0]!;
}

function argAfter(argv: string[], flag: string): string {
  const i = argv.indexOf(flag);
  if (i < 0 || i + 1 >= argv.length) throw new Error(`QEMU was started without ${flag}`);
  return argv[i + 1]!;
}

/** Where this QEMU writes its serial console, keeps its QMP socket and its pidfile: read from its own argv. */
function qemuFiles(q: QemuSeen): { console: string; qmp: string; pidfile: string } {
  const serial = argAfter(q.argv, '-serial');
  const qmp = argAfter(q.argv, '-qmp');
  if (!serial.startsWith('file:') || !qmp.startsWith('unix:')) throw new Error(`unexpected -serial ${serial} / -qmp ${qmp}`);
  return {
    console: serial.slice('file:'.length),
    qmp: firstOptionValue(qmp.slice('unix:'.length)),
    pidfile: argAfter(q.argv, '-pidfile'),
  };
}

/** `path,server=on,wait=off` → path: QEMU's option lists end a value at a single comma; a doubled one is a literal comma. */
function firstOptionValue(list: string): string {
  let value = '';
  for (let i = 0; i < list.length; i++) {
    if (list[i] !== ',') value += list[i];
    else if (list[i + 1] === ',') value += list[i++];
    else break;
  }
  return value;
}

async function qmpStatus(socket: string): Promise<{ status: string; running: boolean }> {
  const qmp = await QmpClient.connect(socket, { connectTimeoutMs: 10_000, commandTimeoutMs: 10_000 });
  try {
    return await qmp.execute<{ status: string; running: boolean }>('query-status');
  } finally {
    qmp.close();
  }
}

/** A live process: present in /proc and not a zombie (a daemonized QEMU's parent is init, which reaps it when it gets to it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

// ---- the suite ----------------------------------------------------------------------------------

const notRunnable = whyNotRunnable();

if (notRunnable) {
  describe('real LXC containers and QEMU VMs through the API', () => {
    if (REQUIRE_REAL) {
      it('has lxc and qemu able to run, as HYPERPLANE_REQUIRE_REAL_DRIVERS=1 demands', () => {
        throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but real drivers cannot run here: ${notRunnable}`);
      });
    } else {
      console.warn(`real-drivers.e2e-spec: not defining the real-driver tests: ${notRunnable}`);
      it('probes the local drivers and finds at least one of them unusable, saying why', async () => {
        const stateDir = mkdtempSync(join(tmpdir(), 'hp-real-probe-'));
        try {
          const hostOs = process.platform === 'linux' ? 'linux' : process.platform === 'darwin' ? 'macos' : 'windows';
          const hostArch = process.arch === 'arm64' ? 'arm64' : 'x86_64';
          const probes = await Promise.all(
            Object.values(REAL_DRIVER_FACTORIES).map((factory) => factory({ stateDir, hostOs, hostArch }).probe().catch((e: unknown) => ({ installed: false, error: String(e) }))),
          );
          const unusable = probes.filter((p) => !p.installed);
          // On another architecture both drivers may work, but the x86_64 tiny-linux image cannot.
          if (process.arch === 'x64') {
            expect(unusable.length).toBeGreaterThan(0);
            for (const p of unusable) expect(p.error).toEqual(expect.any(String));
          }
        } finally {
          rmSync(stateDir, { recursive: true, force: true });
        }
      });
    }
  });
} else {
  describeRealDrivers();
}

function describeRealDrivers(): void {
  describe('real LXC containers and QEMU VMs through the API', () => {
    let stack: Stack | undefined;
    let agent: AgentRuntime | undefined;
    let hostId: string;
    let lxc: LxcDriver;
    let qemu: Driver;
    /** Instances this file made, for the cleanup that runs whatever happened. */
    const made = new Set<string>();

    const api = () => stack!.client;
    const instance = async (id: string): Promise<any> => (await api().get(`/v1/instances/${id}`)).body;

    async function create(spec: Record<string, unknown>, timeoutS = 120): Promise<{ op: any; instance: any }> {
      const r = await api().post('/v1/instances', spec);
      if (r.status !== 202) throw new Error(`create ${JSON.stringify(spec)}: ${r.status} ${JSON.stringify(r.body)}`);
      made.add(r.body.instanceId);
      const op = await api().waitOp(r.body.id, timeoutS);
      return { op, instance: await instance(r.body.instanceId) };
    }

    async function change(method: 'post' | 'delete', path: string, body?: unknown, timeoutS = 120): Promise<any> {
      const r = method === 'post' ? await api().post(path, body) : await api().delete(path);
      if (r.status !== 202) throw new Error(`${method.toUpperCase()} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      const op = await api().waitOp(r.body.id, timeoutS);
      if (op.status !== 'succeeded') throw new Error(`${method.toUpperCase()} ${path}: operation ${op.status}: ${JSON.stringify(op.error)}`);
      return op;
    }

    async function remove(id: string): Promise<void> {
      await change('delete', `/v1/instances/${id}`);
      expect((await api().get(`/v1/instances/${id}`)).status).toBe(404);
    }

    beforeAll(async () => {
      // Idempotent: returns at once when the image is built (as the qemu driver spec does).
      execFileSync('bash', [join(REPO, 'scripts', 'build-tiny-linux.sh'), IMAGE_DIR], { stdio: 'inherit', timeout: 300_000 });
      // The agent for this machine is made here rather than by startStack, so that afterAll can
      // stop it and the stack even when it fails to start (startStack would leave both running).
      stack = await startStack({ local: true, simHosts: [], noAgent: true });
      agent = new AgentRuntime({
        apiUrl: stack.url,
        enrollmentToken: await stack.enrollmentToken(),
        dataDir: stack.dataDir,
        redis: { url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX },
        local: true,
        simHosts: [],
        sim: { timeScale: 1, seed: 1 },
        heartbeatIntervalMs: 500,
        syncIntervalMs: 60_000,
        lockDuration: stack.config.HYPERPLANE_JOB_LOCK_MS,
      });
      await agent.start();
      const [host] = await stack.waitForHosts(1);
      hostId = host.id;
      const broken = ['lxc', 'qemu'].filter((name) => !host.drivers.some((d: any) => d.name === name && d.installed));
      if (broken.length) {
        const why = host.drivers.map((d: any) => `${d.name}: ${d.installed ? 'ok' : d.error}`).join('; ');
        throw new Error(`the agent cannot use ${broken.join(' and ')} on this host (${why})`);
      }
      lxc = agent.driver(hostId, 'lxc') as LxcDriver;
      qemu = agent.driver(hostId, 'qemu')!;
    }, 360_000);

    afterAll(async () => {
      if (!stack) return;
      try {
        // Through the API first, then whatever the drivers still hold, then whatever the tools still see.
        for (const id of made) {
          const r = await api().delete(`/v1/instances/${id}`).catch(() => undefined);
          if (r?.status === 202) await api().waitOp(r.body.id, 60).catch(() => undefined);
        }
        for (const driver of [lxc, qemu].filter(Boolean)) {
          for (const s of await driver.list().catch(() => [])) await driver.destroy(s.id).catch(() => undefined);
        }
        if (lxc) {
          for (const name of lxcNames(lxc.lxcPath)) {
            try {
              execFileSync('lxc-destroy', ['-P', lxc.lxcPath, '-n', name, '-f', '-s'], { stdio: 'ignore', timeout: 60_000 });
            } catch {
              // not a container LXC can load; its directory goes with the data dir
            }
          }
        }
        for (const q of qemuProcesses(stack.dataDir)) process.kill(q.pid, 'SIGKILL');
      } finally {
        await agent?.stop().catch(() => undefined);
        await stack.stop();
      }
    }, 300_000);

    it('lists this host with the lxc and qemu drivers, their versions, capabilities, accelerator and overheads', async () => {
      const host = (await api().get(`/v1/hosts/${hostId}`)).body;
      expect(host).toMatchObject({ os: 'linux', arch: 'x86_64', simulated: false, status: 'ready' });
      const lxcProbe = host.drivers.find((d: any) => d.name === 'lxc');
      const lxcVersion = execFileSync('lxc-start', ['--version'], { encoding: 'utf8' }).trim();
      expect(lxcProbe).toMatchObject({ installed: true, version: expect.stringContaining(lxcVersion) });
      expect(lxcProbe.offers).toEqual([
        expect.objectContaining({
          technology: 'container',
          capabilities: expect.arrayContaining(['suspend', 'snapshot', 'clone', 'liveResize']),
          overhead: { vcpus: 0, memoryMiB: 2, diskGiB: 0 },
          guests: [expect.objectContaining({ os: 'linux', archs: ['x86_64'], distributions: expect.objectContaining({ busybox: ['*'], 'tiny-linux': ['*'] }) })],
        }),
      ]);
      const qemuProbe = host.drivers.find((d: any) => d.name === 'qemu');
      const qemuVersion = /version\s+(\S+)/.exec(execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }))?.[1];
      const accelerator = expectedAccelerator();
      expect(qemuProbe).toMatchObject({ installed: true, version: qemuVersion, accelerator });
      expect(qemuProbe.offers).toEqual([
        expect.objectContaining({
          technology: 'vm',
          capabilities: expect.arrayContaining(['suspend', 'snapshot', 'clone']),
          overhead: { vcpus: 0, memoryMiB: QEMU_OVERHEAD_MIB[accelerator], diskGiB: 0 },
          // Only the templates whose image is in its image directory: tiny-linux, not debian-12.
          guests: [expect.objectContaining({ os: 'linux', archs: ['x86_64'], distributions: { 'tiny-linux': ['1'] } })],
        }),
      ]);
    });

    it('never places a debian-12 VM on the qemu host, which has no image for it: unschedulable, saying why, not error', async () => {
      const { op, instance: made } = await create({ name: 'deb-vm', template: 'debian-12', technology: 'vm', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } }, 60);
      expect(op).toMatchObject({ status: 'failed', step: 'unschedulable', error: { code: 'unschedulable' } });
      expect(op.error.message).toMatch(/debian/);
      expect(made.state).toBe('unschedulable');
      expect(made.hostId).toBeNull();
    });

    describe('a busybox container', () => {
      let id: string;
      let cloneId: string | undefined;

      it('reaches running with the cgroup memory limit and CPU shares it asked for', async () => {
        const { op, instance: created } = await create({
          name: 'bb-1',
          template: 'busybox',
          technology: 'container',
          resources: { vcpus: 1, memoryMiB: 64, diskGiB: 1 },
          limits: { cpuUnits: 512 },
        });
        id = created.id;
        expect(op.status).toBe('succeeded');
        expect(created).toMatchObject({ state: 'running', hostId, driver: 'lxc', technology: 'container' });
        // LXC names the container by the instance id, under the driver's own lxcpath.
        expect(lxcNames(lxc.lxcPath)).toContain(id);
        const pid = runningPid(lxc.lxcPath, id);
        expect(cgroupLimits(pid)).toEqual({ memoryBytes: 64 * MiB, cpuShares: 512 });
      });

      it('stops forcibly ({ force: true }: lxc-stop -k) and starts again', async () => {
        const op = await change('post', `/v1/instances/${id}/actions/stop`, { force: true });
        expect(op.result ?? {}).not.toHaveProperty('error');
        expect(lxcInfo(lxc.lxcPath, id)?.state).toBe('STOPPED');
        await change('post', `/v1/instances/${id}/actions/start`);
        expect(lxcInfo(lxc.lxcPath, id)?.state).toBe('RUNNING');
      });

      it('stops, and a snapshot restored brings its filesystem back to the moment it was taken', async () => {
        await change('post', `/v1/instances/${id}/actions/stop`);
        expect((await instance(id)).state).toBe('stopped');
        expect(lxcInfo(lxc.lxcPath, id)?.state).toBe('STOPPED');

        await change('post', `/v1/instances/${id}/snapshots`, { name: 'clean' });
        expect((await api().get(`/v1/instances/${id}/snapshots`)).body.items.map((s: any) => s.name)).toEqual(['clean']);
        const listed = execFileSync('lxc-snapshot', ['-P', lxc.lxcPath, '-n', id, '-L', '-C'], { encoding: 'utf8' });
        expect(listed).toMatch(/^snap0 /m);
        expect(listed).toContain('clean');

        // Changed after the snapshot: the restore must take it away.
        const marker = join(lxc.lxcPath, id, 'rootfs', 'root', 'after-snapshot');
        writeFileSync(marker, 'written after the snapshot');
        await change('post', `/v1/instances/${id}/snapshots/clean/restore`);
        expect(existsSync(marker)).toBe(false);
        expect(existsSync(join(lxc.lxcPath, id, 'rootfs', 'bin', 'busybox'))).toBe(true);
        expect((await instance(id)).state).toBe('stopped');
      });

      it('clones into a stopped container of its own on the same host', async () => {
        const op = await change('post', `/v1/instances/${id}/clone`, { name: 'bb-1-copy' });
        cloneId = op.result.instanceId as string;
        made.add(cloneId);
        expect(await instance(cloneId)).toMatchObject({ name: 'bb-1-copy', state: 'stopped', hostId, driver: 'lxc' });
        expect(lxcNames(lxc.lxcPath)).toEqual(expect.arrayContaining([id, cloneId]));
        expect(lxcInfo(lxc.lxcPath, cloneId)?.state).toBe('STOPPED');
        expect(existsSync(join(lxc.lxcPath, cloneId, 'rootfs', 'bin', 'busybox'))).toBe(true);
        const uts = execFileSync('lxc-info', ['-P', lxc.lxcPath, '-n', cloneId, '-c', 'lxc.uts.name'], { encoding: 'utf8' });
        expect(uts).toContain('bb-1-copy');
      });

      it('resizes it: the cgroup limits change to the new size (live, where the driver says it can)', async () => {
        const host = (await api().get(`/v1/hosts/${hostId}`)).body;
        const live = host.drivers.find((d: any) => d.name === 'lxc').offers[0].capabilities.includes('liveResize');
        await change('post', `/v1/instances/${id}/actions/start`);
        const pid = runningPid(lxc.lxcPath, id);
        expect(cgroupLimits(pid)).toEqual({ memoryBytes: 64 * MiB, cpuShares: 512 });

        if (!live) await change('post', `/v1/instances/${id}/actions/stop`);
        await change('post', `/v1/instances/${id}/resize`, { resources: { vcpus: 1, memoryMiB: 96, diskGiB: 1 }, limits: { cpuUnits: 768 } });
        if (!live) await change('post', `/v1/instances/${id}/actions/start`);
        expect(await instance(id)).toMatchObject({ state: 'running', resources: { vcpus: 1, memoryMiB: 96, diskGiB: 1 }, limits: { cpuUnits: 768 } });
        const after = runningPid(lxc.lxcPath, id);
        // Live: the very same init, its cgroup rewritten in place.
        if (live) expect(after).toBe(pid);
        expect(cgroupLimits(after)).toEqual({ memoryBytes: 96 * MiB, cpuShares: 768 });
      });

      it('deletes the container and its clone, leaving no container, process or file behind', async () => {
        const pid = runningPid(lxc.lxcPath, id);
        expect(processesOf(id)).toContain(pid);
        for (const gone of [id, cloneId!]) {
          await remove(gone);
          made.delete(gone);
          expect(lxcNames(lxc.lxcPath)).not.toContain(gone);
          expect(lxcInfo(lxc.lxcPath, gone)).toBeUndefined();
          expect(processesOf(gone)).toEqual([]);
          expect(existsSync(join(lxc.lxcPath, gone))).toBe(false);
          expect(pathsNamed(stack!.dataDir, gone)).toEqual([]);
          const cgroups = readdirSync('/sys/fs/cgroup').flatMap((c) => [`/sys/fs/cgroup/${c}/lxc.payload.${gone}`, `/sys/fs/cgroup/${c}/lxc.monitor.${gone}`]);
          expect(cgroups.filter((p) => existsSync(p))).toEqual([]);
        }
        expect(alive(pid)).toBe(false);
      });
    });

    describe('a tiny-linux VM', () => {
      let id: string;
      let files: { console: string; qmp: string; pidfile: string };

      it('reaches running and its serial console shows the guest booted', async () => {
        const { op, instance: created } = await create({ name: 'vm-1', template: 'tiny-linux', technology: 'vm', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
        id = created.id;
        expect(op.status).toBe('succeeded');
        expect(created).toMatchObject({ state: 'running', hostId, driver: 'qemu', technology: 'vm' });
        const q = theQemuOf(id);
        expect(argAfter(q.argv, '-m')).toBe('256M');
        expect(argAfter(q.argv, '-smp')).toBe('1');
        expect(argAfter(q.argv, '-accel')).toBe(expectedAccelerator());
        files = qemuFiles(q);
        // The console log lives in the driver's state directory under the agent's data dir.
        expect(files.console.startsWith(stack!.dataDir)).toBe(true);
        expect(readFileSync(files.console, 'utf8')).toContain(READY_MARKER);
        expect(readFileSync(files.pidfile, 'utf8').trim()).toBe(String(q.pid));
      });

      it('suspends: QMP says paused; resumes: QMP says running', async () => {
        expect(await qmpStatus(files.qmp)).toMatchObject({ status: 'running', running: true });
        await change('post', `/v1/instances/${id}/actions/suspend`);
        expect((await instance(id)).state).toBe('suspended');
        expect(await qmpStatus(files.qmp)).toMatchObject({ status: 'paused', running: false });
        await change('post', `/v1/instances/${id}/actions/resume`);
        expect((await instance(id)).state).toBe('running');
        expect(await qmpStatus(files.qmp)).toMatchObject({ status: 'running', running: true });
      });

      it('stops, and once deleted no QEMU process or state is left', async () => {
        const { pid } = theQemuOf(id);
        await change('post', `/v1/instances/${id}/actions/stop`);
        expect((await instance(id)).state).toBe('stopped');
        expect(qemuProcesses(id)).toEqual([]);
        expect(alive(pid)).toBe(false);
        await remove(id);
        made.delete(id);
        expect(qemuProcesses(id)).toEqual([]);
        expect(existsSync(files.console)).toBe(false);
        expect(existsSync(files.qmp)).toBe(false);
        expect(pathsNamed(stack!.dataDir, id)).toEqual([]);
        expect((await qemu.list()).map((s) => s.id)).not.toContain(id);
      });
    });

    it('runs a container and a VM of the same tiny-linux template side by side on this host', async () => {
      const spec = { template: 'tiny-linux', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } };
      const [ct, vm] = await Promise.all([create({ ...spec, name: 'tl-ct', technology: 'container' }), create({ ...spec, name: 'tl-vm', technology: 'vm' })]);
      expect([ct.op.status, vm.op.status]).toEqual(['succeeded', 'succeeded']);
      expect(ct.instance).toMatchObject({ state: 'running', hostId, technology: 'container', driver: 'lxc', template: 'tiny-linux' });
      expect(vm.instance).toMatchObject({ state: 'running', hostId, technology: 'vm', driver: 'qemu', template: 'tiny-linux' });

      // Both really run, at the same time: an LXC init with the template's userland, and a booted guest.
      const pid = runningPid(lxc.lxcPath, ct.instance.id);
      expect(readFileSync(join(lxc.lxcPath, ct.instance.id, 'rootfs', 'etc', 'os-release'), 'utf8')).toContain('ID=tiny-linux');
      expect(cgroupLimits(pid).memoryBytes).toBe(256 * MiB);
      const q = theQemuOf(vm.instance.id);
      expect(readFileSync(qemuFiles(q).console, 'utf8')).toContain(READY_MARKER);
      expect(alive(pid) && alive(q.pid)).toBe(true);

      for (const i of [ct.instance, vm.instance]) {
        await remove(i.id);
        made.delete(i.id);
      }
      expect(lxcNames(lxc.lxcPath)).not.toContain(ct.instance.id);
      expect(qemuProcesses(vm.instance.id)).toEqual([]);
    });

    describe('templates that do not exist or do not fit', () => {
      const onHost = async () => ({
        containers: lxcNames(lxc.lxcPath).sort(),
        lxc: (await lxc.list()).map((s) => s.id).sort(),
        vms: (await qemu.list()).map((s) => s.id).sort(),
        instances: (await api().get('/v1/instances?limit=500')).body.items.map((i: any) => i.id).sort(),
      });

      it('refuses with 400 a template that does not exist, creating nothing', async () => {
        const before = await onHost();
        const r = await api().post('/v1/instances', { name: 'nope', template: 'no-such-template', technology: 'container', resources: { vcpus: 1, memoryMiB: 64, diskGiB: 1 } });
        expect(r.status).toBe(400);
        expect(JSON.stringify(r.body)).toMatch(/no template named no-such-template/);
        expect(await onHost()).toEqual(before);
      });

      it('refuses with 400 a macos-15 container (macOS templates are VMs only), creating nothing', async () => {
        const before = await onHost();
        const r = await api().post('/v1/instances', { name: 'mac-ct', template: 'macos-15', technology: 'container', resources: { vcpus: 1, memoryMiB: 64, diskGiB: 1 } });
        expect(r.status).toBe(400);
        expect(JSON.stringify(r.body)).toMatch(/technology/);
        expect(await onHost()).toEqual(before);
      });

      it('leaves a windows-server-2022 VM unschedulable with the reason, with nothing made on this Linux host', async () => {
        const before = await onHost();
        const { op, instance: win } = await create({ name: 'win-vm', template: 'windows-server-2022', technology: 'vm', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
        expect(op).toMatchObject({ status: 'failed', error: { code: 'unschedulable' } });
        expect(win).toMatchObject({ state: 'unschedulable', hostId: null });
        expect(win.stateReason).toEqual(expect.any(String));
        expect(win.stateReason.length).toBeGreaterThan(0);
        const after = await onHost();
        expect({ containers: after.containers, lxc: after.lxc, vms: after.vms }).toEqual({ containers: before.containers, lxc: before.lxc, vms: before.vms });
        expect(pathsNamed(stack!.dataDir, win.id)).toEqual([]);
        expect(qemuProcesses(win.id)).toEqual([]);
        expect(processesOf(win.id)).toEqual([]);
      });
    });

    it('notices a QEMU process killed behind its back: after a sync the VM is stopped with the reason, and nothing is leaked', async () => {
      const { instance: vm } = await create({ name: 'vm-killed', template: 'tiny-linux', technology: 'vm', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
      expect(vm.state).toBe('running');
      const q = theQemuOf(vm.id);
      const seen = qemuFiles(q);
      expect(existsSync(seen.pidfile) && existsSync(seen.qmp)).toBe(true);
      process.kill(q.pid, 'SIGKILL');
      await eventually('the QEMU process to be gone', () => (alive(q.pid) ? undefined : true));

      await agent!.syncAll();
      const after = await eventually('the instance to leave running', async () => {
        const i = await instance(vm.id);
        return ['stopped', 'error'].includes(i.state) ? i : undefined;
      });
      expect(after.state).toBe('stopped');
      expect(after.stateReason).toMatch(/died|killed|crashed/);
      expect(after.stateReason).toContain(String(q.pid));
      // The driver cleaned up after the dead process.
      expect(existsSync(seen.pidfile)).toBe(false);
      expect(existsSync(seen.qmp)).toBe(false);
      expect(qemuProcesses(vm.id)).toEqual([]);

      await remove(vm.id);
      made.delete(vm.id);
      expect(existsSync(seen.console)).toBe(false);
      expect(pathsNamed(stack!.dataDir, vm.id)).toEqual([]);
    });
  });
}
