import { chmod, copyFile, mkdir, open, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runCommand } from '../exec/run-command';

export type BusyboxFlavour = 'busybox' | 'tiny-linux';

export interface BusyboxBuild {
  /** A statically linked busybox on the host (busybox-static). */
  busybox: string;
  flavour: BusyboxFlavour;
  buildId: string;
  signal?: AbortSignal;
}

const DIRS = ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/init.d', 'usr/share/udhcpc', 'proc', 'sys', 'dev', 'root', 'run', 'var/log', 'home', 'mnt'];

/**
 * A busybox userland built offline from the host's static busybox: the binary, a symlink per
 * applet, a minimal /etc and busybox init. `tiny-linux` adds a syslog daemon and its own
 * os-release; both ask for an address by DHCP when the container has a NIC.
 */
export async function buildBusyboxRootfs(rootfs: string, build: BusyboxBuild): Promise<void> {
  for (const dir of DIRS) await mkdir(join(rootfs, dir), { recursive: true, mode: 0o755 });
  await mkdir(join(rootfs, 'tmp'), { mode: 0o1777 });
  await chmod(join(rootfs, 'tmp'), 0o1777);
  await chmod(join(rootfs, 'root'), 0o700);
  await copyFile(build.busybox, join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);

  const { stdout } = await runCommand(build.busybox, ['--list-full'], { timeoutMs: 10_000, signal: build.signal });
  for (const applet of stdout.split('\n').map((l) => l.trim())) {
    // Applet paths are relative (bin/sh, usr/sbin/chroot); anything else is not ours to create.
    if (!/^[a-z0-9_/[.-]+$/i.test(applet) || applet.startsWith('/') || applet.split('/').includes('..')) continue;
    if (applet === 'bin/busybox') continue;
    await mkdir(dirname(join(rootfs, applet)), { recursive: true });
    await symlink('/bin/busybox', join(rootfs, applet)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  await symlink('/run', join(rootfs, 'var/run'));

  const tiny = build.flavour === 'tiny-linux';
  const files: [string, string, number][] = [
    ['etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n', 0o644],
    ['etc/group', 'root:x:0:\nnogroup:x:65534:\n', 0o644],
    ['etc/shadow', 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o640],
    ['etc/hosts', '127.0.0.1 localhost\n::1 localhost\n', 0o644],
    ['etc/resolv.conf', '', 0o644],
    ['etc/profile', 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1="\\h:\\w\\$ "\n', 0o644],
    [
      'etc/os-release',
      tiny
        ? 'NAME="Tiny Linux"\nID=tiny-linux\nPRETTY_NAME="Tiny Linux (busybox)"\n'
        : 'NAME="BusyBox"\nID=busybox\nPRETTY_NAME="BusyBox"\n',
      0o644,
    ],
    ['etc/inittab', inittab(tiny), 0o644],
    ['etc/init.d/rcS', RC_S, 0o755],
    ['usr/share/udhcpc/default.script', UDHCPC_SCRIPT, 0o755],
    ['etc/hyperplane-template', `${JSON.stringify({ distribution: build.flavour, buildId: build.buildId })}\n`, 0o644],
  ];
  for (const [path, text, mode] of files) {
    await writeFile(join(rootfs, path), text, { mode });
    await chmod(join(rootfs, path), mode);
  }
}

function inittab(tiny: boolean): string {
  // No getty or shell on the console: init stays up on its own and the container costs little.
  return [
    '::sysinit:/etc/init.d/rcS',
    ...(tiny ? ['::respawn:/sbin/syslogd -n -O /var/log/messages'] : []),
    '::shutdown:/bin/sync',
    '',
  ].join('\n');
}

const RC_S = `#!/bin/sh
ip link set lo up 2>/dev/null
if [ -e /sys/class/net/eth0 ]; then
  udhcpc -b -i eth0 -s /usr/share/udhcpc/default.script -p /run/udhcpc.eth0.pid >/dev/null 2>&1
fi
exit 0
`;

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
esac
exit 0
`;

/** True for an ELF executable without a program interpreter, i.e. statically linked. */
export async function isStaticElf(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
    const header = Buffer.alloc(64);
    await handle.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46) return false;
    const is64 = header[4] === 2;
    const le = header[5] === 1;
    const u16 = (o: number) => (le ? header.readUInt16LE(o) : header.readUInt16BE(o));
    const phoff = is64 ? Number(le ? header.readBigUInt64LE(0x20) : header.readBigUInt64BE(0x20)) : le ? header.readUInt32LE(0x1c) : header.readUInt32BE(0x1c);
    const phentsize = u16(is64 ? 0x36 : 0x2a);
    const phnum = u16(is64 ? 0x38 : 0x2c);
    if (phentsize < 4 || phnum > 256) return false;
    const table = Buffer.alloc(phentsize * phnum);
    await handle.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const type = le ? table.readUInt32LE(i * phentsize) : table.readUInt32BE(i * phentsize);
      if (type === 3) return false; // PT_INTERP: needs a dynamic loader
    }
    return true;
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}
