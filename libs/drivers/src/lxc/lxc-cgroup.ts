import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromMilliVcpus, Resources, toMilliVcpus } from '@hyperplane/domain';
import { InstanceLimits } from '../driver';

export type CgroupVersion = 'v1' | 'v2';

/** What the host's cgroups let LXC enforce. */
export interface CgroupLayout {
  /**
   * The key family LXC applies: `lxc.cgroup.*` (v1) or `lxc.cgroup2.*` (v2). On a hybrid host
   * (v1 controllers plus an almost empty cgroup2 at /sys/fs/cgroup/unified) LXC ignores
   * `lxc.cgroup2.*` limits, so a hybrid host is v1.
   */
  version: CgroupVersion;
  hybrid: boolean;
  /** Controllers limits can be applied through. */
  controllers: string[];
  /** v1 only: the kernel accounts swap (memory.memsw.*). */
  memsw: boolean;
  /** blkio.weight, blkio.bfq.weight (v1), io.weight or io.bfq.weight (v2); absent when none. */
  ioWeightKey?: string;
  /**
   * Where the hierarchies are mounted: v1 by controller (`memory` → /sys/fs/cgroup/memory),
   * v2 as `unified`. Lets the driver read a container's cgroup files without a process.
   */
  mounts?: Record<string, string>;
}

export interface CgroupSetting {
  /** The file name in the container's cgroup, e.g. memory.limit_in_bytes. */
  key: string;
  value: string;
  /** The value only restores the kernel default: left out of the config, written live. */
  unset: boolean;
}

export interface LimitPlan {
  settings: CgroupSetting[];
  /** Requests this host cannot enforce, with the reason. */
  unenforced: string[];
}

const MiB = 1024 * 1024;
export const CFS_PERIOD_US = 100_000;
const DEFAULT_SHARES = 1024;
const DEFAULT_IO_WEIGHT = 100;
/** v1 reports "no limit" as a page-aligned LONG_MAX. */
const V1_UNLIMITED = 2 ** 62;

export async function detectCgroupLayout(root = '/sys/fs/cgroup', mountinfo = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  const v1 = new Map<string, string>();
  let unifiedAtRoot = false;
  let anyUnified = false;
  for (const line of (await readFile(mountinfo, 'utf8')).split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4] ?? '';
    const [fsType, , superOpts = ''] = right.split(' ');
    if (fsType === 'cgroup2') anyUnified = true;
    if (fsType === 'cgroup2' && mountPoint === root) unifiedAtRoot = true;
    if (fsType === 'cgroup') {
      for (const opt of superOpts.split(',')) if (!opt.includes('=') && opt !== 'rw' && opt !== 'ro') v1.set(opt, mountPoint);
    }
  }
  if (unifiedAtRoot && v1.size === 0) {
    const controllers = (await readFile(join(root, 'cgroup.controllers'), 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean);
    let ioWeightKey: string | undefined;
    if (controllers.includes('io')) {
      if (await anyChildHas(root, 'io.weight')) ioWeightKey = 'io.weight';
      else if (await anyChildHas(root, 'io.bfq.weight')) ioWeightKey = 'io.bfq.weight';
    }
    return { version: 'v2', hybrid: false, controllers, memsw: false, ioWeightKey, mounts: { unified: root } };
  }
  const memory = v1.get('memory');
  const blkio = v1.get('blkio');
  let ioWeightKey: string | undefined;
  if (blkio && (await exists(join(blkio, 'blkio.weight')))) ioWeightKey = 'blkio.weight';
  else if (blkio && (await bfqAvailable())) ioWeightKey = 'blkio.bfq.weight';
  return {
    version: 'v1',
    hybrid: anyUnified,
    controllers: [...v1.keys()].filter((c) => !c.startsWith('name')).sort(),
    memsw: memory !== undefined && (await exists(join(memory, 'memory.memsw.limit_in_bytes'))),
    ioWeightKey,
    mounts: Object.fromEntries(v1),
  };
}

/** The settings that make a container's cgroup match a request, in an order the kernel accepts. */
export function planLimits(layout: CgroupLayout, resources: Resources, limits: InstanceLimits = {}): LimitPlan {
  const settings: CgroupSetting[] = [];
  const unenforced: string[] = [];
  const has = (controller: string) => layout.controllers.includes(controller);
  const set = (key: string, value: string | number, unset = false) => settings.push({ key, value: String(value), unset });
  const v2 = layout.version === 'v2';

  const memoryBytes = resources.memoryMiB > 0 ? resources.memoryMiB * MiB : undefined;
  if (has('memory')) {
    if (v2) {
      set('memory.max', memoryBytes ?? 'max', memoryBytes === undefined);
      set('memory.swap.max', limits.swapMiB !== undefined ? limits.swapMiB * MiB : 'max', limits.swapMiB === undefined);
    } else {
      set('memory.limit_in_bytes', memoryBytes ?? -1, memoryBytes === undefined);
      // memsw is memory plus swap, so it needs a memory limit to mean anything.
      const memsw = memoryBytes !== undefined && limits.swapMiB !== undefined ? memoryBytes + limits.swapMiB * MiB : undefined;
      if (layout.memsw) set('memory.memsw.limit_in_bytes', memsw ?? -1, memsw === undefined);
      if (limits.swapMiB !== undefined && !layout.memsw) unenforced.push('swapMiB: the kernel has no memory.memsw (swap accounting is off)');
      else if (limits.swapMiB !== undefined && memoryBytes === undefined) unenforced.push('swapMiB: needs a memory limit');
    }
  } else if (memoryBytes !== undefined || limits.swapMiB !== undefined) {
    unenforced.push('memoryMiB: no memory cgroup controller');
  }

  // vcpus becomes a CFS cap (like `docker --cpus`) unless an explicit cap is asked for:
  // 0.25 vCPU is 25 ms of CPU time per 100 ms period ("25000 100000"); 1000 µs is the
  // kernel's smallest quota (0.01 vCPU, the smallest container size).
  const quota =
    limits.cpuCapPercent !== undefined
      ? Math.max(1000, Math.round((CFS_PERIOD_US * limits.cpuCapPercent) / 100))
      : resources.vcpus > 0
        ? Math.max(1000, (toMilliVcpus(resources.vcpus) * CFS_PERIOD_US) / 1000)
        : undefined;
  if (has('cpu')) {
    if (v2) {
      set('cpu.weight', limits.cpuUnits !== undefined ? sharesToWeight(limits.cpuUnits) : 100, limits.cpuUnits === undefined);
      set('cpu.max', `${quota ?? 'max'} ${CFS_PERIOD_US}`, quota === undefined);
    } else {
      set('cpu.shares', limits.cpuUnits ?? DEFAULT_SHARES, limits.cpuUnits === undefined);
      set('cpu.cfs_period_us', CFS_PERIOD_US, quota === undefined);
      set('cpu.cfs_quota_us', quota ?? -1, quota === undefined);
    }
  } else if (limits.cpuUnits !== undefined || quota !== undefined) {
    unenforced.push('cpu: no cpu cgroup controller');
  }

  if (has('pids')) set('pids.max', limits.pids ?? 'max', limits.pids === undefined);
  else if (limits.pids !== undefined) unenforced.push('pids: no pids cgroup controller');

  if (layout.ioWeightKey) {
    const weight = limits.ioWeight ?? DEFAULT_IO_WEIGHT;
    set(layout.ioWeightKey, layout.ioWeightKey === 'io.weight' ? ioWeightToV2(weight) : weight, limits.ioWeight === undefined);
  } else if (limits.ioWeight !== undefined) {
    unenforced.push('ioWeight: no blkio/io weight file on this kernel');
  }
  return { settings, unenforced };
}

/**
 * The order to write a plan into a running container. v1 refuses a memory limit above
 * memsw, so memsw is opened up first and set to its final value last.
 */
export function liveSettings(layout: CgroupLayout, plan: LimitPlan): CgroupSetting[] {
  if (layout.version === 'v1' && layout.memsw && plan.settings.some((s) => s.key === 'memory.memsw.limit_in_bytes')) {
    return [{ key: 'memory.memsw.limit_in_bytes', value: '-1', unset: true }, ...plan.settings];
  }
  return plan.settings;
}

/** Files to read back from a container's cgroup. */
export function readbackKeys(layout: CgroupLayout): string[] {
  const keys =
    layout.version === 'v2'
      ? ['memory.max', 'memory.swap.max', 'memory.current', 'cpu.weight', 'cpu.max', 'pids.max', 'cpuset.cpus.effective']
      : [
          'memory.limit_in_bytes',
          ...(layout.memsw ? ['memory.memsw.limit_in_bytes'] : []),
          'memory.usage_in_bytes',
          'cpu.shares',
          'cpu.cfs_quota_us',
          'cpu.cfs_period_us',
          'pids.max',
          'cpuset.effective_cpus',
        ];
  return layout.ioWeightKey ? [...keys, layout.ioWeightKey] : keys;
}

export interface Readback {
  resources: Pick<Resources, 'vcpus' | 'memoryMiB'>;
  limits: InstanceLimits;
  memoryUsageBytes?: number;
}

export interface HostTotals {
  cpus: number;
  memoryMiB: number;
}

/**
 * Turns cgroup values (read live, or taken from the config of a stopped container) back into
 * resources and limits. A missing value is the kernel default; "no limit" reads as the host's size.
 * The vCPUs are the cap ("25000 100000" → 0.25) — unless the instance asked for an explicit
 * cap (`explicitCap`, limits.cpuCapPercent), which is not its size: then whole CPUs above it.
 */
export function interpretLimits(layout: CgroupLayout, values: ReadonlyMap<string, string>, host: HostTotals, opts: { explicitCap?: boolean } = {}): Readback {
  const int = (key: string): number | undefined => {
    const raw = values.get(key)?.trim();
    if (raw === undefined || raw === '' || raw === 'max') return undefined;
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  };
  const limits: InstanceLimits = {};
  let memoryBytes: number | undefined;
  let capPercent: number | undefined;
  let usage: number | undefined;
  if (layout.version === 'v2') {
    memoryBytes = int('memory.max');
    const swap = int('memory.swap.max');
    if (swap !== undefined) limits.swapMiB = Math.floor(swap / MiB);
    usage = int('memory.current');
    limits.cpuUnits = weightToShares(int('cpu.weight') ?? 100);
    const [quota, period] = (values.get('cpu.max') ?? 'max').trim().split(/\s+/);
    if (quota !== undefined && quota !== 'max') capPercent = (Number(quota) * 100) / Number(period ?? CFS_PERIOD_US);
  } else {
    const limit = int('memory.limit_in_bytes');
    memoryBytes = limit !== undefined && limit > 0 && limit < V1_UNLIMITED ? limit : undefined;
    const memsw = int('memory.memsw.limit_in_bytes');
    if (memoryBytes !== undefined && memsw !== undefined && memsw > 0 && memsw < V1_UNLIMITED) {
      limits.swapMiB = Math.floor((memsw - memoryBytes) / MiB);
    }
    usage = int('memory.usage_in_bytes');
    limits.cpuUnits = int('cpu.shares') ?? DEFAULT_SHARES;
    const quota = int('cpu.cfs_quota_us');
    if (quota !== undefined && quota > 0) capPercent = (quota * 100) / (int('cpu.cfs_period_us') ?? CFS_PERIOD_US);
  }
  if (capPercent !== undefined) limits.cpuCapPercent = Math.round(capPercent);
  const pids = int('pids.max');
  if (pids !== undefined) limits.pids = pids;
  if (layout.ioWeightKey) {
    const match = /(?:^|default\s+)(\d+)/.exec(values.get(layout.ioWeightKey)?.trim() ?? '');
    const weight = match?.[1] ? Number(match[1]) : DEFAULT_IO_WEIGHT;
    limits.ioWeight = layout.ioWeightKey === 'io.weight' ? ioWeightFromV2(weight) : weight;
  }
  const cpusetKey = layout.version === 'v2' ? 'cpuset.cpus.effective' : 'cpuset.effective_cpus';
  const cpus = countCpuList(values.get(cpusetKey)) ?? host.cpus;
  return {
    resources: {
      vcpus:
        capPercent === undefined
          ? cpus
          : opts.explicitCap
            ? Math.min(cpus, Math.max(1, Math.ceil(capPercent / 100)))
            : Math.min(cpus, Math.max(0.001, fromMilliVcpus(toMilliVcpus(capPercent / 100)))),
      memoryMiB: memoryBytes !== undefined ? Math.floor(memoryBytes / MiB) : host.memoryMiB,
    },
    limits,
    memoryUsageBytes: usage,
  };
}

/**
 * cgroup v1 cpu.shares (2–262144, default 1024) to v2 cpu.weight (1–10000, default 100).
 * The quadratic-in-log mapping of runc ≥ 1.3: it keeps both ends and maps 1024 to 100.
 */
export function sharesToWeight(shares: number): number {
  if (shares <= 2) return 1;
  if (shares >= 262_144) return 10_000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.min(10_000, Math.max(1, Math.ceil(10 ** exponent)));
}

export function weightToShares(weight: number): number {
  if (weight <= 1) return 2;
  if (weight >= 10_000) return 262_144;
  const y = Math.log10(weight) + 7 / 34;
  const l = (-125 + Math.sqrt(125 * 125 + 4 * 612 * y)) / 2;
  return Math.round(2 ** l);
}

/** Block I/O weight 10–1000 (v1 scale) to io.weight 1–10000, keeping 100 as the default. */
export function ioWeightToV2(weight: number): number {
  return Math.min(10_000, Math.max(1, Math.round(weight <= 100 ? 1 + ((weight - 10) * 99) / 90 : 100 + ((weight - 100) * 9900) / 900)));
}

export function ioWeightFromV2(weight: number): number {
  return Math.round(weight <= 100 ? 10 + ((weight - 1) * 90) / 99 : 100 + ((weight - 100) * 900) / 9900);
}

export function countCpuList(list: string | undefined): number | undefined {
  if (!list?.trim()) return undefined;
  let count = 0;
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map((n) => Number.parseInt(n, 10));
    if (a === undefined || Number.isNaN(a)) return undefined;
    count += b === undefined || Number.isNaN(b) ? 1 : b - a + 1;
  }
  return count;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function anyChildHas(root: string, file: string): Promise<boolean> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory() && (await exists(join(root, entry.name, file)))) return true;
  return false;
}

/** BFQ is the only v1 block scheduler with weights on current kernels (CFQ is gone). */
async function bfqAvailable(): Promise<boolean> {
  const devices = await readdir('/sys/block').catch(() => []);
  for (const device of devices) {
    const schedulers = await readFile(join('/sys/block', device, 'queue', 'scheduler'), 'utf8').catch(() => '');
    if (/\bbfq\b/.test(schedulers)) return true;
  }
  return false;
}
