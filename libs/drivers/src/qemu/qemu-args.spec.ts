import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Accelerator, QemuLaunch, buildQemuArgs, chooseAccelerator, escapeOptionValue, qemuSystemBinary } from './qemu-args';
import { checkKvm } from './qemu-host';

const ID = '3f2b8c1e-9d4a-4b6e-8f10-123456789abc';

function launch(overrides: Partial<QemuLaunch> = {}): QemuLaunch {
  const dir = `/var/lib/hyperplane/qemu/${ID}`;
  return {
    id: ID,
    name: 'web-1',
    arch: 'x86_64',
    hostOs: 'linux',
    accelerator: 'tcg',
    memoryMiB: 256,
    vcpus: 1,
    paths: { overlay: `${dir}/overlay.qcow2`, console: `${dir}/console.log`, qmp: `${dir}/qmp.sock`, pidfile: `${dir}/qemu.pid` },
    boot: { kernel: '/images/tiny-linux/vmlinuz', initrd: '/images/tiny-linux/initrd.img', append: 'console=ttyS0 quiet' },
    ...overrides,
  };
}

/** The value that follows `flag` (each occurrence). */
function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag && i + 1 < args.length ? [args[i + 1]!] : []));
}

describe('chooseAccelerator', () => {
  it.each<[string, Parameters<typeof chooseAccelerator>[0], Accelerator]>([
    ['KVM on Linux when /dev/kvm is usable', { hostOs: 'linux', hostArch: 'x86_64', guestArch: 'x86_64', kvmUsable: true }, 'kvm'],
    ['TCG on Linux without usable KVM', { hostOs: 'linux', hostArch: 'x86_64', guestArch: 'x86_64', kvmUsable: false }, 'tcg'],
    ['HVF on macOS', { hostOs: 'macos', hostArch: 'arm64', guestArch: 'arm64', kvmUsable: false }, 'hvf'],
    ['WHPX on Windows', { hostOs: 'windows', hostArch: 'x86_64', guestArch: 'x86_64', kvmUsable: false }, 'whpx'],
    ['TCG for a foreign guest architecture, even with KVM', { hostOs: 'linux', hostArch: 'x86_64', guestArch: 'arm64', kvmUsable: true }, 'tcg'],
    ['TCG for a foreign guest architecture on macOS', { hostOs: 'macos', hostArch: 'arm64', guestArch: 'x86_64', kvmUsable: false }, 'tcg'],
  ])('picks %s', (_label, input, expected) => {
    expect(chooseAccelerator(input)).toBe(expected);
  });

  it('names the binary after QEMU’s architecture', () => {
    expect(qemuSystemBinary('x86_64')).toBe('qemu-system-x86_64');
    expect(qemuSystemBinary('arm64')).toBe('qemu-system-aarch64');
  });
});

describe('checkKvm', () => {
  let dir: string;
  let paths: { device: string; cpuinfo: string; sysModule: string };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hp-kvm-'));
    paths = { device: join(dir, 'kvm'), cpuinfo: join(dir, 'cpuinfo'), sysModule: join(dir, 'module') };
    await mkdir(paths.sysModule);
    await writeFile(paths.cpuinfo, 'processor\t: 0\nflags\t\t: fpu vme sse2 vmx lm\n');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds KVM unusable when the device is missing', () => {
    expect(checkKvm('x86_64', paths)).toMatchObject({ usable: false, reason: expect.stringMatching(/cannot be opened: ENOENT/) });
  });

  it('finds KVM usable when the device opens and the CPU has vmx', async () => {
    await writeFile(paths.device, '');
    expect(checkKvm('x86_64', paths).usable).toBe(true);
  });

  it('finds KVM unusable on x86 without vmx or svm', async () => {
    await writeFile(paths.device, '');
    await writeFile(paths.cpuinfo, 'flags\t\t: fpu vme sse2 lm hypervisor\n');
    expect(checkKvm('x86_64', paths)).toMatchObject({ usable: false, reason: expect.stringMatching(/neither vmx nor svm/) });
  });

  it('finds PVM (kvm_pvm), which boots no stock kernel, unusable', async () => {
    await writeFile(paths.device, '');
    await mkdir(join(paths.sysModule, 'kvm_pvm'));
    expect(checkKvm('x86_64', paths)).toMatchObject({ usable: false, reason: expect.stringMatching(/PVM/) });
  });

  it('needs no CPU flag on arm64', async () => {
    await writeFile(paths.device, '');
    await writeFile(paths.cpuinfo, 'Features\t: fp asimd\n');
    expect(checkKvm('arm64', paths).usable).toBe(true);
  });
});

describe('buildQemuArgs', () => {
  it('builds a daemonized, headless VM with a QMP socket, a serial log, a pidfile and the overlay disk', () => {
    const args = buildQemuArgs(launch());
    expect(values(args, '-machine')).toEqual(['q35']);
    expect(values(args, '-accel')).toEqual(['tcg']);
    expect(values(args, '-m')).toEqual(['256M']);
    expect(values(args, '-smp')).toEqual(['1']);
    expect(values(args, '-display')).toEqual(['none']);
    expect(values(args, '-uuid')).toEqual([ID]);
    expect(values(args, '-serial')).toEqual([`file:/var/lib/hyperplane/qemu/${ID}/console.log`]);
    expect(values(args, '-qmp')).toEqual([`unix:/var/lib/hyperplane/qemu/${ID}/qmp.sock,server=on,wait=off`]);
    expect(values(args, '-pidfile')).toEqual([`/var/lib/hyperplane/qemu/${ID}/qemu.pid`]);
    expect(args).toContain('-daemonize');
    expect(args).toContain('-nodefaults');
    expect(values(args, '-drive')).toEqual([`file=/var/lib/hyperplane/qemu/${ID}/overlay.qcow2,if=none,id=disk0,format=qcow2,discard=unmap`]);
    expect(values(args, '-sandbox')).toEqual(['on,obsolete=deny,resourcecontrol=deny']);
  });

  it('boots the kernel directly when the template has one, passing the command line as one argument', () => {
    const append = 'console=ttyS0 init=/bin/sh; rm -rf / $(reboot) `id` | cat';
    const args = buildQemuArgs(launch({ boot: { kernel: '/k', initrd: '/i', append } }));
    expect(values(args, '-kernel')).toEqual(['/k']);
    expect(values(args, '-initrd')).toEqual(['/i']);
    expect(values(args, '-append')).toEqual([append]);
    expect(values(args, '-device')).toContain('virtio-blk-pci,drive=disk0');
  });

  it('boots from the disk through the firmware when there is no kernel', () => {
    const args = buildQemuArgs(launch({ boot: {} }));
    expect(args).not.toContain('-kernel');
    expect(values(args, '-device')).toContain('virtio-blk-pci,drive=disk0,bootindex=0');
    expect(() => buildQemuArgs(launch({ boot: { initrd: '/i' } }))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it.each<[Accelerator, string | undefined]>([
    ['kvm', 'host'],
    ['hvf', 'host'],
    ['whpx', undefined],
    ['tcg', undefined],
  ])('passes -accel %s with cpu model %s on x86_64', (accelerator, cpu) => {
    const args = buildQemuArgs(launch({ accelerator }));
    expect(values(args, '-accel')).toEqual([accelerator]);
    expect(values(args, '-cpu')).toEqual(cpu ? [cpu] : []);
  });

  it('uses the virt machine and a 64-bit CPU for arm64 guests', () => {
    const args = buildQemuArgs(launch({ arch: 'arm64', accelerator: 'tcg' }));
    expect(values(args, '-machine')).toEqual(['virt']);
    expect(values(args, '-cpu')).toEqual(['max']);
  });

  it('doubles commas in paths that QEMU parses as option lists, and only there', () => {
    const dir = `/tmp/odd,dir/qemu/${ID}`;
    const args = buildQemuArgs(
      launch({
        paths: { overlay: `${dir}/overlay.qcow2`, console: `${dir}/console.log`, qmp: `${dir}/qmp.sock`, pidfile: `${dir}/qemu.pid` },
      }),
    );
    expect(values(args, '-qmp')).toEqual([`unix:/tmp/odd,,dir/qemu/${ID}/qmp.sock,server=on,wait=off`]);
    expect(values(args, '-drive')[0]).toMatch(/^file=\/tmp\/odd,,dir\/qemu\/.*\/overlay\.qcow2,if=none/);
    expect(values(args, '-serial')).toEqual([`file:${dir}/console.log`]);
    expect(values(args, '-pidfile')).toEqual([`${dir}/qemu.pid`]);
    expect(escapeOptionValue('a,b,,c')).toBe('a,,b,,,,c');
  });

  it('validates the id, the name, the sizes and the bridge before building anything', () => {
    const invalid = expect.objectContaining({ code: 'InvalidArgument' });
    expect(() => buildQemuArgs(launch({ id: 'x; rm -rf /' }))).toThrow(invalid);
    expect(() => buildQemuArgs(launch({ name: 'web,script=/evil' }))).toThrow(invalid);
    expect(() => buildQemuArgs(launch({ memoryMiB: 0 }))).toThrow(invalid);
    expect(() => buildQemuArgs(launch({ vcpus: 1.5 }))).toThrow(invalid);
    expect(() => buildQemuArgs(launch({ network: { bridge: 'br0,script=/x' } }))).toThrow(invalid);
    expect(values(buildQemuArgs(launch({ network: { bridge: 'br0' } })), '-netdev')).toEqual(['bridge,id=net0,br=br0']);
  });

  it('refuses a QMP socket path longer than a unix socket allows', () => {
    const long = `/${'d'.repeat(120)}/qmp.sock`;
    const l = launch();
    expect(() => buildQemuArgs({ ...l, paths: { ...l.paths, qmp: long } })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it('refuses Windows hosts, whose QEMU has no -daemonize', () => {
    expect(() => buildQemuArgs(launch({ hostOs: 'windows', accelerator: 'whpx' }))).toThrow(expect.objectContaining({ code: 'Unsupported' }));
  });

  it('leaves the seccomp sandbox out on macOS', () => {
    expect(buildQemuArgs(launch({ hostOs: 'macos', accelerator: 'hvf' }))).not.toContain('-sandbox');
  });
});
