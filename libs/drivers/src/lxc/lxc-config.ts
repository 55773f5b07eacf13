import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Arch, isWholeMilliVcpus, RESOURCE_LIMITS, Resources, TemplateSpec } from '@hyperplane/domain';
import { InstanceLimits } from '../driver';
import { DriverError } from '../driver.exception';
import { assertSafeName } from '../validate';
import { CgroupLayout, planLimits } from './lxc-cgroup';

/** How a template's init is run and stopped. */
export interface BootConfig {
  init: string;
  /** What init takes as "power off": busybox init powers off on SIGUSR2, systemd on SIGRTMIN+3. */
  haltSignal: string;
  rebootSignal: string;
  /** Stock LXC includes (device allowlist, seccomp, capability drops), used when installed. */
  includes: string[];
}

/** What the driver keeps about an instance, beside LXC's own config. */
export interface LxcInstanceMeta {
  schema: 1;
  id: string;
  name: string;
  template: TemplateSpec;
  templateKey: string;
  arch: Arch;
  resources: Resources;
  limits?: InstanceLimits;
  bridge?: string;
  boot: BootConfig;
  createdAt: string;
  clonedFrom?: string;
}

export const META_FILE = 'hyperplane.json';
export const CONSOLE_LOG = 'console.log';
export const LXC_LOG = 'lxc.log';
/** The directory backing store is a plain tree on the host filesystem: nothing caps its size. */
export const DISK_LIMIT_NOTE = 'not enforced: dir backing store';

/** Paths end up in LXC's line-based config and on command lines: keep them plain. */
export function assertSafePath(kind: string, path: string): string {
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._+/-]*$/.test(path) || path.split('/').includes('..')) {
    throw new DriverError('InvalidArgument', `${kind} must be an absolute path of letters, digits and ._+-/, got ${JSON.stringify(path)}`);
  }
  return path;
}

export function assertBridgeName(bridge: string): string {
  assertSafeName('bridge', bridge);
  if (bridge.length > 15) throw new DriverError('InvalidArgument', `bridge name ${bridge} is longer than 15 characters`);
  return bridge;
}

/** Sizes that go into cgroup files must be whole numbers in the kernel's ranges. */
export function assertSizing(resources: Resources, limits: InstanceLimits = {}): void {
  const bad = (what: string) => new DriverError('InvalidArgument', `${what} is out of range`);
  for (const key of ['vcpus', 'memoryMiB', 'diskGiB'] as const) {
    const v = resources[key];
    // A container's vCPUs may be a fraction (a cpu.max quota) in milli-vCPU steps.
    const whole = key === 'vcpus' ? isWholeMilliVcpus(v) : Number.isInteger(v);
    if (!whole || v < 0 || v > RESOURCE_LIMITS[key]) throw bad(`resources.${key} ${v}`);
  }
  const ranges: Record<keyof InstanceLimits, [number, number]> = {
    cpuUnits: [2, 262_144],
    cpuCapPercent: [1, 100 * 1024],
    swapMiB: [0, RESOURCE_LIMITS.memoryMiB],
    pids: [1, 4_194_304],
    ioWeight: [10, 1000],
  };
  for (const [key, [min, max]] of Object.entries(ranges) as [keyof InstanceLimits, [number, number]][]) {
    const v = limits[key];
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw bad(`limits.${key} ${v}`);
  }
}

export interface RenderedConfig {
  text: string;
  unenforced: string[];
}

/** LXC's config for one container; regenerated from the metadata on every change. */
export function renderConfig(meta: LxcInstanceMeta, dir: string, layout: CgroupLayout): RenderedConfig {
  const lines: string[] = [
    '# Written by the Hyperplane lxc driver from hyperplane.json; regenerated on every change.',
    ...meta.boot.includes.map((file) => `lxc.include = ${file}`),
    `lxc.rootfs.path = dir:${join(dir, 'rootfs')}`,
    `lxc.uts.name = ${assertSafeName('instance name', meta.name)}`,
    'lxc.autodev = 1',
    `lxc.init.cmd = ${meta.boot.init}`,
    `lxc.signal.halt = ${meta.boot.haltSignal}`,
    `lxc.signal.reboot = ${meta.boot.rebootSignal}`,
    // No AppArmor key: where AppArmor is on, LXC's default profile for privileged containers
    // applies; this host has no AppArmor, so `unconfined` would change nothing.
  ];
  if (meta.bridge) {
    lines.push(
      'lxc.net.0.type = veth',
      `lxc.net.0.link = ${assertBridgeName(meta.bridge)}`,
      'lxc.net.0.flags = up',
      'lxc.net.0.name = eth0',
      `lxc.net.0.hwaddr = ${macFor(meta.id)}`,
    );
  } else {
    lines.push('lxc.net.0.type = empty');
  }
  lines.push(`lxc.console.logfile = ${join(dir, CONSOLE_LOG)}`, `lxc.log.file = ${join(dir, LXC_LOG)}`, 'lxc.log.level = WARN');
  const plan = planLimits(layout, meta.resources, meta.limits);
  const prefix = layout.version === 'v2' ? 'lxc.cgroup2' : 'lxc.cgroup';
  for (const setting of plan.settings) if (!setting.unset) lines.push(`${prefix}.${setting.key} = ${setting.value}`);
  return { text: `${lines.join('\n')}\n`, unenforced: plan.unenforced };
}

/** The cgroup limits a config sets, keyed like the cgroup files (for stopped containers). */
export function cgroupValuesFromConfig(text: string, layout: CgroupLayout): Map<string, string> {
  const prefix = layout.version === 'v2' ? 'lxc.cgroup2.' : 'lxc.cgroup.';
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z0-9_.]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m?.[1] || !m[1].startsWith(prefix)) continue;
    const key = m[1].slice(prefix.length);
    if (!key.startsWith('devices.')) values.set(key, m[2] ?? '');
  }
  return values;
}

/** A stable locally administered MAC in LXC's 00:16:3e range, derived from the id. */
export function macFor(id: string): string {
  const h = createHash('sha256').update(id).digest();
  return ['00', '16', '3e', ...[h[0], h[1], h[2]].map((b) => (b ?? 0).toString(16).padStart(2, '0'))].join(':');
}

export async function readMeta(dir: string): Promise<LxcInstanceMeta | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, META_FILE), 'utf8')) as LxcInstanceMeta;
  } catch {
    return undefined;
  }
}

/**
 * Writes the metadata and the config it implies, each by an atomic rename. `finalDir` is where
 * the container will live when `dir` is a staging directory still to be renamed into place.
 */
export async function writeInstanceFiles(dir: string, meta: LxcInstanceMeta, layout: CgroupLayout, finalDir = dir): Promise<RenderedConfig> {
  const rendered = renderConfig(meta, finalDir, layout);
  await writeAtomic(join(dir, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
  await writeAtomic(join(dir, 'config'), rendered.text);
  return rendered;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o640 });
  await rename(tmp, path);
}
