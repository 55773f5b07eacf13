import { TemplateSpec } from './template';

/**
 * The built-in catalogue, written to the database at start. The first five are what simulated
 * hosts serve; `busybox` and `tiny-linux` are small enough to run for real (LXC, QEMU) here.
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
    name: 'windows-server-2022',
    description: 'Windows Server 2022 (build 20348); containers need a host of the same build',
    osFamily: 'windows',
    distribution: 'windows-server',
    version: '2022',
    archs: ['x86_64'],
    technologies: ['container', 'vm'],
    windowsBuild: '20348',
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
