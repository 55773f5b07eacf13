// Real containers (LXC) and real VMs (QEMU) on this machine: time from POST /v1/instances to
// `running` through Hyperplane (api + controller + an agent with this host's real drivers, in
// this process), beside the raw tools doing the same work in the same run:
//   containers: `lxc-create -t busybox` + `lxc-start` in a temporary lxcpath (-P);
//   VMs: `qemu-img create` of the overlay + `qemu-system-x86_64` with the very argv the qemu
//        driver builds, booting the tiny-linux kernel and initrd until the console marker.
// Prints figures; it is not a test. Needs root, lxc, busybox-static, qemu-system-x86 and
// qemu-utils, PostgreSQL and Redis (BENCH_PG, BENCH_REDIS as for the other benchmarks).
// Usage: npm run build && node dist/bench/real-workloads.bench.js [--containers 50] [--vms 5] [--widths 1,10]
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_TEMPLATES } from '@hyperplane/domain';
import {
  buildQemuArgs,
  Driver,
  findRepoRoot,
  LxcDriver,
  readQemuImageRef,
  resolveImage,
  resolveImageDir,
  runCommand,
  waitForConsoleMarker,
} from '@hyperplane/drivers';
import { call, percentile, pool } from './bench-stack';
import { LocalBenchStack, startLocalBenchStack } from './local-stack';
import { exitWhenClean } from './processes';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const CONTAINERS = Number(flag('containers', '50'));
const VMS = Number(flag('vms', '5'));
/** Instances in flight at once; each width is run by both sides. */
const WIDTHS = flag('widths', '1,10')
  .split(',')
  .map(Number)
  .filter((w) => w > 0);
const CONTAINER_SIZE = { vcpus: 1, memoryMiB: 64, diskGiB: 1 };
const VM_SIZE = { vcpus: 1, memoryMiB: 256, diskGiB: 1 };
const TINY_LINUX = BUILTIN_TEMPLATES.find((t) => t.name === 'tiny-linux')!;

/** api + controller + an agent for this machine (local: true, no simulated hosts), as test/support/stack.ts starts them. */
function startLocalStack(): Promise<LocalBenchStack> {
  return startLocalBenchStack({
    name: 'real',
    config: {
      HYPERPLANE_HEARTBEAT_INTERVAL_S: 2,
      HYPERPLANE_HEARTBEAT_TIMEOUT_S: 30,
      // This host has few CPUs; the benchmark measures latency, not the overcommit policy.
      HYPERPLANE_RATIOS_CONTAINER: 'vcpus=64,memoryMiB=1.5,diskGiB=1',
      HYPERPLANE_RATIOS_VM: 'vcpus=64,memoryMiB=1,diskGiB=1',
    },
    drivers: ['lxc', 'qemu'],
    syncIntervalMs: 600_000,
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function summary(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  return `p50_ms=${percentile(sorted, 50).toFixed(0)} p99_ms=${percentile(sorted, 99).toFixed(0)} max_ms=${sorted[sorted.length - 1]!.toFixed(0)}`;
}

// ---- through Hyperplane -------------------------------------------------------------------------

/** POST → the create operation ends; the time to `running`, after checking the instance is running. */
async function createViaApi(stack: LocalBenchStack, spec: Record<string, unknown>): Promise<{ id: string; ms: number }> {
  const t0 = performance.now();
  const post = await call(stack.url, 'POST', '/v1/instances', spec);
  if (post.status !== 202) throw new Error(`POST /v1/instances: ${post.status} ${JSON.stringify(post.body)}`);
  const done = await call(stack.url, 'GET', `/v1/operations/${post.body.id}/wait?timeoutS=300`);
  const ms = performance.now() - t0;
  if (done.body.status !== 'succeeded') throw new Error(`create ${String(spec.name)}: ${JSON.stringify(done.body)}`);
  const instance = await call(stack.url, 'GET', `/v1/instances/${post.body.instanceId}`);
  if (instance.body.state !== 'running' || instance.body.hostId !== stack.hostId) throw new Error(`${String(spec.name)} is ${instance.body.state} on ${instance.body.hostId}`);
  return { id: post.body.instanceId, ms };
}

async function deleteViaApi(stack: LocalBenchStack, ids: string[]): Promise<void> {
  await pool(ids.length, 8, async (i) => {
    const r = await call(stack.url, 'DELETE', `/v1/instances/${ids[i]}`);
    if (r.status !== 202) throw new Error(`DELETE ${ids[i]}: ${r.status} ${JSON.stringify(r.body)}`);
    const done = await call(stack.url, 'GET', `/v1/operations/${r.body.id}/wait?timeoutS=120`);
    if (done.body.status !== 'succeeded') throw new Error(`delete ${ids[i]}: ${JSON.stringify(done.body)}`);
  });
}

async function hyperplane(stack: LocalBenchStack, kind: 'containers' | 'vms', n: number, width: number, tag: string): Promise<{ ids: string[]; times: number[] }> {
  const ids: string[] = [];
  const times: number[] = [];
  await pool(n, width, async (i) => {
    const spec =
      kind === 'containers'
        ? { name: `${tag}-ct-${i}`, template: 'busybox', technology: 'container', resources: CONTAINER_SIZE }
        : { name: `${tag}-vm-${i}`, template: 'tiny-linux', technology: 'vm', resources: VM_SIZE };
    const { id, ms } = await createViaApi(stack, spec);
    ids.push(id);
    times.push(ms);
  });
  return { ids, times };
}

// ---- the raw tools ------------------------------------------------------------------------------

/** `lxc-create -t busybox` + `lxc-start` per container, in a temporary lxcpath; no network (there is no lxcbr0 here). */
async function rawLxc(lxcPath: string, n: number, width: number, tag: string): Promise<{ names: string[]; times: number[] }> {
  const netConf = join(lxcPath, 'no-network.conf');
  writeFileSync(netConf, 'lxc.net.0.type = empty\n');
  const names: string[] = [];
  const times: number[] = [];
  await pool(n, width, async (i) => {
    const name = `${tag}-raw-${i}`;
    const t0 = performance.now();
    await runCommand('lxc-create', ['-P', lxcPath, '-n', name, '-t', 'busybox', '-f', netConf], { timeoutMs: 120_000 });
    names.push(name);
    // -d returns once the container is RUNNING (or failed to be).
    await runCommand('lxc-start', ['-P', lxcPath, '-n', name, '-d'], { timeoutMs: 60_000 });
    times.push(performance.now() - t0);
    const state = (await runCommand('lxc-info', ['-P', lxcPath, '-n', name, '-s'], { timeoutMs: 15_000 })).stdout;
    if (!/RUNNING/.test(state)) throw new Error(`raw container ${name}: ${state.trim()}`);
  });
  return { names, times };
}

async function destroyRawLxc(lxcPath: string, names: string[]): Promise<void> {
  await pool(names.length, 8, async (i) => {
    await runCommand('lxc-stop', ['-P', lxcPath, '-n', names[i]!, '-k'], { timeoutMs: 30_000, okCodes: [0, 1, 2] });
    await runCommand('lxc-destroy', ['-P', lxcPath, '-n', names[i]!, '-f'], { timeoutMs: 60_000 });
  });
}

/** The qemu driver's own work, without the control plane: overlay, daemonized QEMU with the driver's argv, console marker. */
async function rawQemu(root: string, n: number, width: number): Promise<{ pids: number[]; times: number[] }> {
  const imageDir = resolveImageDir();
  const ref = readQemuImageRef(TINY_LINUX);
  const image = await resolveImage(imageDir, ref);
  const accelerator = existsSync('/dev/kvm') && !existsSync('/sys/module/kvm_pvm') && /\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'kvm' : 'tcg';
  const pids: number[] = [];
  const times: number[] = [];
  await pool(n, width, async (i) => {
    const id = randomUUID();
    const dir = join(root, id);
    execFileSync('mkdir', ['-p', dir]);
    const paths = { overlay: join(dir, 'overlay.qcow2'), console: join(dir, 'console.log'), qmp: join(dir, 'qmp.sock'), pidfile: join(dir, 'qemu.pid') };
    const argv = buildQemuArgs({
      id,
      name: `raw-vm-${i}`,
      arch: 'x86_64',
      hostOs: 'linux',
      accelerator,
      memoryMiB: VM_SIZE.memoryMiB,
      vcpus: VM_SIZE.vcpus,
      paths,
      boot: { kernel: image.kernel, initrd: image.initrd, append: image.append, firmware: image.firmware },
    });
    const t0 = performance.now();
    await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image.disk!, '-F', 'qcow2', paths.overlay, `${VM_SIZE.diskGiB}G`], { timeoutMs: 60_000 });
    await runCommand('qemu-system-x86_64', argv, { timeoutMs: 60_000 });
    const pid = Number(readFileSync(paths.pidfile, 'utf8').trim());
    pids.push(pid);
    await waitForConsoleMarker({ path: paths.console, marker: ref.readyMarker!, timeoutMs: 120_000 });
    times.push(performance.now() - t0);
  });
  return { pids, times };
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** QEMU processes whose command line mentions `needle`. */
function qemuPids(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('qemu-system') && cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---- the run ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64' || process.getuid?.() !== 0) throw new Error('needs root on Linux x86_64');
  const repo = findRepoRoot(__dirname);
  if (!repo) throw new Error('cannot find the repository (for scripts/build-tiny-linux.sh)');
  await runCommand('bash', [join(repo, 'scripts', 'build-tiny-linux.sh'), resolveImageDir()], { timeoutMs: 300_000 });

  const scratch = mkdtempSync(join(tmpdir(), 'hp-bench-raw-'));
  const rawLxcPath = join(scratch, 'lxc');
  const rawVmDir = join(scratch, 'vms');
  execFileSync('mkdir', ['-p', rawLxcPath, rawVmDir]);
  let stack: LocalBenchStack | undefined;
  const made: string[] = [];
  const rawNames: string[] = [];
  const rawPids: number[] = [];
  try {
    stack = await startLocalStack();
    const host = (await call(stack.url, 'GET', `/v1/hosts/${stack.hostId}`)).body;
    const qemuProbe = host.drivers.find((d: any) => d.name === 'qemu');
    const lxcProbe = host.drivers.find((d: any) => d.name === 'lxc');
    console.log(`node=${process.version} cpus=${cpus().length} lxc=${lxcProbe.version} qemu=${qemuProbe.version} accelerator=${qemuProbe.accelerator}`);

    // Warm-up, not measured: the first container builds the template cache (what later ones copy),
    // the first boot reads the kernel and initrd into the page cache. Both sides get one.
    const warm = await hyperplane(stack, 'containers', 1, 1, 'warm');
    const warmVm = await hyperplane(stack, 'vms', 1, 1, 'warm');
    await deleteViaApi(stack, [...warm.ids, ...warmVm.ids]);
    const warmRaw = await rawLxc(rawLxcPath, 1, 1, 'warm');
    await destroyRawLxc(rawLxcPath, warmRaw.names);
    const warmRawVm = await rawQemu(rawVmDir, 1, 1);
    killAll(warmRawVm.pids);
    console.log(`warm-up: first container via=hyperplane ms=${warm.times[0]!.toFixed(0)} (builds the template cache) via=raw-lxc ms=${warmRaw.times[0]!.toFixed(0)}`);

    for (const width of WIDTHS) {
      const tag = `w${width}`;
      const ct = await hyperplane(stack, 'containers', CONTAINERS, width, tag);
      made.push(...ct.ids);
      // What the running containers cost: their memory cgroups, as the kernel counts them.
      const lxc = stack.agent.driver(stack.hostId, 'lxc') as LxcDriver;
      const usage = (await lxc.list()).map((s) => Number(s.details?.memoryUsageBytes ?? NaN) / 2 ** 20).filter(Number.isFinite);
      await deleteViaApi(stack, ct.ids);
      made.splice(0);
      const raw = await rawLxc(rawLxcPath, CONTAINERS, width, tag);
      rawNames.push(...raw.names);
      await destroyRawLxc(rawLxcPath, raw.names);
      rawNames.splice(0);
      console.log(`containers via=hyperplane n=${CONTAINERS} width=${width} ${summary(ct.times)} cgroup_memory_mib_p50=${percentile([...usage].sort((a, b) => a - b), 50).toFixed(1)}`);
      console.log(`containers via=raw-lxc n=${CONTAINERS} width=${width} ${summary(raw.times)}`);
      console.log(`containers hyperplane/raw p50_ratio=${(percentile([...ct.times].sort((a, b) => a - b), 50) / percentile([...raw.times].sort((a, b) => a - b), 50)).toFixed(2)}`);

      const vmWidth = Math.min(width, VMS);
      const vms = await hyperplane(stack, 'vms', VMS, vmWidth, tag);
      made.push(...vms.ids);
      const rss = qemuPids(stack.dataDir).map(rssMiB);
      await deleteViaApi(stack, vms.ids);
      made.splice(0);
      const rawVms = await rawQemu(rawVmDir, VMS, vmWidth);
      rawPids.push(...rawVms.pids);
      const rawRss = rawVms.pids.map(rssMiB);
      killAll(rawVms.pids);
      rawPids.splice(0);
      console.log(`vms via=hyperplane n=${VMS} width=${vmWidth} ${summary(vms.times)} host_rss_mib_p50=${percentile([...rss].sort((a, b) => a - b), 50).toFixed(0)}`);
      console.log(`vms via=raw-qemu n=${VMS} width=${vmWidth} ${summary(rawVms.times)} host_rss_mib_p50=${percentile([...rawRss].sort((a, b) => a - b), 50).toFixed(0)}`);
      console.log(`vms hyperplane/raw p50_ratio=${(percentile([...vms.times].sort((a, b) => a - b), 50) / percentile([...rawVms.times].sort((a, b) => a - b), 50)).toFixed(2)}`);
    }
  } finally {
    // Whatever is left, however the run ended: through the API, then the drivers, then the tools.
    if (stack) {
      if (made.length) await deleteViaApi(stack, made).catch(() => undefined);
      for (const name of ['lxc', 'qemu']) {
        const driver: Driver | undefined = stack.agent.driver(stack.hostId, name);
        for (const s of (await driver?.list().catch(() => [])) ?? []) await driver?.destroy(s.id).catch(() => undefined);
      }
      killAll(qemuPids(stack.dataDir));
      await stack.stop().catch((e: unknown) => console.error(`stopping the stack: ${String(e)}`));
    }
    await destroyRawLxc(rawLxcPath, rawNames).catch(() => undefined);
    const leftover = existsSync(rawLxcPath) ? readdirSync(rawLxcPath).filter((f) => !f.endsWith('.conf')) : [];
    for (const name of leftover) await runCommand('lxc-destroy', ['-P', rawLxcPath, '-n', name, '-f'], { timeoutMs: 60_000, okCodes: [0, 1] }).catch(() => undefined);
    killAll([...rawPids, ...qemuPids(scratch)]);
    await sleep(200);
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => exitWhenClean(0),
  (e: unknown) => {
    console.error(e);
    return exitWhenClean(1);
  },
);
