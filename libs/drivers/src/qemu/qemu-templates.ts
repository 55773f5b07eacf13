import { TemplateSpec } from '@hyperplane/domain';

export const TINY_LINUX_READY_MARKER = 'HYPERPLANE-GUEST-READY';

/**
 * A Debian kernel and a busybox initramfs, built by `scripts/build-tiny-linux.sh` into the image
 * directory: boots in a few seconds even under TCG and prints its ready marker on ttyS0.
 */
export const TINY_LINUX_TEMPLATE: TemplateSpec = {
  name: 'tiny-linux',
  description: 'Debian cloud kernel with a busybox initramfs (scripts/build-tiny-linux.sh)',
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
      append: 'console=ttyS0 quiet',
      readyMarker: TINY_LINUX_READY_MARKER,
    },
  },
};
