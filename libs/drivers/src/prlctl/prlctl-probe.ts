import { Arch, Capability, DriverOffer, DriverProbe, GuestSupport, OsFamily, Resources } from '@hyperplane/domain';
import { DriverError } from '../driver.exception';
import { PrlctlCli } from './prlctl-cli';
import { CtTemplate, parseCtTemplates, parseLicenseEdition, parseList, parseServerInfo, parseVersion, PrlListEntry } from './prlctl-parse';

/** Virtuozzo (Linux: containers and VMs) or Parallels Desktop (macOS: VMs). */
export type PrlFlavour = 'virtuozzo' | 'desktop';

/** Desktop editions whose prlctl may manage VMs (vagrant-parallels `meta.rb`). */
export const DESKTOP_EDITIONS = ['pro', 'business', 'enterprise'] as const;

/**
 * Host cost per instance beyond its request. Not measured (no Parallels host here): a VM's
 * monitor and device emulation, about what QEMU costs under a hardware accelerator; a container
 * only its kernel objects.
 */
export const PRL_OVERHEAD: Readonly<Record<'vm' | 'container', Resources>> = {
  vm: { vcpus: 0, memoryMiB: 128, diskGiB: 0 },
  container: { vcpus: 0, memoryMiB: 8, diskGiB: 0 },
};

export const PRL_VM_CAPABILITIES: readonly Capability[] = ['suspend', 'snapshot', 'clone'];
// `prlctl set --cpus --memsize` applies to a running container at once (cgroups).
export const PRL_CT_CAPABILITIES: readonly Capability[] = ['suspend', 'snapshot', 'clone', 'liveResize'];

/** A template this host can create from: a registered VM template or a Virtuozzo OS template. */
export interface PrlTemplate {
  kind: 'vm' | 'ct';
  /** The VM template's UUID, or the OS template's name for `--ostemplate`. */
  ref: string;
  name: string;
  os: OsFamily;
  distribution: string;
  version: string;
}

export interface PrlHostFacts {
  flavour: PrlFlavour;
  version: string;
  serverVersion: string;
  edition?: string;
  templates: PrlTemplate[];
}

export interface PrlctlProbe extends DriverProbe {
  flavour?: PrlFlavour;
  edition?: string;
}

/** Which product answers: the server's `Version` says Desktop or Server (Virtuozzo); else the host OS. */
export function detectFlavour(serverVersion: string, hostOs: OsFamily): PrlFlavour {
  if (/desktop/i.test(serverVersion)) return 'desktop';
  if (/server|virtuozzo|openvz/i.test(serverVersion)) return 'virtuozzo';
  return hostOs === 'macos' ? 'desktop' : 'virtuozzo';
}

/** "debian-12" → debian 12; "windows-server-2022" → windows-server 2022; "ubuntu-24.04-x86_64" drops the arch. */
export function templateIdentity(name: string): { distribution: string; version: string; os: OsFamily } | null {
  const bare = name.replace(/-(x86_64|amd64|i386|arm64|aarch64)$/, '');
  const m = /^([a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*)-(\d[\w.]*)$/i.exec(bare);
  if (!m) return null;
  const distribution = m[1]!.toLowerCase();
  const os: OsFamily = distribution.startsWith('windows') ? 'windows' : distribution.startsWith('macos') ? 'macos' : 'linux';
  return { distribution, version: m[2]!, os };
}

/** Reads the host once: flavour, edition, templates. Throws a DriverError saying why it cannot be used. */
export async function readHostFacts(cli: PrlctlCli, hostOs: OsFamily, hostArch: Arch): Promise<PrlHostFacts> {
  if (hostOs === 'windows') {
    throw new DriverError('Unsupported', 'prlctl runs on Virtuozzo (Linux) and Parallels Desktop (macOS) hosts; there is no Parallels hypervisor for Windows hosts');
  }
  const version = parseVersion((await cli.prlctl(['--version'], { timeoutMs: 15_000 })).stdout) ?? 'unknown';
  const info = parseServerInfo((await cli.prlsrvctl(['info', '--json'], { timeoutMs: 30_000 })).stdout);
  const flavour = detectFlavour(info.version, hostOs);
  if (flavour === 'desktop' && hostOs !== 'macos') throw new DriverError('Unsupported', `prlsrvctl reports Parallels Desktop (${info.version}) on a ${hostOs} host`);
  if (flavour === 'virtuozzo' && hostOs !== 'linux') throw new DriverError('Unsupported', `prlsrvctl reports Virtuozzo (${info.version}) on a ${hostOs} host`);
  let edition: string | undefined;
  if (flavour === 'desktop') {
    edition = parseLicenseEdition((await cli.prlsrvctl(['info', '--license', '--json'], { timeoutMs: 30_000 })).stdout) ?? 'unknown';
    if (!(DESKTOP_EDITIONS as readonly string[]).includes(edition)) {
      throw new DriverError('Unsupported', `Parallels Desktop ${edition} edition: prlctl needs the Pro, Business or Enterprise edition`);
    }
  }
  const templates: PrlTemplate[] = [];
  const vmTemplates = parseList((await cli.prlctl(['list', '--template', '--json', '-o', 'uuid,type,name'], { timeoutMs: 60_000 })).stdout);
  for (const row of vmTemplates) {
    const t = vmTemplate(row, hostArch);
    if (t) templates.push(t);
  }
  if (flavour === 'virtuozzo') {
    const osTemplates = parseCtTemplates((await cli.prlsrvctl(['cttemplate', 'list', '--json'], { timeoutMs: 60_000 })).stdout);
    for (const t of osTemplates) {
      const ct = ctTemplate(t, hostArch);
      if (ct) templates.push(ct);
    }
  }
  return { flavour, version, serverVersion: info.version, ...(edition ? { edition } : {}), templates };
}

function vmTemplate(row: PrlListEntry, hostArch: Arch): PrlTemplate | null {
  if (row.type !== 'VM') return null;
  const id = templateIdentity(row.name);
  // macOS guests run on Apple silicon only (Virtualization.framework).
  if (!id || (id.os === 'macos' && hostArch !== 'arm64')) return null;
  return { kind: 'vm', ref: row.uuid, name: row.name, ...id };
}

function ctTemplate(t: CtTemplate, hostArch: Arch): PrlTemplate | null {
  if (t.type !== 'os') return null;
  const arch = t.arch === 'x86_64' || t.arch === 'amd64' ? 'x86_64' : t.arch === 'arm64' || t.arch === 'aarch64' ? 'arm64' : null;
  if (arch !== hostArch) return null;
  const id = templateIdentity(t.name);
  if (!id || id.os !== 'linux') return null;
  return { kind: 'ct', ref: t.name, name: t.name, ...id };
}

/** One offer per technology, listing exactly the templates found on the host. */
export function offersFor(facts: PrlHostFacts, hostArch: Arch): DriverOffer[] {
  const offers: DriverOffer[] = [];
  const cts = facts.templates.filter((t) => t.kind === 'ct');
  const vms = facts.templates.filter((t) => t.kind === 'vm');
  if (facts.flavour === 'virtuozzo' && cts.length > 0) {
    offers.push({ technology: 'container', guests: guestsOf(cts, hostArch), capabilities: [...PRL_CT_CAPABILITIES], overhead: { ...PRL_OVERHEAD.container } });
  }
  if (vms.length > 0) {
    offers.push({ technology: 'vm', guests: guestsOf(vms, hostArch), capabilities: [...PRL_VM_CAPABILITIES], overhead: { ...PRL_OVERHEAD.vm } });
  }
  return offers;
}

function guestsOf(templates: readonly PrlTemplate[], hostArch: Arch): GuestSupport[] {
  const byOs = new Map<OsFamily, Record<string, string[]>>();
  for (const t of templates) {
    const dists = byOs.get(t.os) ?? {};
    const versions = dists[t.distribution] ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    dists[t.distribution] = versions;
    byOs.set(t.os, dists);
  }
  return [...byOs.entries()].map(([os, distributions]) => ({ os, archs: [hostArch], distributions }));
}
