import { Capability, DriverOffer, DriverProbe, GuestSupport, Resources, TemplateSpec } from '@hyperplane/domain';
import { HostSnapshot, PlacementRequest } from '../src/placement.types';

// Builders for scheduler specs: small, explicit hosts and requests with sensible defaults.

const ALL_CAPS: Capability[] = ['suspend', 'snapshot', 'clone', 'liveResize', 'liveMigrate', 'offlineMigrate', 'console'];
const NO_OVERHEAD: Resources = { vcpus: 0, memoryMiB: 0, diskGiB: 0 };
export const VM_OVERHEAD: Resources = { vcpus: 0, memoryMiB: 256, diskGiB: 1 };

export const DEBIAN_12: TemplateSpec = {
  name: 'debian-12',
  osFamily: 'linux',
  distribution: 'debian',
  version: '12',
  archs: ['x86_64', 'arm64'],
  technologies: ['container', 'vm'],
  minKernel: '5.10',
};
export const UBUNTU_24_04: TemplateSpec = {
  name: 'ubuntu-24.04',
  osFamily: 'linux',
  distribution: 'ubuntu',
  version: '24.04',
  archs: ['x86_64', 'arm64'],
  technologies: ['container', 'vm'],
  minKernel: '5.15',
};
export const ALPINE_3_20: TemplateSpec = {
  name: 'alpine-3.20',
  osFamily: 'linux',
  distribution: 'alpine',
  version: '3.20',
  archs: ['x86_64', 'arm64'],
  technologies: ['container', 'vm'],
};
export const WINDOWS_SERVER_2022: TemplateSpec = {
  name: 'windows-server-2022',
  osFamily: 'windows',
  distribution: 'windows-server',
  version: '2022',
  archs: ['x86_64'],
  technologies: ['container', 'vm'],
  windowsBuild: '20348',
};
export const MACOS_15: TemplateSpec = {
  name: 'macos-15',
  osFamily: 'macos',
  distribution: 'macos',
  version: '15',
  archs: ['arm64'],
  technologies: ['vm'],
};
export const TEMPLATES = [DEBIAN_12, UBUNTU_24_04, ALPINE_3_20, WINDOWS_SERVER_2022, MACOS_15];

const LINUX_GUESTS: GuestSupport = {
  os: 'linux',
  archs: ['x86_64', 'arm64'],
  distributions: { debian: ['11', '12'], ubuntu: ['22.04', '24.04'], alpine: ['*'] },
};

export function offer(technology: 'container' | 'vm', guests: GuestSupport[], extra: Partial<DriverOffer> = {}): DriverOffer {
  return {
    technology,
    guests,
    capabilities: ALL_CAPS,
    overhead: technology === 'vm' ? VM_OVERHEAD : NO_OVERHEAD,
    ...extra,
  };
}

export function probe(name: DriverProbe['name'], offers: DriverOffer[], extra: Partial<DriverProbe> = {}): DriverProbe {
  return { name, installed: true, version: '1.0', offers, ...extra };
}

export const lxc = (extra: Partial<DriverOffer> = {}): DriverProbe =>
  probe('lxc', [offer('container', [LINUX_GUESTS], extra)]);

export const qemu = (accelerator = 'kvm', extra: Partial<DriverOffer> = {}): DriverProbe =>
  probe(
    'qemu',
    [
      offer(
        'vm',
        [
          { os: 'linux', archs: ['x86_64', 'arm64'] },
          { os: 'windows', archs: ['x86_64'] },
        ],
        extra,
      ),
    ],
    { accelerator },
  );

export const hyperv = (): DriverProbe =>
  probe('hyperv', [offer('vm', [{ os: 'linux', archs: ['x86_64'] }, { os: 'windows', archs: ['x86_64'] }])]);

export const wincontainer = (): DriverProbe =>
  probe('wincontainer', [offer('container', [{ os: 'windows', archs: ['x86_64'] }])]);

export const prlctl = (): DriverProbe =>
  probe('prlctl', [
    offer('vm', [
      { os: 'linux', archs: ['x86_64', 'arm64'] },
      { os: 'windows', archs: ['x86_64', 'arm64'] },
      { os: 'macos', archs: ['arm64'] },
    ]),
  ]);

export function host(id: string, extra: Partial<HostSnapshot> = {}): HostSnapshot {
  return {
    id,
    name: id,
    status: 'ready',
    os: 'linux',
    osVersion: 'debian 12',
    kernel: '6.1.0',
    arch: 'x86_64',
    labels: {},
    zone: null,
    capacity: { vcpus: 16, memoryMiB: 65536, diskGiB: 1000, instances: 0 },
    allocated: { vcpus: 0, memoryMiB: 0, diskGiB: 0, instances: 0 },
    drivers: [lxc(), qemu()],
    ...extra,
  };
}

export const linuxHost = (id: string, extra: Partial<HostSnapshot> = {}): HostSnapshot => host(id, extra);

export const windowsHost = (id: string, extra: Partial<HostSnapshot> = {}): HostSnapshot =>
  host(id, { os: 'windows', osVersion: '10.0.20348', kernel: '10.0.20348', drivers: [wincontainer(), hyperv()], ...extra });

export const macHost = (id: string, extra: Partial<HostSnapshot> = {}): HostSnapshot =>
  host(id, { os: 'macos', osVersion: '15.1', kernel: '24.1.0', arch: 'arm64', drivers: [prlctl()], ...extra });

export function request(template: TemplateSpec, extra: Partial<PlacementRequest> = {}): PlacementRequest {
  return {
    template,
    technology: 'container',
    resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 },
    ...extra,
  };
}
