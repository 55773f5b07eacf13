import { Arch, Capability, DriverOffer, DriverProbe, GuestSupport, OsFamily, Resources } from '@hyperplane/domain';
import { templateIdentity } from '../prlctl/prlctl-probe';

/** What probe.ps1 reports. */
export interface HvHostFacts {
  build: number;
  osVersion: string;
  moduleAvailable: boolean;
  hypervisorPresent: boolean;
  vmmsRunning: boolean;
  hostVersion: string;
  templates: { name: string; path: string; sizeBytes: number }[];
}

export interface HvTemplate {
  name: string;
  path: string;
  os: OsFamily;
  distribution: string;
  version: string;
}

export interface HypervProbe extends DriverProbe {
  build?: number;
  templateDir?: string;
}

// Not measured (no Hyper-V here): the worker process and the VM's video/VMBus memory.
export const HV_OVERHEAD: Resources = { vcpus: 0, memoryMiB: 160, diskGiB: 0 };
// Set-VMProcessor / Set-VMMemory need the VM Off, so no liveResize; no clone cmdlet either.
export const HV_CAPABILITIES: readonly Capability[] = ['suspend', 'snapshot'];

/** Why Hyper-V cannot be used on this host, or null when it can. */
export function unusableReason(facts: HvHostFacts, templateDir: string): string | null {
  if (!facts.moduleAvailable) return 'the Hyper-V PowerShell module is not installed (Install-WindowsFeature Hyper-V -IncludeManagementTools, or Enable-WindowsOptionalFeature -Online -FeatureName Microsoft-Hyper-V-All)';
  if (!facts.hypervisorPresent) return 'no hypervisor is running: enable virtualization (VT-x/AMD-V) in the firmware and the Hyper-V role, then reboot';
  if (!facts.vmmsRunning) return 'the Virtual Machine Management service (vmms) is not running';
  if (templates(facts).length === 0) return `no base disks to create from: put a VHDX named like windows-server-2022.vhdx in ${templateDir}`;
  return null;
}

/** The base disks whose names say which guest they hold. */
export function templates(facts: HvHostFacts): HvTemplate[] {
  const out: HvTemplate[] = [];
  for (const t of facts.templates) {
    const id = templateIdentity(t.name);
    // Hyper-V runs no macOS guests.
    if (id && id.os !== 'macos') out.push({ name: t.name, path: t.path, ...id });
  }
  return out;
}

/** One VM offer listing exactly the guests of the base disks present. */
export function hvOffers(facts: HvHostFacts, hostArch: Arch): DriverOffer[] {
  const found = templates(facts);
  if (found.length === 0) return [];
  const byOs = new Map<OsFamily, Record<string, string[]>>();
  for (const t of found) {
    const dists = byOs.get(t.os) ?? {};
    const versions = dists[t.distribution] ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    dists[t.distribution] = versions;
    byOs.set(t.os, dists);
  }
  const guests: GuestSupport[] = [...byOs.entries()].map(([os, distributions]) => ({ os, archs: [hostArch], distributions }));
  return [{ technology: 'vm', guests, capabilities: [...HV_CAPABILITIES], overhead: { ...HV_OVERHEAD } }];
}
