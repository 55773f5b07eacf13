import { Arch, DriverOffer, OsFamily, Technology, windowsBuildNumber } from '@hyperplane/domain';
import { Distribution } from './sim-random';

export const SIM_COMMANDS = [
  'create',
  'start',
  'stop',
  'restart',
  'suspend',
  'resume',
  'destroy',
  'snapshot',
  'clone',
  'resize',
  'migrate-prepare',
  'migrate-send',
  'migrate-finish',
  'migrate-cleanup',
  'migrate-abort',
] as const;
export type SimCommand = (typeof SIM_COMMANDS)[number];

export type SimTimings = Record<Technology, Record<SimCommand, Distribution>>;

const d = (medianMs: number, p99Ms: number): Distribution => ({ medianMs, p99Ms });

/** Containers start in a fraction of a second; VMs boot a kernel and take seconds. */
export const DEFAULT_SIM_TIMINGS: SimTimings = {
  container: {
    create: d(300, 1200),
    start: d(150, 600),
    stop: d(100, 500),
    restart: d(250, 900),
    suspend: d(40, 200),
    resume: d(40, 200),
    destroy: d(150, 600),
    snapshot: d(200, 800),
    clone: d(300, 1200),
    resize: d(30, 150),
    // Offline moves: the send also stops the container and copies its disk (see SimDriver.migrateSend).
    'migrate-prepare': d(30, 150),
    'migrate-send': d(200, 800),
    'migrate-finish': d(200, 800),
    'migrate-cleanup': d(150, 600),
    'migrate-abort': d(50, 300),
  },
  vm: {
    create: d(1500, 5000),
    start: d(2500, 8000),
    stop: d(1500, 6000),
    restart: d(3000, 9000),
    suspend: d(200, 800),
    resume: d(200, 800),
    destroy: d(500, 2000),
    snapshot: d(1000, 4000),
    clone: d(2000, 6000),
    resize: d(200, 800),
    // Live moves: the send also copies memory, in proportion to it (see SimDriver.migrateSend).
    'migrate-prepare': d(400, 1500),
    'migrate-send': d(300, 1200),
    'migrate-finish': d(100, 400),
    'migrate-cleanup': d(300, 1200),
    'migrate-abort': d(200, 800),
  },
};

/** Windows Server container images by release, with their builds. */
export const SIM_WINDOWS_IMAGES: readonly { version: string; build: number }[] = [
  { version: '2019', build: 17763 },
  { version: '2022', build: 20348 },
  { version: '2025', build: 26100 },
];

/** Where a simulated Windows host reports no build: Server 2022's. */
const DEFAULT_WINDOWS_BUILD = 20348;

/**
 * What a simulated host of each OS offers, modelled on the real drivers for it. A Windows host
 * (its build from `kernel`, e.g. 10.0.17763) offers Windows containers as the wincontainer
 * driver does with the Hyper-V role: process and Hyper-V isolation, images of its own build
 * and older ones (a newer image runs on no older host).
 */
export function simOffers(os: OsFamily, arch: Arch, kernel?: string): DriverOffer[] {
  const vmGuests: DriverOffer['guests'] =
    os === 'macos'
      ? [
          { os: 'macos', archs: [arch] },
          { os: 'linux', archs: [arch] },
        ]
      : [
          { os: 'linux', archs: [arch] },
          ...(arch === 'x86_64' ? [{ os: 'windows' as const, archs: [arch] }] : []),
        ];
  const vm: DriverOffer = {
    technology: 'vm',
    guests: vmGuests,
    capabilities: ['suspend', 'snapshot', 'clone', 'liveResize', 'liveMigrate', 'offlineMigrate', 'console'],
    overhead: { vcpus: 0, memoryMiB: 64, diskGiB: 0 },
  };
  if (os === 'macos') return [vm];
  const container: DriverOffer =
    os === 'linux'
      ? {
          technology: 'container',
          guests: [
            {
              os: 'linux',
              archs: [arch],
              distributions: {
                debian: ['11', '12'],
                ubuntu: ['22.04', '24.04'],
                alpine: ['3.19', '3.20'],
                busybox: ['*'],
                'tiny-linux': ['*'],
              },
            },
          ],
          capabilities: ['suspend', 'snapshot', 'clone', 'liveResize', 'offlineMigrate'],
          overhead: { vcpus: 0, memoryMiB: 2, diskGiB: 0 },
        }
      : {
          technology: 'container',
          guests: [{ os: 'windows', archs: [arch], distributions: { 'windows-server': simWindowsVersions(kernel) } }],
          capabilities: ['snapshot', 'clone'],
          overhead: { vcpus: 0, memoryMiB: 32, diskGiB: 0 },
          windowsIsolation: ['process', 'hyperv'],
          hypervOverhead: { vcpus: 0, memoryMiB: 512, diskGiB: 0 },
        };
  return [container, vm];
}

/** The Windows Server images a simulated host of this kernel can run: its build and older. */
export function simWindowsVersions(kernel?: string): string[] {
  const build = windowsBuildNumber(kernel) ?? DEFAULT_WINDOWS_BUILD;
  return SIM_WINDOWS_IMAGES.filter((i) => i.build <= build).map((i) => i.version);
}
