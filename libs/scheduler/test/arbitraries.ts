import {
  ARCHES,
  Arch,
  CAPABILITIES,
  Capability,
  DRIVER_NAMES,
  DriverOffer,
  DriverProbe,
  GuestSupport,
  HOST_STATUSES,
  ISOLATION_NEEDS,
  IsolationNeeds,
  OS_FAMILIES,
  TECHNOLOGIES,
  TemplateSpec,
  WindowsIsolation,
} from '@hyperplane/domain';
import fc from 'fast-check';
import { DEFAULT_POLICY } from '../src/placement-policy';
import { HostSnapshot, PlacementPolicy, PlacementRequest } from '../src/placement.types';
import { TEMPLATES } from './fixtures';

// Random fleets and requests for the property specs. Small value sets, so that hosts collide
// with requests often enough for every filter to both pass and reject.

const guestArb: fc.Arbitrary<GuestSupport> = fc.record(
  {
    os: fc.constantFrom(...OS_FAMILIES),
    archs: fc.subarray([...ARCHES]),
    distributions: fc.dictionary(
      fc.constantFrom('debian', 'ubuntu', 'alpine', 'windows-server', 'macos'),
      fc.subarray(['*', '11', '12', '24.04', '3.20', '2022', '15'], { minLength: 1 }),
      { maxKeys: 3 },
    ),
  },
  { requiredKeys: ['os', 'archs'] },
);

const offerArb: fc.Arbitrary<DriverOffer> = fc.record(
  {
    technology: fc.constantFrom(...TECHNOLOGIES),
    guests: fc.array(guestArb, { minLength: 1, maxLength: 3 }),
    capabilities: fc.subarray([...CAPABILITIES]),
    overhead: fc.record({
      vcpus: fc.integer({ min: 0, max: 1 }),
      memoryMiB: fc.constantFrom(0, 0, 128, 512),
      diskGiB: fc.integer({ min: 0, max: 2 }),
    }),
    emulates: fc.subarray([...ARCHES]),
  },
  { requiredKeys: ['technology', 'guests', 'capabilities', 'overhead'] },
);

const probeArb: fc.Arbitrary<DriverProbe> = fc.record(
  {
    name: fc.constantFrom(...DRIVER_NAMES),
    installed: fc.constantFrom(true, true, true, false),
    accelerator: fc.constantFrom('kvm', 'hvf', 'whpx', 'tcg'),
    offers: fc.array(offerArb, { minLength: 1, maxLength: 2 }),
  },
  { requiredKeys: ['name', 'installed', 'offers'] },
);

/** Mostly absent: optional request fields appear one time in four. */
const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });

const capabilitiesArb: fc.Arbitrary<Capability[]> = fc.oneof(
  { arbitrary: fc.constant<Capability[]>([...CAPABILITIES]), weight: 3 },
  { arbitrary: fc.subarray<Capability>([...CAPABILITIES]), weight: 1 },
);
const overheadArb = (technology: 'container' | 'vm') =>
  technology === 'vm'
    ? fc.record({ vcpus: fc.constantFrom(0, 1), memoryMiB: fc.constantFrom(0, 128, 256), diskGiB: fc.constantFrom(0, 1) })
    : fc.constant({ vcpus: 0, memoryMiB: 0, diskGiB: 0 });

/** A driver as a real agent would report it on an OS, with a little variety. */
const RESTRICTED: GuestSupport['distributions'] = { debian: ['12'], ubuntu: ['*'], 'windows-server': ['2022'], macos: ['15'] };

const realisticProbeArb = (
  name: DriverProbe['name'],
  technology: 'container' | 'vm',
  guestOses: readonly GuestSupport['os'][],
  accelerator?: string,
) =>
  fc
    .record({
      installed: fc.constantFrom(true, true, true, true, false),
      capabilities: capabilitiesArb,
      overhead: overheadArb(technology),
      emulates: technology === 'vm' ? fc.constantFrom<Arch[]>([], [], ['arm64'], ['x86_64']) : fc.constant<Arch[]>([]),
      restrict: fc.constantFrom(false, false, false, true),
      // Windows containers: the isolation modes (absent = process only).
      windowsIsolation:
        name === 'wincontainer'
          ? fc.constantFrom<WindowsIsolation[] | undefined>(undefined, ['process'], ['process', 'hyperv'], ['hyperv'])
          : fc.constant<WindowsIsolation[] | undefined>(undefined),
    })
    .map(({ installed, capabilities, overhead, emulates, restrict, windowsIsolation }): DriverProbe => ({
      name,
      installed,
      ...(accelerator ? { accelerator } : {}),
      offers: [
        {
          technology,
          guests: guestOses.map((os) => ({
            os,
            archs: [...ARCHES],
            ...(restrict ? { distributions: RESTRICTED } : {}),
          })),
          capabilities,
          overhead,
          ...(emulates.length ? { emulates } : {}),
          ...(windowsIsolation ? { windowsIsolation } : {}),
          ...(windowsIsolation?.includes('hyperv') ? { hypervOverhead: { vcpus: 0, memoryMiB: 512, diskGiB: 0 } } : {}),
        },
      ],
    }));

const driversFor = (os: GuestSupport['os']): fc.Arbitrary<DriverProbe[]> => {
  const choices =
    os === 'linux'
      ? [
          realisticProbeArb('lxc', 'container', ['linux']),
          realisticProbeArb('qemu', 'vm', ['linux', 'windows'], 'kvm'),
          realisticProbeArb('prlctl', 'vm', ['linux', 'windows']),
          realisticProbeArb('sim', 'container', ['linux']),
        ]
      : os === 'windows'
        ? [
            realisticProbeArb('wincontainer', 'container', ['windows']),
            realisticProbeArb('hyperv', 'vm', ['linux', 'windows']),
            realisticProbeArb('qemu', 'vm', ['linux', 'windows'], 'whpx'),
            realisticProbeArb('sim', 'vm', ['linux', 'windows']),
          ]
        : [
            realisticProbeArb('prlctl', 'vm', ['linux', 'windows', 'macos']),
            realisticProbeArb('qemu', 'vm', ['linux', 'macos'], 'hvf'),
            realisticProbeArb('sim', 'container', ['linux']),
          ];
  return fc
    .tuple(fc.tuple(...choices.map((c) => fc.option(c, { nil: undefined, freq: 3 }))), rarely(probeArb))
    .map(([probes, odd]) => [...probes, odd].filter((p): p is DriverProbe => p !== undefined));
};

const hostArb = (id: string): fc.Arbitrary<HostSnapshot> =>
  fc
    .record({
      name: fc.constantFrom('alpha', 'beta', 'gamma'),
      status: fc.constantFrom(...HOST_STATUSES, ...Array<'ready'>(12).fill('ready')),
      os: fc.constantFrom(...OS_FAMILIES, 'linux', 'linux', 'windows'),
      kernel: fc.constantFrom('4.19.0', '5.10.0', '5.15.0', '6.1.0', '6.8.0'),
      build: fc.constantFrom('10.0.20348', '10.0.20348', '10.0.17763', '10.0.26100'),
      arch: fc.constantFrom(...ARCHES),
      labels: fc.dictionary(fc.constantFrom('rack', 'ssd'), fc.constantFrom('a', 'b'), { maxKeys: 2 }),
      zone: fc.constantFrom(null, 'z1', 'z2'),
      cpus: fc.integer({ min: 1, max: 16 }),
      memoryMiB: fc.integer({ min: 1024, max: 32768 }),
      diskGiB: fc.integer({ min: 20, max: 400 }),
      instances: fc.constantFrom(0, 0, 0, 2, 8),
      used: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
      usedInstances: fc.integer({ min: 0, max: 3 }),
      drivers: fc.constant(null),
      templates: fc.subarray(TEMPLATES.map((t) => t.name)),
      groups: fc.dictionary(fc.constantFrom('g1', 'g2'), fc.integer({ min: 0, max: 3 }), { maxKeys: 2 }),
      macosGuests: fc.constantFrom(0, 0, 1, 2),
    })
    .chain((h) => driversFor(h.os).map((drivers) => ({ ...h, drivers })))
    .map((h) => ({
      id,
      name: `${h.name}-${id}`,
      status: h.status,
      os: h.os,
      osVersion: h.os === 'windows' ? h.build : '1.0',
      kernel: h.os === 'windows' ? h.build : h.kernel,
      arch: h.arch,
      labels: h.labels,
      zone: h.zone,
      capacity: { vcpus: h.cpus, memoryMiB: h.memoryMiB, diskGiB: h.diskGiB, instances: h.instances },
      allocated: {
        vcpus: Math.floor(h.cpus * 2000 * h.used) / 1000,
        memoryMiB: Math.floor(h.memoryMiB * h.used),
        diskGiB: Math.floor(h.diskGiB * h.used),
        instances: h.usedInstances,
      },
      drivers: h.drivers,
      templates: h.templates,
      groups: h.groups,
      // Macs with one or two licence slots taken, so the two-macOS-guests rule is exercised.
      ...(h.os === 'macos' && h.macosGuests > 0 ? { macosGuests: h.macosGuests } : {}),
    }));

/** 0–12 hosts with distinct ids in a shuffled order. */
export const fleetArb: fc.Arbitrary<HostSnapshot[]> = fc
  .integer({ min: 0, max: 12 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => hostArb(`h${String((i * 7) % 13).padStart(2, '0')}`))))
  .map((hosts) => [...hosts]);

/**
 * A fleet where some hosts are clones of others (same drivers, OS, versions; another id, zone,
 * labels and allocation), as fleets built from a few images are: hosts that share a profile.
 */
export const clonedFleetArb: fc.Arbitrary<HostSnapshot[]> = fleetArb.chain((fleet) =>
  fc
    .tuple(
      ...fleet.map((h) =>
        fc.option(
          fc.record({
            zone: fc.constantFrom(null, 'z1', 'z2'),
            labels: fc.dictionary(fc.constantFrom('rack', 'ssd'), fc.constantFrom('a', 'b'), { maxKeys: 2 }),
            instances: fc.integer({ min: 0, max: 3 }),
            // Now and then a clone differs in a profile fact, which must keep it apart.
            differs: fc.option(
              fc.oneof(
                fc.record({ kernel: fc.constantFrom('4.19.0', '5.15.0', '6.8.0') }),
                fc.record({ status: fc.constantFrom(...HOST_STATUSES) }),
                fc.record({ arch: fc.constantFrom(...ARCHES) }),
                fc.constantFrom({ osVersion: '10.0.17763' }, { osVersion: '10.0.20348' }),
              ),
              { nil: undefined, freq: 3 },
            ),
          }),
          { nil: undefined, freq: 2 },
        ).map((clone): HostSnapshot[] =>
          clone
            ? [
                {
                  ...h,
                  ...clone.differs,
                  id: `${h.id}c`,
                  zone: clone.zone,
                  labels: clone.labels,
                  allocated: { ...h.allocated, instances: clone.instances },
                },
              ]
            : [],
        ),
      ),
    )
    .map((clones) => [...fleet, ...clones.flat()]),
);

const templateArb: fc.Arbitrary<TemplateSpec> = fc.oneof(
  { arbitrary: fc.constantFrom(...TEMPLATES), weight: 4 },
  {
    arbitrary: fc
      .record({ base: fc.constantFrom(...TEMPLATES), drivers: fc.subarray([...DRIVER_NAMES], { minLength: 1 }) })
      .map(({ base, drivers }) => ({ ...base, drivers })),
    weight: 1,
  },
);

export const isolationArb: fc.Arbitrary<IsolationNeeds> = fc.record(
  {
    kernel: fc.constantFrom('shared' as const, 'dedicated' as const),
    security: fc.constantFrom('standard' as const, 'strict' as const),
    needs: fc.subarray([...ISOLATION_NEEDS], { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

export const requestArb = (hostIds: readonly string[]): fc.Arbitrary<PlacementRequest> =>
  fc
    .record({
      template: templateArb,
      technology: fc.constantFrom('container' as const, 'vm' as const, 'auto' as const),
      resources: fc.record({
        // Whole vCPUs, or a container's fraction (0.01–2 in milli-vCPU steps).
        vcpus: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 10, max: 2000 }).map((m) => m / 1000)),
        memoryMiB: fc.constantFrom(0, 256, 1024, 4096, 8192),
        diskGiB: fc.integer({ min: 0, max: 60 }),
      }),
      arch: rarely(fc.constantFrom(...ARCHES)),
      isolation: rarely(isolationArb),
      capabilities: rarely(fc.subarray([...CAPABILITIES], { maxLength: 2 })),
      hostId: rarely(fc.constantFrom(...hostIds, 'nowhere')),
      excludeHosts: rarely(fc.subarray([...hostIds, 'nowhere'], { minLength: 1 })),
      requiredLabels: rarely(fc.dictionary(fc.constantFrom('rack', 'ssd'), fc.constantFrom('a', 'b'), { maxKeys: 1 })),
      preferredLabels: rarely(fc.dictionary(fc.constantFrom('rack', 'ssd'), fc.constantFrom('a', 'b'), { maxKeys: 2 })),
      zone: rarely(fc.constantFrom('z1', 'z2')),
      group: fc.option(
        fc.record(
          {
            id: fc.constantFrom('g1', 'g2'),
            name: fc.constant('grp'),
            policy: fc.constantFrom('affinity' as const, 'anti-affinity' as const),
            strict: fc.boolean(),
            maxPerHost: fc.integer({ min: 1, max: 3 }),
          },
          { requiredKeys: ['id', 'name', 'policy', 'strict'] },
        ),
        { nil: undefined, freq: 2 },
      ),
      strategy: rarely(fc.constantFrom('binpack' as const, 'spread' as const)),
    })
    // Absent, not undefined, as a request parsed from JSON would be.
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as PlacementRequest);

/** Policies with ratios exact in binary, so the reference's plain floor agrees. */
export const policyArb = (sampling: boolean): fc.Arbitrary<PlacementPolicy> =>
  fc.record({
    strategy: fc.constantFrom('binpack' as const, 'spread' as const),
    ratios: fc.record({
      vm: fc.record({ vcpus: fc.constantFrom(1, 2, 4), memoryMiB: fc.constantFrom(1, 1.5), diskGiB: fc.constant(1) }),
      container: fc.record({ vcpus: fc.constantFrom(4, 8), memoryMiB: fc.constantFrom(1, 1.5), diskGiB: fc.constant(1) }),
    }),
    reserved: fc.record({
      vcpus: fc.constantFrom(0, 1),
      memoryMiB: fc.constantFrom(0, 512),
      diskGiB: fc.constantFrom(0, 5),
    }),
    maxInstancesPerHost: fc.constantFrom(3, 6, DEFAULT_POLICY.maxInstancesPerHost),
    sampleSize: sampling ? fc.integer({ min: 1, max: 3 }) : fc.constant(0),
    seed: fc.integer({ min: 0, max: 1000 }),
  });
