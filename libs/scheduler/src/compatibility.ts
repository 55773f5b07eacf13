import {
  Arch,
  DriverName,
  DriverOffer,
  DriverProbe,
  GuestSupport,
  IsolationNeeds,
  NEEDS_DEDICATED_KERNEL,
  OsFamily,
  Technology,
  TemplateSpec,
} from '@hyperplane/domain';

// The rules of what can run where. Pure functions over domain types, shared by the filters
// and the host index so that both agree on every host.

/** Host OS families a driver is valid on, whatever an agent reports. */
export const DRIVER_HOST_OS: Readonly<Record<DriverName, readonly OsFamily[]>> = {
  sim: ['linux', 'windows', 'macos'],
  lxc: ['linux'],
  // KVM on Linux; on macOS (HVF) and Windows (WHPX) with other accelerators, see below.
  qemu: ['linux', 'windows', 'macos'],
  prlctl: ['linux', 'windows', 'macos'],
  hyperv: ['windows'],
  wincontainer: ['windows'],
};

/** Hardware accelerators that exist on one host OS only. Others (tcg) run anywhere. */
export const ACCELERATOR_HOST_OS: Readonly<Record<string, OsFamily>> = {
  kvm: 'linux',
  hvf: 'macos',
  whpx: 'windows',
};

/**
 * macOS guests per Mac at most: Apple's licence (SLA §2B(iii)) allows two, and
 * Virtualization.framework refuses a third (`VZError.virtualMachineLimitExceeded`).
 */
export const MAX_MACOS_GUESTS = 2;

/** Which driver serves when a host has several that could; real ones before the simulator. */
export const DRIVER_PREFERENCE: readonly DriverName[] = ['lxc', 'wincontainer', 'hyperv', 'qemu', 'prlctl', 'sim'];

export const OS_NAMES: Readonly<Record<OsFamily, string>> = { linux: 'Linux', windows: 'Windows', macos: 'macOS' };

/** A driver the host may use: installed, and valid on the host's OS (with its accelerator). */
export function driverUsableOn(probe: DriverProbe, os: OsFamily): boolean {
  if (!probe.installed) return false;
  const oses = Object.hasOwn(DRIVER_HOST_OS, probe.name) ? DRIVER_HOST_OS[probe.name] : undefined;
  if (!oses?.includes(os)) return false;
  const accelOs = probe.accelerator && Object.hasOwn(ACCELERATOR_HOST_OS, probe.accelerator)
    ? ACCELERATOR_HOST_OS[probe.accelerator]
    : undefined;
  return accelOs === undefined || accelOs === os;
}

/**
 * Host OS families that can run the template with the technology. A container shares the host
 * kernel: a Linux container needs a Linux host, a Windows container a Windows host, and macOS
 * hosts take no containers. A macOS guest runs only on a macOS host; other VMs run anywhere a
 * driver supports them.
 */
export function allowedHostOs(template: TemplateSpec, technology: Technology): readonly OsFamily[] {
  if (technology === 'container') return template.osFamily === 'macos' ? [] : [template.osFamily];
  return template.osFamily === 'macos' ? ['macos'] : ['linux', 'windows', 'macos'];
}

/** Guest architectures an offer runs on this host: a container only the host's own CPU. */
export function runnableArchs(offer: DriverOffer, hostArch: Arch): readonly Arch[] {
  if (offer.technology === 'container') return [hostArch];
  return offer.emulates?.length ? [hostArch, ...offer.emulates.filter((a) => a !== hostArch)] : [hostArch];
}

/** Does the offer list the template's OS, and its distribution and version when it restricts them? */
export function offerRunsGuest(offer: DriverOffer, template: TemplateSpec, arch: Arch): boolean {
  return offer.guests.some((guest) => guestMatches(guest, offer, template, arch));
}

function guestMatches(guest: GuestSupport, offer: DriverOffer, template: TemplateSpec, arch: Arch): boolean {
  if (guest.os !== template.osFamily) return false;
  if (!guest.archs.includes(arch) && !offer.emulates?.includes(arch)) return false;
  if (!guest.distributions) return true;
  if (!Object.hasOwn(guest.distributions, template.distribution)) return false;
  const versions = guest.distributions[template.distribution] ?? [];
  return versions.includes('*') || versions.includes(template.version);
}

/** The Windows build of a host, the third part of `10.0.20348` in its OS version or kernel. */
export function windowsBuildOf(osVersion: string, kernel: string): string | null {
  const pattern = /(\d+)\.(\d+)\.(\d+)/;
  return pattern.exec(osVersion)?.[3] ?? pattern.exec(kernel)?.[3] ?? null;
}

/** Isolation needs that a container, sharing the host kernel, cannot meet. */
export function dedicatedKernelNeeds(isolation: IsolationNeeds | undefined): string[] {
  return (isolation?.needs ?? []).filter((need) => NEEDS_DEDICATED_KERNEL.includes(need));
}

export function needsDedicatedKernel(isolation: IsolationNeeds | undefined): boolean {
  return (
    isolation?.kernel === 'dedicated' || isolation?.security === 'strict' || dedicatedKernelNeeds(isolation).length > 0
  );
}

/** Why the isolation needs rule out a container, in words; null when a container may do. */
export function containerBlocker(isolation: IsolationNeeds | undefined): string | null {
  const needs = dedicatedKernelNeeds(isolation);
  if (needs.length > 0) {
    return `the request needs ${needs.join(' and ')}, which a container sharing the host kernel cannot have`;
  }
  if (isolation?.kernel === 'dedicated') return 'the request asks for a dedicated kernel, which only a VM has';
  if (isolation?.security === 'strict') {
    return 'the request asks for strict security isolation, a hardware boundary a container sharing the host kernel does not give';
  }
  return null;
}
