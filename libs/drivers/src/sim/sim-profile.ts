import { Arch, DriverOffer, OsFamily, Technology } from '@hyperplane/domain';
import { Distribution } from './sim-random';

export const SIM_COMMANDS = ['create', 'start', 'stop', 'restart', 'suspend', 'resume', 'destroy', 'snapshot', 'clone', 'resize'] as const;
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
  },
};

/** What a simulated host of each OS offers, modelled on the real drivers for it. */
export function simOffers(os: OsFamily, arch: Arch): DriverOffer[] {
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
          capabilities: ['suspend', 'snapshot', 'clone', 'liveResize'],
          overhead: { vcpus: 0, memoryMiB: 2, diskGiB: 0 },
        }
      : {
          technology: 'container',
          guests: [{ os: 'windows', archs: [arch], distributions: { 'windows-server': ['2022'] } }],
          capabilities: ['snapshot', 'clone'],
          overhead: { vcpus: 0, memoryMiB: 32, diskGiB: 0 },
        };
  return [container, vm];
}
