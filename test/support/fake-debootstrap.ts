import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The packages the fake "downloads", as debootstrap names them (name and version). */
export const FAKE_DEBOOTSTRAP_PACKAGES = ['adduser 3.134', 'apt 2.6.1', 'base-files 12.4+deb12u5', 'libc6 2.36-9+deb12u4', 'systemd 252.22-1~deb12u1', 'iproute2 6.1.0-3'];

/**
 * A stand-in for debootstrap (no network, no root): prints what the real one prints on its
 * standard output, pausing `pauseS` between phases, and leaves a skeleton root filesystem at
 * its fifth argument (where the template cache passes the target).
 */
export function writeFakeDebootstrap(dir: string, pauseS = 0): string {
  const names = FAKE_DEBOOTSTRAP_PACKAGES.map((p) => p.split(' ')[0]);
  const lines = (l: string[]): string => l.map((x) => `echo '${x}'`).join('\n');
  const script = `#!/bin/sh
set -e
mkdir -p "$5/etc" "$5/var/cache/apt/archives"
${lines(['I: Target architecture can be executed', 'I: Retrieving InRelease ', 'I: Checking Release signature', 'I: Retrieving Packages ', 'I: Validating Packages ', 'I: Resolving dependencies of required packages...'])}
${lines(FAKE_DEBOOTSTRAP_PACKAGES.slice(0, 3).flatMap((p) => [`I: Retrieving ${p}`, `I: Validating ${p}`]))}
sleep ${pauseS}
${lines(FAKE_DEBOOTSTRAP_PACKAGES.slice(3).flatMap((p) => [`I: Retrieving ${p}`, `I: Validating ${p}`]))}
${lines(['I: Chosen extractor for .deb packages: dpkg-deb', ...names.map((n) => `I: Extracting ${n}...`)])}
sleep ${pauseS}
${lines(['I: Installing core packages...', 'I: Unpacking required packages...', ...names.map((n) => `I: Unpacking ${n}...`)])}
sleep ${pauseS}
${lines(['I: Configuring required packages...', ...names.map((n) => `I: Configuring ${n}...`)])}
sleep ${pauseS}
echo 'I: Base system installed successfully.'
`;
  const file = join(dir, 'debootstrap');
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return file;
}
