import { Arch, HostInventory, OsFamily, Resources } from '@hyperplane/domain';
import { SimFaults, simOffers } from '@hyperplane/drivers';

/** One simulated host: what it reports, and the size its SimDriver enforces. */
export interface SimHostSpec {
  key: string;
  os: OsFamily;
  arch: Arch;
  osVersion: string;
  kernel: string;
  capacity: Resources;
  labels?: Record<string, string>;
  zone?: string;
  /** This host's injected failures, in place of the agent's (a host that fails every create, say). */
  faults?: SimFaults;
}

const LINUX = [
  { osVersion: 'Ubuntu 24.04.1 LTS', kernel: '6.8.0-45-generic' },
  { osVersion: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0-25-amd64' },
  { osVersion: 'Ubuntu 20.04.6 LTS', kernel: '5.4.0-198-generic' },
];
const WINDOWS = [
  { osVersion: 'Windows Server 2022 Datacenter', kernel: '10.0.20348' },
  { osVersion: 'Windows Server 2019 Datacenter', kernel: '10.0.17763' },
];
const MACOS = [{ osVersion: 'macOS 15.1', kernel: '24.1.0' }];

const pick = <T>(list: readonly T[], n: number): T => list[n % list.length]!;

// One cycle of 20 hosts: 12 Linux, 5 Windows, 3 macOS, interleaved so that the first three
// hosts are one of each. A newcomer's small fleet then shows every OS, and a large one keeps
// the same 60/25/15 mix.
const CYCLE: readonly OsFamily[] = [
  'linux', 'windows', 'macos', 'linux', 'linux', 'windows', 'linux', 'linux', 'macos', 'linux',
  'windows', 'linux', 'linux', 'linux', 'windows', 'linux', 'macos', 'linux', 'windows', 'linux',
];
// The position of each slot among the slots of its OS in one cycle (0..11 for Linux, …).
const RANK: readonly number[] = CYCLE.map((os, slot) => CYCLE.slice(0, slot).filter((o) => o === os).length);

/**
 * A deterministic mixed fleet: about 60 % Linux (a quarter of it arm64), 25 % Windows
 * (mostly Server 2022) and 15 % macOS on Apple silicon, in a few sizes and three zones. Any
 * fleet of 3 or more hosts has all three OSes.
 */
export function simFleet(count: number, prefix = 'sim'): SimHostSpec[] {
  const hosts: SimHostSpec[] = [];
  for (let i = 0; i < count; i++) {
    const slot = i % CYCLE.length;
    const cycle = Math.floor(i / CYCLE.length);
    const os = CYCLE[slot]!;
    const rank = RANK[slot]!;
    const arch: Arch = os === 'macos' ? 'arm64' : os === 'linux' && rank % 4 === 3 ? 'arm64' : 'x86_64';
    const release = os === 'linux' ? pick(LINUX, rank + cycle) : os === 'windows' ? (rank === 4 ? WINDOWS[1]! : WINDOWS[0]!) : MACOS[0]!;
    const size = Math.floor(i / 7) % 3;
    const capacity: Resources =
      os === 'macos'
        ? { vcpus: [8, 12, 24][size]!, memoryMiB: [32768, 65536, 131072][size]!, diskGiB: [512, 1024, 2048][size]! }
        : { vcpus: [16, 32, 64][size]!, memoryMiB: [65536, 131072, 262144][size]!, diskGiB: [1000, 2000, 4000][size]! };
    hosts.push({
      key: `${prefix}-${os}-${String(i + 1).padStart(String(count).length, '0')}`,
      os,
      arch,
      ...release,
      capacity,
      zone: `zone-${(i % 3) + 1}`,
      labels: { 'hyperplane.dev/simulated': 'true' },
    });
  }
  return hosts;
}

export function simInventory(spec: SimHostSpec, agentVersion: string): HostInventory {
  return {
    hostname: spec.key,
    os: spec.os,
    osVersion: spec.osVersion,
    kernel: spec.kernel,
    arch: spec.arch,
    cpus: spec.capacity.vcpus,
    memoryMiB: spec.capacity.memoryMiB,
    diskGiB: spec.capacity.diskGiB,
    drivers: [{ name: 'sim', installed: true, version: '1.0.0', accelerator: 'simulated', offers: simOffers(spec.os, spec.arch) }],
    labels: spec.labels,
    zone: spec.zone,
    simulated: true,
    agentVersion,
  };
}
