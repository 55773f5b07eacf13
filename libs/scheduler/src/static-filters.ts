import {
  ARCHES,
  Arch,
  Capability,
  DRIVER_NAMES,
  DriverName,
  OsFamily,
  Technology,
  TemplateSpec,
  WindowsIsolation,
  compareVersions,
  needsHypervIsolation,
  windowsContainerIsolation,
} from '@hyperplane/domain';
import { DRIVER_PREFERENCE, allowedHostOs, driverUsableOn, offerRunsGuest, runnableArchs } from './compatibility';
import { FILTER } from './filter-codes';
import { ARCH_INDEX, DRIVER_INDEX, HostState, pairBit } from './host-state';
import { PlacementRequest } from './placement.types';

/**
 * What the static filters read from a request. Requests with the same spec (the same `key`)
 * get the same static verdict on every host: that is the equivalence class the cache is keyed by.
 * Resources, group, strategy and preferred labels are not part of it; they only matter to the
 * filters and weighers that run on every decision.
 */
export interface ClassSpec {
  key: string;
  /** The key without zone and labels: the class this one is derived from, when it has either. */
  baseKey: string;
  template: TemplateSpec;
  technology: Technology;
  /** Guest architectures acceptable, in the template's order. */
  wantedArchs: readonly Arch[];
  capabilities: readonly Capability[];
  requiredLabels: readonly (readonly [string, string])[];
  zone: string | undefined;
  allowedOs: readonly OsFamily[];
  /** Mask bits of the drivers the template allows (every arch). */
  allowedPairs: number;
  /** Mask bits of the wanted archs (every driver). */
  archPairs: number;
  /** Kernel version → meets template.minKernel; hosts share a handful of kernels. */
  kernelOk: Map<string, boolean>;
  /** A Windows container whose isolation needs ask for its own kernel: Hyper-V isolation only. */
  hypervRequired: boolean;
  /** The template's Windows build as a number (Windows containers), else null. */
  imageBuild: number | null;
}

/** One way a host can serve the class: a driver, the offer's overhead and the guest arch. */
export interface HostOption {
  driver: DriverName;
  arch: Arch;
  overheadVcpus: number;
  overheadMemoryMiB: number;
  overheadDiskGiB: number;
  /** A Windows container: how it is isolated on this host. */
  isolation?: WindowsIsolation;
}

/** Either the filter (index into FILTER_ORDER) that rejects the host, or the ways it can serve. */
export type StaticVerdict = number | HostOption[];

/** Request-level checks passed: the template offers the technology and the requested arch. */
export function classSpecFor(request: PlacementRequest, technology: Technology): ClassSpec {
  const { template } = request;
  const wantedArchs = request.arch ? [request.arch] : template.archs.filter((a) => ARCHES.includes(a));
  const capabilities = [...new Set(request.capabilities ?? [])].sort();
  const requiredLabels = Object.entries(request.requiredLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, v] as const);
  const allowedDrivers = template.drivers ? DRIVER_NAMES.filter((d) => template.drivers?.includes(d)) : DRIVER_NAMES;
  let allowedPairs = 0;
  let archPairs = 0;
  for (const driver of DRIVER_NAMES) {
    for (const arch of ARCHES) {
      const bit = pairBit(DRIVER_INDEX[driver], ARCH_INDEX[arch]);
      if (allowedDrivers.includes(driver)) allowedPairs |= bit;
      if (wantedArchs.includes(arch)) archPairs |= bit;
    }
  }
  const hypervRequired = technology === 'container' && template.osFamily === 'windows' && needsHypervIsolation(request.isolation);
  const imageBuild = technology === 'container' && template.osFamily === 'windows' && template.windowsBuild ? Number.parseInt(template.windowsBuild, 10) : null;
  const base = JSON.stringify([
    template.name,
    template.osFamily,
    template.distribution,
    template.version,
    template.minKernel ?? null,
    template.windowsBuild ?? null,
    template.drivers ?? null,
    technology,
    wantedArchs,
    capabilities,
    hypervRequired,
  ]);
  const placed = request.zone !== undefined || requiredLabels.length > 0;
  return {
    key: placed ? `${base}|${JSON.stringify([request.zone ?? null, requiredLabels])}` : base,
    baseKey: base,
    template,
    technology,
    wantedArchs,
    capabilities,
    requiredLabels,
    zone: request.zone,
    allowedOs: allowedHostOs(template, technology),
    allowedPairs,
    archPairs,
    kernelOk: new Map(),
    hypervRequired,
    imageBuild: imageBuild !== null && Number.isFinite(imageBuild) ? imageBuild : null,
  };
}

/** The spec without zone and labels, whose verdict a zoned or labelled class starts from. */
export function baseSpecOf(spec: ClassSpec): ClassSpec {
  return { ...spec, key: spec.baseKey, zone: undefined, requiredLabels: [] };
}

/** The first of os → driver → template-drivers → arch that rejects a host, or -1: what the index can tell. */
export function skipVerdict(spec: ClassSpec, os: OsFamily, mask: number): number {
  return spec.allowedOs.includes(os) ? maskVerdict(spec, mask) : FILTER.os;
}

/** The first of driver → template-drivers → arch that rejects a host with this mask, or -1. */
export function maskVerdict(spec: ClassSpec, mask: number): number {
  if (mask === 0) return FILTER.driver;
  if ((mask & spec.allowedPairs) === 0) return FILTER['template-drivers'];
  if ((mask & spec.allowedPairs & spec.archPairs) === 0) return FILTER.arch;
  return -1;
}

/**
 * Runs the static filters (FILTER_ORDER from `os` to `labels`) on one host. The host index
 * skips hosts by `skipVerdict` alone, so the two must agree: this function starts with it.
 */
export function evaluateStatic(host: HostState, spec: ClassSpec): StaticVerdict {
  const verdict = profileVerdict(host, spec);
  if (typeof verdict === 'number') return verdict;
  const placement = placementVerdict(host, spec);
  return placement >= 0 ? placement : verdict;
}

/**
 * The static filters up to `status`: they read only what a host's profile holds (status, OS,
 * versions, arch, drivers), so hosts of one profile share the verdict and the options array.
 */
export function profileVerdict(host: HostState, spec: ClassSpec): StaticVerdict {
  const snap = host.snapshot;
  const skipped = skipVerdict(spec, snap.os, host.masks[spec.technology]);
  if (skipped >= 0) return skipped;

  const { template, technology } = spec;
  const hostArchWanted = spec.wantedArchs.includes(snap.arch);
  let furthest = FILTER.arch;
  const options: HostOption[] = [];
  for (const probe of snap.drivers) {
    if (!Object.hasOwn(DRIVER_INDEX, probe.name) || !driverUsableOn(probe, snap.os)) continue;
    if (template.drivers && !template.drivers.includes(probe.name)) continue;
    for (const offer of probe.offers) {
      if (offer.technology !== technology) continue;
      const runnable = runnableArchs(offer, snap.arch);
      // Native first, then what the driver emulates, in the template's order.
      const archs = hostArchWanted ? [snap.arch] : [];
      for (const arch of spec.wantedArchs) if (arch !== snap.arch && runnable.includes(arch)) archs.push(arch);
      if (archs.length === 0) continue;
      let isolation: WindowsIsolation | undefined;
      // The build rule before the guest list: a driver lists only the images it can run, so a
      // host of another build lacks the image too, and the build is the reason worth giving.
      const windowsGuest = offer.guests.some((g) => g.os === 'windows' && archs.some((a) => g.archs.includes(a) || offer.emulates?.includes(a)));
      if (technology === 'container' && template.osFamily === 'windows' && windowsGuest && (spec.imageBuild !== null || spec.hypervRequired)) {
        const known = host.windowsBuild === null ? null : Number.parseInt(host.windowsBuild, 10);
        if (spec.imageBuild !== null && (known === null || Number.isNaN(known))) {
          furthest = Math.max(furthest, FILTER['windows-build']);
          continue;
        }
        // No declared image build: taken to be the host's own, so only the mode matters.
        const hostBuild = known ?? 0;
        const verdict = windowsContainerIsolation(spec.imageBuild ?? hostBuild, hostBuild, offer.windowsIsolation, spec.hypervRequired);
        if (!verdict.ok) {
          furthest = Math.max(furthest, verdict.why === 'no-hyperv' ? FILTER['hyperv-isolation'] : FILTER['windows-build']);
          continue;
        }
        isolation = verdict.isolation;
      }
      const arch = archs.find((a) => offerRunsGuest(offer, template, a));
      if (arch === undefined) {
        furthest = Math.max(furthest, FILTER.guest);
        continue;
      }
      if (technology === 'container' && template.minKernel && !kernelMeets(spec, snap.kernel, template.minKernel)) {
        furthest = Math.max(furthest, FILTER.kernel);
        continue;
      }
      if (!spec.capabilities.every((c) => offer.capabilities.includes(c))) {
        furthest = Math.max(furthest, FILTER.capabilities);
        continue;
      }
      const overhead = isolation === 'hyperv' && offer.hypervOverhead ? offer.hypervOverhead : offer.overhead;
      options.push({
        driver: probe.name,
        arch,
        overheadVcpus: overhead.vcpus,
        overheadMemoryMiB: overhead.memoryMiB,
        overheadDiskGiB: overhead.diskGiB,
        ...(isolation ? { isolation } : {}),
      });
    }
  }
  if (options.length === 0) return furthest;
  if (snap.status !== 'ready') return FILTER.status;
  return sortOptions(options, template, snap.arch);
}

/** The last static filters, zone then labels: -1 when the host passes both. */
export function placementVerdict(host: HostState, spec: ClassSpec): number {
  const snap = host.snapshot;
  if (spec.zone !== undefined && snap.zone !== spec.zone) return FILTER.zone;
  for (const [key, value] of spec.requiredLabels) {
    if (!Object.hasOwn(snap.labels, key) || snap.labels[key] !== value) return FILTER.labels;
  }
  return -1;
}

function kernelMeets(spec: ClassSpec, kernel: string, minKernel: string): boolean {
  let ok = spec.kernelOk.get(kernel);
  if (ok === undefined) {
    ok = compareVersions(kernel, minKernel) >= 0;
    spec.kernelOk.set(kernel, ok);
  }
  return ok;
}

/** Native before emulated, then the template's driver order, then DRIVER_PREFERENCE. */
function sortOptions(options: HostOption[], template: TemplateSpec, hostArch: Arch): HostOption[] {
  const rank = (o: HostOption): number => {
    const preferred = template.drivers?.indexOf(o.driver) ?? -1;
    const order = preferred >= 0 ? preferred : DRIVER_NAMES.length + DRIVER_PREFERENCE.indexOf(o.driver);
    return (o.arch === hostArch ? 0 : 100) + order;
  };
  return options.length > 1 ? options.map((o) => [rank(o), o] as const).sort((a, b) => a[0] - b[0]).map(([, o]) => o) : options;
}
