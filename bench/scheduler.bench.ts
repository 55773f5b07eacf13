// Placement benchmark: 10,000 hosts of mixed OS, arch and drivers; 100,000 decisions of mixed
// requests, each success committed (a batch, as the controller runs it). Prints one plain line
// per mode: latency per decision (place + commit) in ms, throughput, outcomes.
//
//   npx tsc -p tsconfig.build.json && npx tsc-alias -p tsconfig.build.json && node dist/bench/scheduler.bench.js
//   HOSTS=… DECISIONS=… SEED=… to change the size.
import {
  Arch,
  Capability,
  DriverOffer,
  DriverProbe,
  GuestSupport,
  HostStatus,
  OsFamily,
  Resources,
  TemplateSpec,
} from '@hyperplane/domain';
import { DEFAULT_POLICY, HostSnapshot, PlacementPolicy, PlacementRequest, Scheduler } from '@hyperplane/scheduler';

const HOSTS = Number(process.env.HOSTS ?? 10_000);
const DECISIONS = Number(process.env.DECISIONS ?? 100_000);
const SEED = Number(process.env.SEED ?? 20_250_101);

/** mulberry32: a small seeded PRNG, so every run sees the same fleet and requests. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, weighted: readonly (readonly [T, number])[]): T {
  const total = weighted.reduce((sum, [, w]) => sum + w, 0);
  let r = random() * total;
  for (const [value, w] of weighted) {
    r -= w;
    if (r < 0) return value;
  }
  return weighted[weighted.length - 1]![0];
}

const chance = (random: () => number, p: number): boolean => random() < p;

const linux = (name: string, distribution: string, version: string, minKernel?: string): TemplateSpec => ({
  name,
  osFamily: 'linux',
  distribution,
  version,
  archs: ['x86_64', 'arm64'],
  technologies: ['container', 'vm'],
  ...(minKernel ? { minKernel } : {}),
});

const TEMPLATES: Record<string, TemplateSpec> = {
  debian: linux('debian-12', 'debian', '12', '5.10'),
  ubuntu: linux('ubuntu-24.04', 'ubuntu', '24.04', '5.15'),
  alpine: linux('alpine-3.20', 'alpine', '3.20'),
  windows: {
    name: 'windows-server-2022',
    osFamily: 'windows',
    distribution: 'windows-server',
    version: '2022',
    archs: ['x86_64'],
    technologies: ['container', 'vm'],
    windowsBuild: '20348',
  },
  macos: {
    name: 'macos-15',
    osFamily: 'macos',
    distribution: 'macos',
    version: '15',
    archs: ['arm64'],
    technologies: ['vm'],
  },
};

const ALL_CAPS: Capability[] = ['suspend', 'snapshot', 'clone', 'liveResize', 'liveMigrate', 'offlineMigrate', 'console'];
const NONE: Resources = { vcpus: 0, memoryMiB: 0, diskGiB: 0 };
const VM_OVERHEAD: Resources = { vcpus: 0, memoryMiB: 256, diskGiB: 1 };
const LINUX_DISTROS = { debian: ['11', '12'], ubuntu: ['22.04', '24.04'], alpine: ['*'] };

function probe(name: DriverProbe['name'], offers: DriverOffer[], accelerator?: string): DriverProbe {
  return { name, installed: true, version: '1.0', offers, ...(accelerator ? { accelerator } : {}) };
}

function vmOffer(guests: GuestSupport[], emulates: Arch[] = []): DriverOffer {
  const emulation = emulates.length ? { emulates } : {};
  return { technology: 'vm', guests, capabilities: ALL_CAPS, overhead: VM_OVERHEAD, ...emulation };
}

function containerOffer(guests: GuestSupport[], capabilities = ALL_CAPS): DriverOffer {
  return { technology: 'container', guests, capabilities, overhead: NONE };
}

/** lxc + qemu on Linux, wincontainer + hyperv on Windows, prlctl on macOS and some others, sim here and there. */
function driversFor(random: () => number, os: OsFamily, arch: Arch): DriverProbe[] {
  const other: Arch = arch === 'x86_64' ? 'arm64' : 'x86_64';
  const guest = (guestOs: OsFamily, distributions?: GuestSupport['distributions']): GuestSupport => ({
    os: guestOs,
    archs: [arch],
    ...(distributions ? { distributions } : {}),
  });
  const emulation = (p: number): Arch[] => (chance(random, p) ? [other] : []);
  const drivers: DriverProbe[] = [];
  const add = (p: number, make: () => DriverProbe): void => {
    if (chance(random, p)) drivers.push(make());
  };
  switch (os) {
    case 'linux': {
      const caps: Capability[] = chance(random, 0.8) ? ALL_CAPS : ['snapshot', 'console'];
      add(0.9, () => probe('lxc', [containerOffer([guest('linux', LINUX_DISTROS)], caps)]));
      add(0.85, () => probe('qemu', [vmOffer([guest('linux'), guest('windows')], emulation(0.2))], 'kvm'));
      // prlctl on Virtuozzo runs containers too.
      add(0.1, () =>
        probe('prlctl', [vmOffer([guest('linux'), guest('windows')]), containerOffer([guest('linux', LINUX_DISTROS)])]),
      );
      add(0.05, () =>
        probe('sim', [containerOffer([guest('linux')]), vmOffer([guest('linux'), guest('windows')], [other])]),
      );
      break;
    }
    case 'windows':
      add(0.8, () => probe('wincontainer', [containerOffer([guest('windows')], ['console'])]));
      add(0.9, () => probe('hyperv', [vmOffer([guest('linux'), guest('windows')])]));
      add(0.1, () => probe('prlctl', [vmOffer([guest('linux'), guest('windows')])]));
      add(0.1, () => probe('qemu', [vmOffer([guest('linux')], [other])], 'whpx'));
      add(0.05, () => probe('sim', [containerOffer([guest('windows')]), vmOffer([guest('windows')])]));
      break;
    case 'macos':
      add(0.9, () => probe('prlctl', [vmOffer([guest('macos'), guest('linux'), guest('windows')])]));
      add(0.4, () => probe('qemu', [vmOffer([guest('linux'), guest('macos')], [other])], 'hvf'));
      add(0.05, () => probe('sim', [vmOffer([guest('macos')])]));
      break;
  }
  return drivers;
}

const ARCH_MIX: Record<OsFamily, [Arch, number][]> = {
  linux: [['x86_64', 3], ['arm64', 1]],
  windows: [['x86_64', 19], ['arm64', 1]],
  macos: [['arm64', 9], ['x86_64', 1]],
};
const LINUX_KERNELS: [string, number][] = [['5.4.0', 1], ['5.10.0', 2], ['5.15.0', 3], ['6.1.0', 3], ['6.8.0', 2]];
const STATUSES: [HostStatus, number][] = [['ready', 95], ['draining', 2], ['maintenance', 1], ['down', 1], ['enrolling', 1]];

/** Linux ~70 %, Windows ~20 %, macOS ~10 %; 0–30 % already allocated. */
function makeFleet(random: () => number): HostSnapshot[] {
  return Array.from({ length: HOSTS }, (_, i): HostSnapshot => {
    const os = pick<OsFamily>(random, [['linux', 70], ['windows', 20], ['macos', 10]]);
    const arch = pick(random, ARCH_MIX[os]);
    const build = pick(random, [['20348', 7], ['17763', 2], ['26100', 1]]);
    const vcpus = pick(random, [[16, 1], [32, 3], [64, 3], [128, 1]]);
    const memoryMiB = pick(random, [[65536, 1], [131072, 3], [262144, 3], [524288, 1]]);
    const diskGiB = pick(random, [[500, 1], [1000, 2], [2000, 2], [4000, 1]]);
    const fill = random() * 0.3;
    const kernels: Record<OsFamily, string> = {
      linux: pick(random, LINUX_KERNELS),
      windows: `10.0.${build}`,
      macos: '24.1.0',
    };
    return {
      id: `host-${String(i).padStart(5, '0')}`,
      name: `${os}-${arch}-${i}`,
      status: pick(random, STATUSES),
      os,
      osVersion: os === 'windows' ? `10.0.${build}` : os === 'macos' ? '15.1' : 'debian 12',
      kernel: kernels[os],
      arch,
      labels: {
        rack: `r${Math.floor(random() * 50)}`,
        ssd: chance(random, 0.6) ? 'true' : 'false',
        ...(chance(random, 0.05) ? { gpu: 'a100' } : {}),
      },
      zone: `z${1 + Math.floor(random() * 4)}`,
      capacity: { vcpus, memoryMiB, diskGiB, instances: chance(random, 0.1) ? 50 : 0 },
      allocated: {
        vcpus: Math.floor(vcpus * 2 * fill),
        memoryMiB: Math.floor(memoryMiB * fill),
        diskGiB: Math.floor(diskGiB * fill),
        instances: Math.floor(20 * fill),
      },
      drivers: driversFor(random, os, arch),
      templates: Object.values(TEMPLATES)
        .filter(() => chance(random, 0.3))
        .map((t) => t.name),
      groups: {},
    };
  });
}

const SIZES: readonly (readonly [Resources, number])[] = [
  [{ vcpus: 1, memoryMiB: 512, diskGiB: 10 }, 30],
  [{ vcpus: 2, memoryMiB: 2048, diskGiB: 20 }, 30],
  [{ vcpus: 4, memoryMiB: 8192, diskGiB: 50 }, 20],
  [{ vcpus: 8, memoryMiB: 16384, diskGiB: 100 }, 15],
  [{ vcpus: 16, memoryMiB: 65536, diskGiB: 200 }, 5],
];

const TEMPLATE_MIX: [string, number][] = [['debian', 30], ['ubuntu', 25], ['alpine', 15], ['windows', 20], ['macos', 10]];

/** Mixed templates, technologies, sizes and constraints; a few pinned, grouped or spread. */
function makeRequests(random: () => number, hostIds: readonly string[]): PlacementRequest[] {
  return Array.from({ length: DECISIONS }, (): PlacementRequest => {
    const template = TEMPLATES[pick(random, TEMPLATE_MIX)]!;
    const technology = pick(random, [['container', 35], ['vm', 30], ['auto', 35]] as const);
    const request: PlacementRequest = { template, technology, resources: pick(random, SIZES) };
    if (technology === 'auto' && chance(random, 0.3)) {
      request.isolation = chance(random, 0.6) ? { needs: ['kernel-modules'] } : { security: 'strict' };
    }
    if (chance(random, 0.2)) request.capabilities = chance(random, 0.75) ? ['snapshot'] : ['liveMigrate'];
    if (chance(random, 0.1)) request.arch = 'arm64';
    if (chance(random, 0.2)) request.zone = `z${1 + Math.floor(random() * 4)}`;
    if (chance(random, 0.05)) request.requiredLabels = { ssd: 'true' };
    if (chance(random, 0.1)) request.preferredLabels = { ssd: 'true' };
    if (chance(random, 0.1)) {
      const g = Math.floor(random() * 200);
      request.group = {
        id: `g${g}`,
        name: `group-${g}`,
        policy: g % 2 ? 'anti-affinity' : 'affinity',
        strict: g % 3 === 0,
        ...(g % 5 === 0 ? { maxPerHost: 2 } : {}),
      };
    }
    if (chance(random, 0.02)) request.hostId = hostIds[Math.floor(random() * hostIds.length)];
    if (chance(random, 0.1)) request.strategy = 'spread';
    return request;
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function run(mode: string, policy: PlacementPolicy, fleet: HostSnapshot[], requests: PlacementRequest[]): void {
  const built = process.hrtime.bigint();
  const scheduler = new Scheduler(fleet, policy);
  const buildMs = Number(process.hrtime.bigint() - built) / 1e6;
  const times = new Float64Array(requests.length);
  let ok = 0;
  const byTechnology = { container: 0, vm: 0 };
  const used = new Set<string>();
  const started = process.hrtime.bigint();
  for (let i = 0; i < requests.length; i++) {
    const t0 = process.hrtime.bigint();
    const decision = scheduler.place(requests[i]!);
    if (decision.ok) scheduler.commit(decision);
    times[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    if (decision.ok) {
      ok++;
      byTechnology[decision.technology]++;
      used.add(decision.hostId);
    }
  }
  const totalS = Number(process.hrtime.bigint() - started) / 1e9;
  const slowest = times.indexOf(Math.max(...times));
  const sorted = times.slice().sort();
  console.log(
    [
      `mode=${mode}`,
      `hosts=${fleet.length}`,
      `decisions=${requests.length}`,
      `ok=${ok}`,
      `failed=${requests.length - ok}`,
      `containers=${byTechnology.container}`,
      `vms=${byTechnology.vm}`,
      `hosts_used=${used.size}`,
      `p50_ms=${percentile(sorted, 50).toFixed(3)}`,
      `p90_ms=${percentile(sorted, 90).toFixed(3)}`,
      `p99_ms=${percentile(sorted, 99).toFixed(3)}`,
      `max_ms=${(sorted[sorted.length - 1] ?? 0).toFixed(3)}`,
      `max_at=${slowest}`,
      `mean_ms=${((totalS * 1000) / requests.length).toFixed(3)}`,
      `rate_per_s=${Math.round(requests.length / totalS)}`,
      `build_ms=${buildMs.toFixed(1)}`,
    ].join(' '),
  );
}

/**
 * The batch API's path: each request decided for `width` alike instances at once
 * (Scheduler.placeMany), as many requests as make the same number of decisions.
 */
function runBatched(width: number, policy: PlacementPolicy, fleet: HostSnapshot[], requests: PlacementRequest[]): void {
  const scheduler = new Scheduler(fleet, policy);
  const batches = requests.slice(0, Math.ceil(requests.length / width));
  const times = new Float64Array(batches.length);
  let ok = 0;
  const started = process.hrtime.bigint();
  batches.forEach((request, i) => {
    const t0 = process.hrtime.bigint();
    const decisions = scheduler.placeMany(request, width);
    times[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    ok += decisions.filter((d) => d.ok).length;
  });
  const totalS = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = times.slice().sort();
  const decisions = batches.length * width;
  console.log(
    [
      `mode=batched-${width}`,
      `hosts=${fleet.length}`,
      `decisions=${decisions}`,
      `ok=${ok}`,
      `failed=${decisions - ok}`,
      `batch_p50_ms=${percentile(sorted, 50).toFixed(3)}`,
      `batch_p99_ms=${percentile(sorted, 99).toFixed(3)}`,
      `mean_ms_per_decision=${((totalS * 1000) / decisions).toFixed(4)}`,
      `rate_per_s=${Math.round(decisions / totalS)}`,
    ].join(' '),
  );
}

function main(): void {
  const fleet = makeFleet(prng(SEED));
  const requests = makeRequests(prng(SEED + 1), fleet.map((h) => h.id));
  console.log(`node=${process.version} hosts=${HOSTS} decisions=${DECISIONS} seed=${SEED}`);
  run('exact', DEFAULT_POLICY, fleet, requests);
  run('sampled-64', { ...DEFAULT_POLICY, sampleSize: 64, seed: SEED }, fleet, requests);
  runBatched(100, DEFAULT_POLICY, fleet, requests);
}

main();
