import { TemplateSpec } from './template';

/**
 * The built-in catalogue, written to the database at start. All but the last two are what
 * simulated hosts serve (Windows containers by the build rule, see windows-build.ts);
 * `busybox` and `tiny-linux` are small enough to run for real (LXC, QEMU) here. Windows
 * templates name their build and the image the wincontainer driver runs.
 */
export const BUILTIN_TEMPLATES: TemplateSpec[] = [
  {
    name: 'debian-12',
    description: 'Debian 12 (bookworm)',
    osFamily: 'linux',
    distribution: 'debian',
    version: '12',
    archs: ['x86_64', 'arm64'],
    technologies: ['container', 'vm'],
    minKernel: '4.19',
  },
  {
    name: 'ubuntu-24.04',
    description: 'Ubuntu 24.04 LTS (noble)',
    osFamily: 'linux',
    distribution: 'ubuntu',
    version: '24.04',
    archs: ['x86_64', 'arm64'],
    technologies: ['container', 'vm'],
    minKernel: '5.15',
  },
  {
    name: 'alpine-3.20',
    description: 'Alpine Linux 3.20',
    osFamily: 'linux',
    distribution: 'alpine',
    version: '3.20',
    archs: ['x86_64', 'arm64'],
    technologies: ['container', 'vm'],
  },
  {
    name: 'windows-server-2019',
    description: 'Windows Server 2019 (build 17763); process-isolated containers need a host of the same build, Hyper-V isolated ones 17763 or newer',
    osFamily: 'windows',
    distribution: 'windows-server',
    version: '2019',
    archs: ['x86_64'],
    technologies: ['container', 'vm'],
    windowsBuild: '17763',
    image: { wincontainer: { image: 'mcr.microsoft.com/windows/servercore:ltsc2019' } },
  },
  {
    name: 'windows-server-2022',
    description: 'Windows Server 2022 (build 20348); process-isolated containers need a host of the same build, Hyper-V isolated ones 20348 or newer',
    osFamily: 'windows',
    distribution: 'windows-server',
    version: '2022',
    archs: ['x86_64'],
    technologies: ['container', 'vm'],
    windowsBuild: '20348',
    image: { wincontainer: { image: 'mcr.microsoft.com/windows/servercore:ltsc2022' } },
  },
  {
    name: 'windows-server-2025',
    description: 'Windows Server 2025 (build 26100); process-isolated containers need a host of the same build, Hyper-V isolated ones 26100 or newer',
    osFamily: 'windows',
    distribution: 'windows-server',
    version: '2025',
    archs: ['x86_64'],
    technologies: ['container', 'vm'],
    windowsBuild: '26100',
    image: { wincontainer: { image: 'mcr.microsoft.com/windows/servercore:ltsc2025' } },
  },
  {
    name: 'macos-15',
    description: 'macOS 15 (Sequoia); virtual machines on macOS hosts only',
    osFamily: 'macos',
    distribution: 'macos',
    version: '15',
    archs: ['arm64'],
    technologies: ['vm'],
  },
  {
    name: 'busybox',
    description: 'A BusyBox userland; a container in a few milliseconds',
    osFamily: 'linux',
    distribution: 'busybox',
    version: '1',
    archs: ['x86_64', 'arm64'],
    technologies: ['container'],
  },
  {
    name: 'tiny-linux',
    description: 'A Debian kernel with a BusyBox userland: a container, or a VM that boots in seconds',
    osFamily: 'linux',
    distribution: 'tiny-linux',
    version: '1',
    archs: ['x86_64'],
    technologies: ['container', 'vm'],
    image: {
      qemu: {
        kernel: 'tiny-linux/vmlinuz',
        initrd: 'tiny-linux/initrd.img',
        disk: 'tiny-linux/base.qcow2',
        append: 'console=ttyS0 panic=-1 quiet',
        readyMarker: 'HYPERPLANE-GUEST-READY',
      },
    },
  },
];
