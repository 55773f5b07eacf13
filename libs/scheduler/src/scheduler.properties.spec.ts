import {
  ARCHES,
  Arch,
  DriverOffer,
  DriverProbe,
  NEEDS_DEDICATED_KERNEL,
  Resources,
  Technology,
  compareVersions,
} from '@hyperplane/domain';
import fc from 'fast-check';
import { clonedFleetArb, fleetArb, policyArb, requestArb } from '../test/arbitraries';
import { FILTER_ORDER, FilterCode } from './filter-codes';
import { HostSnapshot, PlacementDecision, PlacementPolicy, PlacementRequest, PlacementSuccess } from './placement.types';
import { usableCapacity } from './placement-policy';
import { Scheduler, place } from './scheduler';

// ---------------------------------------------------------------------------------------------
// A reference implementation of the filters, written from the rules rather than from the code:
// every (driver, offer, arch) of a host checked against every filter in FILTER_ORDER, no index,
// no cache, no masks. A host's verdict is the furthest any of its ways got.
// ---------------------------------------------------------------------------------------------

const PASS = FILTER_ORDER.length;
const at = (code: FilterCode): number => FILTER_ORDER.indexOf(code);

interface Way {
  probe: DriverProbe;
  offer: DriverOffer;
  arch: Arch;
  /** Set when the way passes: what it costs beyond the request (a Hyper-V isolated container's utility VM). */
  overhead?: Resources;
  isolation?: 'process' | 'hyperv';
}

function referenceDriverOk(probe: DriverProbe, os: HostSnapshot['os']): boolean {
  // An accelerator exists on one OS only, whichever driver reports it.
  const acceleratorOs = { kvm: 'linux', hvf: 'macos', whpx: 'windows' }[probe.accelerator ?? ''];
  if (!probe.installed || (acceleratorOs !== undefined && acceleratorOs !== os)) return false;
  switch (probe.name) {
    case 'lxc':
      return os === 'linux';
    case 'hyperv':
    case 'wincontainer':
      return os === 'windows';
    case 'qemu':
    case 'prlctl':
    case 'sim':
      return true;
  }
}

function referenceStep(h: HostSnapshot, way: Way | null, req: PlacementRequest, tech: Technology, fleet: readonly HostSnapshot[], policy: PlacementPolicy): number {
  const t = req.template;
  if (req.hostId !== undefined && h.id !== req.hostId) return at('pinned');
  if (tech === 'container' ? t.osFamily === 'macos' || h.os !== t.osFamily : t.osFamily === 'macos' && h.os !== 'macos') {
    return at('os');
  }
  if (!way || !referenceDriverOk(way.probe, h.os) || way.offer.technology !== tech) return at('driver');
  if (t.drivers && !t.drivers.includes(way.probe.name)) return at('template-drivers');
  const emulates = way.offer.emulates ?? [];
  const wanted = req.arch ? [req.arch] : t.archs;
  if (!wanted.includes(way.arch)) return at('arch');
  if (way.arch !== h.arch && (tech === 'container' || !emulates.includes(way.arch))) return at('arch');
  let hypervIsolated = false;
  // The build rule comes before the guest list for Windows containers (see static-filters.ts).
  const windowsGuest = way.offer.guests.some((g) => g.os === 'windows' && (g.archs.includes(way.arch) || emulates.includes(way.arch)));
  if (tech === 'container' && t.osFamily === 'windows' && windowsGuest) {
    // Process isolation: the same build; Hyper-V isolation: the same or older; strict isolation: Hyper-V only.
    const hypervNeeded = req.isolation?.kernel === 'dedicated' || req.isolation?.security === 'strict';
    const modes = way.offer.windowsIsolation ?? ['process'];
    const hostBuild = Number(h.osVersion.split('.')[2] ?? Number.NaN);
    if (t.windowsBuild) {
      const imageBuild = Number(t.windowsBuild);
      if (Number.isNaN(hostBuild)) return at('windows-build');
      const processOk = !hypervNeeded && modes.includes('process') && imageBuild === hostBuild;
      const hypervOk = modes.includes('hyperv') && imageBuild <= hostBuild;
      if (!processOk && !hypervOk) return at(imageBuild > hostBuild ? 'windows-build' : 'hyperv-isolation');
      hypervIsolated = !processOk;
    } else if (hypervNeeded) {
      if (!modes.includes('hyperv')) return at('hyperv-isolation');
      hypervIsolated = true;
    }
    if (t.windowsBuild || hypervNeeded) way.isolation = hypervIsolated ? 'hyperv' : 'process';
  }
  const guestOk = way.offer.guests.some(
    (g) =>
      g.os === t.osFamily &&
      (g.archs.includes(way.arch) || emulates.includes(way.arch)) &&
      (!g.distributions || (g.distributions[t.distribution] ?? []).some((v) => v === '*' || v === t.version)),
  );
  if (!guestOk) return at('guest');
  if (tech === 'container' && t.minKernel && compareVersions(h.kernel, t.minKernel) < 0) return at('kernel');
  if (!(req.capabilities ?? []).every((c) => way.offer.capabilities.includes(c))) return at('capabilities');
  if (h.status !== 'ready') return at('status');
  if (req.zone !== undefined && h.zone !== req.zone) return at('zone');
  if (Object.entries(req.requiredLabels ?? {}).some(([k, v]) => h.labels[k] !== v)) return at('labels');
  if ((req.excludeHosts ?? []).includes(h.id)) return at('excluded');
  const g = req.group;
  const members = g ? (h.groups?.[g.id] ?? 0) : 0;
  if (g?.strict && g.policy === 'anti-affinity' && members > 0) return at('anti-affinity');
  if (g?.strict && g.policy === 'affinity' && members === 0 && fleet.some((x) => (x.groups?.[g.id] ?? 0) > 0)) {
    return at('affinity');
  }
  if (g?.maxPerHost !== undefined && members >= g.maxPerHost) return at('group-max');
  // Apple's licence: at most two macOS guests per Mac.
  if (tech === 'vm' && t.osFamily === 'macos' && (h.macosGuests ?? 0) >= 2) return at('macos-guests');
  const cap = Math.min(h.capacity.instances || policy.maxInstancesPerHost, policy.maxInstancesPerHost);
  if (h.allocated.instances + 1 > cap) return at('density');
  const ratio = policy.ratios[tech];
  // vCPUs count in whole milli-vCPUs (1 vCPU = 1000), everything else in its own unit.
  const unit = (r: keyof Resources): number => (r === 'vcpus' ? 1000 : 1);
  const whole = (r: keyof Resources, v: number): number => Math.round(v * unit(r));
  const usable = (r: keyof Resources): number => Math.floor(Number((whole(r, h.capacity[r]) * ratio[r]).toPrecision(12))) - whole(r, policy.reserved[r]);
  const overhead = hypervIsolated && way.offer.hypervOverhead ? way.offer.hypervOverhead : way.offer.overhead;
  way.overhead = overhead;
  const over = (r: keyof Resources): boolean => whole(r, h.allocated[r]) + whole(r, req.resources[r]) + whole(r, overhead[r]) > usable(r);
  if (over('vcpus')) return at('vcpus');
  if (over('memoryMiB')) return at('memory');
  if (over('diskGiB')) return at('disk');
  return PASS;
}

interface ReferenceVerdict {
  code: number;
  ways: Way[];
}

function referenceHost(h: HostSnapshot, req: PlacementRequest, tech: Technology, fleet: readonly HostSnapshot[], policy: PlacementPolicy): ReferenceVerdict {
  const ways: Way[] = h.drivers.flatMap((probe) => probe.offers.flatMap((offer) => ARCHES.map((arch) => ({ probe, offer, arch }))));
  const steps = (ways.length > 0 ? ways : [null]).map((way) => [referenceStep(h, way, req, tech, fleet, policy), way] as const);
  return {
    code: Math.max(...steps.map(([step]) => step)),
    ways: steps.filter(([step]) => step === PASS).map(([, way]) => way!),
  };
}

function referenceRequestLevel(req: PlacementRequest, tech: Technology): FilterCode | null {
  const iso = req.isolation;
  // A Windows container meets a dedicated kernel and strict security with Hyper-V isolation.
  const ownKernel = req.template.osFamily !== 'windows' && (iso?.kernel === 'dedicated' || iso?.security === 'strict');
  const dedicated = ownKernel || (iso?.needs ?? []).some((n) => NEEDS_DEDICATED_KERNEL.includes(n));
  if (req.technology === 'container' && dedicated) return 'isolation';
  if (!req.template.technologies.includes(tech)) return 'template-technology';
  // `auto` never makes a VM of a fractional size (a VM has whole vCPUs).
  if (req.technology === 'auto' && tech === 'vm' && !Number.isInteger(req.resources.vcpus)) return 'template-technology';
  if (req.arch && !req.template.archs.includes(req.arch)) return 'template-arch';
  return null;
}

/** Rejections per code and the fitting hosts, as the reference sees a request for one technology. */
function reference(req: PlacementRequest, tech: Technology, fleet: readonly HostSnapshot[], policy: PlacementPolicy) {
  const counts: Partial<Record<FilterCode, number>> = {};
  const fitting = new Map<string, Way[]>();
  const requestLevel = referenceRequestLevel(req, tech);
  if (requestLevel) {
    if (fleet.length > 0) counts[requestLevel] = fleet.length;
    return { counts, fitting };
  }
  for (const h of fleet) {
    const verdict = referenceHost(h, req, tech, fleet, policy);
    if (verdict.code === PASS) fitting.set(h.id, verdict.ways);
    else counts[FILTER_ORDER[verdict.code]!] = (counts[FILTER_ORDER[verdict.code]!] ?? 0) + 1;
  }
  return { counts, fitting };
}

const countsOf = (decision: PlacementDecision) =>
  Object.fromEntries(decision.explanation.rejections.map((r) => [r.code, r.count]));

const dedicatedKernel = (req: PlacementRequest): boolean =>
  req.isolation?.kernel === 'dedicated' ||
  req.isolation?.security === 'strict' ||
  (req.isolation?.needs ?? []).some((n) => NEEDS_DEDICATED_KERNEL.includes(n));

/** A fleet and a few requests for it. */
const scenario = (sampling: boolean, requests = 1) =>
  clonedFleetArb.chain((fleet) =>
    fc.record({
      fleet: fc.constant(fleet),
      requests: fc.array(requestArb(fleet.map((h) => h.id)), { minLength: requests, maxLength: requests * 2 }),
      policy: policyArb(sampling),
    }),
  );

function applyClaim(fleet: HostSnapshot[], decision: PlacementSuccess): HostSnapshot[] {
  return fleet.map((h) =>
    h.id !== decision.hostId
      ? h
      : {
          ...h,
          allocated: {
            vcpus: (Math.round(h.allocated.vcpus * 1000) + Math.round(decision.claim.vcpus * 1000)) / 1000,
            memoryMiB: h.allocated.memoryMiB + decision.claim.memoryMiB,
            diskGiB: h.allocated.diskGiB + decision.claim.diskGiB,
            instances: h.allocated.instances + 1,
          },
          groups: decision.groupId
            ? { ...h.groups, [decision.groupId]: (h.groups?.[decision.groupId] ?? 0) + 1 }
            : h.groups,
          ...(decision.macosGuest ? { macosGuests: (h.macosGuests ?? 0) + 1 } : {}),
        },
  );
}

describe('placement properties', () => {
  it('places only where the reference says every filter passes, and counts rejections as it does', () => {
    fc.assert(
      fc.property(scenario(false), ({ fleet, requests, policy }) => {
        for (const req of requests) {
          const decision = new Scheduler(fleet, policy).place(req);
          const tech = decision.explanation.technology!.chosen;
          const ref = reference(req, tech, fleet, policy);
          expect(countsOf(decision)).toEqual(ref.counts);
          expect(decision.explanation.fitting).toBe(ref.fitting.size);
          expect(decision.ok).toBe(ref.fitting.size > 0);
          if (!decision.ok) continue;
          const ways = ref.fitting.get(decision.hostId) ?? [];
          const claimOf = (w: Way): Resources => ({
            vcpus: (Math.round(req.resources.vcpus * 1000) + Math.round((w.overhead ?? w.offer.overhead).vcpus * 1000)) / 1000,
            memoryMiB: req.resources.memoryMiB + (w.overhead ?? w.offer.overhead).memoryMiB,
            diskGiB: req.resources.diskGiB + (w.overhead ?? w.offer.overhead).diskGiB,
          });
          expect(ways.map((w) => [w.probe.name, w.arch, claimOf(w), w.isolation])).toContainEqual([decision.driver, decision.arch, decision.claim, decision.windowsIsolation]);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("chooses a container for auto only when one fits, and a VM only when none does or the isolation forbids it", () => {
    fc.assert(
      fc.property(scenario(false), ({ fleet, requests, policy }) => {
        for (const req of requests.map((r) => ({ ...r, technology: 'auto' as const }))) {
          const decision = place(req, fleet, policy);
          const containerFits = reference({ ...req, technology: 'container' }, 'container', fleet, policy).fitting.size > 0;
          const chosen = decision.explanation.technology?.chosen;
          // A Windows container meets a dedicated kernel and strict security with Hyper-V isolation.
          const otherNeeds = (req.isolation?.needs ?? []).some((n) => NEEDS_DEDICATED_KERNEL.includes(n));
          const forbidden = dedicatedKernel(req) && (req.template.osFamily !== 'windows' || otherNeeds);
          if (forbidden) expect(chosen).not.toBe('container');
          else if (containerFits) expect([chosen, decision.ok]).toEqual(['container', true]);
          // A VM has whole vCPUs: a fractional request never becomes one.
          else if (req.template.technologies.includes('vm') && Number.isInteger(req.resources.vcpus)) expect(chosen).toBe('vm');
          if (!Number.isInteger(req.resources.vcpus)) expect(decision.ok && decision.technology === 'vm').toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never chooses a container sharing the host kernel when the request needs a dedicated one', () => {
    fc.assert(
      fc.property(scenario(false), ({ fleet, requests, policy }) => {
        for (const req of requests.filter(dedicatedKernel)) {
          for (const technology of ['auto', 'container'] as const) {
            const decision = place({ ...req, technology }, fleet, policy);
            if (!decision.ok || decision.technology !== 'container') continue;
            // Only a Windows container in its own utility VM (Hyper-V isolation), and only for
            // the needs that gives: a dedicated kernel, strict security.
            const otherNeeds = (req.isolation?.needs ?? []).some((n) => NEEDS_DEDICATED_KERNEL.includes(n));
            expect([req.template.osFamily, decision.windowsIsolation, otherNeeds]).toEqual(['windows', 'hyperv', false]);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never fills a host past its usable capacity however many claims are committed', () => {
    fc.assert(
      fc.property(scenario(true, 8), ({ fleet, requests, policy }) => {
        const scheduler = new Scheduler(fleet, policy);
        for (const req of [...requests, ...requests]) {
          const decision = scheduler.place(req);
          if (!decision.ok) continue;
          const before = scheduler.host(decision.hostId)!;
          scheduler.commit(decision);
          const after = scheduler.host(decision.hostId)!;
          const usable = usableCapacity(after, decision.technology, policy);
          expect(after.allocated.instances).toBe(before.allocated.instances + 1);
          expect(after.allocated.instances).toBeLessThanOrEqual(usable.instances);
          expect(after.allocated.vcpus).toBeLessThanOrEqual(usable.vcpus);
          expect(after.allocated.memoryMiB).toBeLessThanOrEqual(usable.memoryMiB);
          expect(after.allocated.diskGiB).toBeLessThanOrEqual(usable.diskGiB);
        }
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['without sampling', false],
    ['with sampling', true],
  ])('decides after commits exactly as place() on the fleet with those claims (%s)', (_, sampling) => {
    fc.assert(
      fc.property(scenario(sampling, 6), ({ fleet, requests, policy }) => {
        const scheduler = new Scheduler(fleet, policy);
        let current = fleet;
        for (const req of [...requests, ...requests]) {
          const preview = place(req, current, policy);
          const decision = scheduler.place(req);
          expect(decision).toEqual(preview);
          if (!decision.ok) continue;
          scheduler.commit(decision);
          current = applyClaim(current, decision);
        }
        expect(scheduler.hosts()).toEqual(
          [...current].sort((a, b) => (a.id < b.id ? -1 : 1)).map((h) => ({ ...h, groups: expect.any(Object) })),
        );
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['without sampling', false],
    ['with sampling', true],
  ])('places many alike requests exactly as place() then commit() one after another (%s)', (_, sampling) => {
    fc.assert(
      fc.property(scenario(sampling), fc.integer({ min: 1, max: 40 }), ({ fleet, requests, policy }, count) => {
        const many = new Scheduler(fleet, policy);
        const single = new Scheduler(fleet, policy);
        for (const req of requests) {
          const expected = Array.from({ length: count }, () => {
            const decision = single.place(req);
            if (decision.ok) single.commit(decision);
            return decision;
          });
          expect(many.placeMany(req, count)).toEqual(expected);
        }
        expect(many.hosts()).toEqual(single.hosts());
      }),
      { numRuns: 300 },
    );
  });

  it('decides after updateHost and removeHost exactly as a fresh scheduler on the updated fleet', () => {
    const change = fc.record({
      index: fc.nat(),
      kind: fc.constantFrom('status', 'labels', 'drivers', 'templates', 'groups', 'remove', 'add', 'allocated'),
    });
    fc.assert(
      fc.property(fc.boolean().chain((sampling) => scenario(sampling, 4)), fleetArb, fc.array(change, { maxLength: 6 }), ({ fleet, requests, policy }, spare, changes) => {
        const scheduler = new Scheduler(fleet, policy);
        requests.forEach((req) => scheduler.place(req)); // warm the class cache
        let current = [...fleet];
        for (const { index, kind } of changes) {
          const target = current[index % Math.max(1, current.length)];
          const donor = spare[index % Math.max(1, spare.length)];
          if (kind === 'add' && donor && !current.some((h) => h.id === `x${donor.id}`)) {
            const added = { ...donor, id: `x${donor.id}` };
            current.push(added);
            scheduler.updateHost(added);
          } else if (!target) {
            continue;
          } else if (kind === 'remove') {
            current = current.filter((h) => h !== target);
            expect(scheduler.removeHost(target.id)).toBe(true);
          } else {
            const changed: HostSnapshot = {
              ...target,
              status: kind === 'status' ? (target.status === 'ready' ? 'draining' : 'ready') : target.status,
              labels: kind === 'labels' ? { rack: target.labels.rack === 'a' ? 'b' : 'a' } : target.labels,
              drivers: kind === 'drivers' ? (donor?.drivers ?? []) : target.drivers,
              templates: kind === 'templates' ? (donor?.templates ?? []) : target.templates,
              groups: kind === 'groups' ? (donor?.groups ?? {}) : target.groups,
              allocated: kind === 'allocated' ? { vcpus: 0, memoryMiB: 0, diskGiB: 0, instances: 0 } : target.allocated,
            };
            current = current.map((h) => (h === target ? changed : h));
            scheduler.updateHost(changed);
          }
          for (const req of requests) expect(scheduler.place(req)).toEqual(place(req, current, policy));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('accounts for every host of the fleet in every explanation, sampled or not', () => {
    fc.assert(
      fc.property(fc.boolean().chain((sampling) => scenario(sampling, 3)), ({ fleet, requests, policy }) => {
        const scheduler = new Scheduler(fleet, policy);
        for (const req of requests) {
          const { explanation } = scheduler.place(req);
          const rejected = explanation.rejections.reduce((sum, r) => sum + r.count, 0);
          expect(explanation.hostsConsidered).toBe(fleet.length);
          expect(rejected + (explanation.fitting ?? 0) + (explanation.sampled?.skipped ?? 0)).toBe(fleet.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
