import { Arch, OsFamily } from '@hyperplane/domain';
import { DriverError } from '../driver.exception';
import { assertInstanceId, assertSafeName } from '../validate';

export const ACCELERATORS = ['kvm', 'hvf', 'whpx', 'tcg'] as const;
export type Accelerator = (typeof ACCELERATORS)[number];

export interface AcceleratorInput {
  hostOs: OsFamily;
  hostArch: Arch;
  guestArch: Arch;
  /** /dev/kvm opens and is backed by hardware virtualisation (see `checkKvm`). */
  kvmUsable: boolean;
}

/**
 * The hypervisor QEMU should use: the host's own (KVM on Linux when usable, HVF on macOS, WHPX
 * on Windows) for a guest of the host's architecture, otherwise TCG, QEMU's software emulator.
 */
export function chooseAccelerator(input: AcceleratorInput): Accelerator {
  if (input.guestArch !== input.hostArch) return 'tcg';
  switch (input.hostOs) {
    case 'linux':
      return input.kvmUsable ? 'kvm' : 'tcg';
    case 'macos':
      return 'hvf';
    case 'windows':
      return 'whpx';
  }
}

/** QEMU's name for an architecture, as in `qemu-system-<name>`. */
export function qemuArchName(arch: Arch): 'x86_64' | 'aarch64' {
  switch (arch) {
    case 'x86_64':
      return 'x86_64';
    case 'arm64':
      return 'aarch64';
  }
}

export function qemuSystemBinary(arch: Arch): string {
  return `qemu-system-${qemuArchName(arch)}`;
}

/** QEMU's option parser splits `key=value` lists on commas; a literal comma is written twice. */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** sun_path is 108 bytes on Linux (104 on macOS) including the NUL. */
export const MAX_UNIX_SOCKET_PATH = 103;

const BRIDGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export interface QemuLaunch {
  id: string;
  name: string;
  arch: Arch;
  hostOs: OsFamily;
  accelerator: Accelerator;
  memoryMiB: number;
  vcpus: number;
  /** Absolute paths inside the instance's state directory. */
  paths: { overlay: string; console: string; qmp: string; pidfile: string };
  /** Absolute paths, already confined to the image directory. */
  boot: { kernel?: string; initrd?: string; append?: string; firmware?: string };
  /** `bridge` attaches to a host bridge (qemu-bridge-helper); default is user-mode NAT. */
  network?: { bridge?: string };
}

/** The argument vector for `qemu-system-<arch>`; no shell ever sees it. */
export function buildQemuArgs(l: QemuLaunch): string[] {
  assertInstanceId(l.id);
  assertSafeName('instance name', l.name);
  if (!Number.isInteger(l.memoryMiB) || l.memoryMiB < 16) {
    throw new DriverError('InvalidArgument', `memoryMiB must be a whole number of at least 16, got ${l.memoryMiB}`);
  }
  if (!Number.isInteger(l.vcpus) || l.vcpus < 1) {
    throw new DriverError('InvalidArgument', `vcpus must be a whole number of at least 1, got ${l.vcpus}`);
  }
  if (Buffer.byteLength(l.paths.qmp) > MAX_UNIX_SOCKET_PATH) {
    throw new DriverError('InvalidArgument', `QMP socket path is too long for a unix socket: ${l.paths.qmp}`);
  }
  if (l.hostOs === 'windows') {
    // -daemonize, the pidfile protocol and a unix QMP socket are POSIX-only.
    throw new DriverError('Unsupported', 'the qemu driver does not manage QEMU processes on Windows hosts yet');
  }

  const args = ['-name', `guest=${escapeOptionValue(l.name)}`, '-uuid', l.id];
  args.push('-machine', l.arch === 'x86_64' ? 'q35' : 'virt', '-accel', l.accelerator);
  const cpu = cpuModel(l.arch, l.accelerator);
  if (cpu) args.push('-cpu', cpu);
  args.push('-m', `${l.memoryMiB}M`, '-smp', String(l.vcpus));
  args.push('-nodefaults', '-no-user-config', '-display', 'none');
  // seccomp: obsolete syscalls and resource control denied; not elevateprivileges, which
  // forbids the setsid() that -daemonize needs.
  if (l.hostOs === 'linux' && !l.network?.bridge) args.push('-sandbox', 'on,obsolete=deny,resourcecontrol=deny');
  // `file:` takes the rest of the string literally; `unix:` and `-drive` parse key=value lists.
  args.push('-serial', `file:${l.paths.console}`);
  args.push('-qmp', `unix:${escapeOptionValue(l.paths.qmp)},server=on,wait=off`);
  args.push('-pidfile', l.paths.pidfile, '-daemonize');
  args.push('-drive', `file=${escapeOptionValue(l.paths.overlay)},if=none,id=disk0,format=qcow2,discard=unmap`);
  // With -kernel, the linuxboot option ROM takes boot index 0; otherwise the disk boots first.
  args.push('-device', l.boot.kernel ? 'virtio-blk-pci,drive=disk0' : 'virtio-blk-pci,drive=disk0,bootindex=0');
  if (l.boot.firmware) args.push('-bios', l.boot.firmware);
  if (l.boot.kernel) {
    args.push('-kernel', l.boot.kernel);
    if (l.boot.initrd) args.push('-initrd', l.boot.initrd);
    if (l.boot.append) args.push('-append', l.boot.append);
  } else if (l.boot.initrd || l.boot.append) {
    throw new DriverError('InvalidArgument', 'initrd and append need a kernel');
  }
  const bridge = l.network?.bridge;
  if (bridge !== undefined) {
    if (!BRIDGE_PATTERN.test(bridge)) throw new DriverError('InvalidArgument', `invalid bridge name ${JSON.stringify(bridge)}`);
    args.push('-netdev', `bridge,id=net0,br=${bridge}`);
  } else {
    args.push('-netdev', 'user,id=net0');
  }
  // romfile= drops the iPXE option ROM: nothing here boots from the network.
  args.push('-device', 'virtio-net-pci,netdev=net0,romfile=');
  return args;
}

function cpuModel(arch: Arch, accel: Accelerator): string | undefined {
  switch (accel) {
    case 'kvm':
    case 'hvf':
      return 'host';
    case 'whpx':
      return undefined;
    case 'tcg':
      // QEMU's x86 default (qemu64) boots any x86_64 kernel; the arm `virt` default is 32-bit.
      return arch === 'arm64' ? 'max' : undefined;
  }
}
