import { readFileSync, statfsSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import { Arch, DriverProbe, HostInventory, OsFamily } from '@hyperplane/domain';

export function hostOs(platform: NodeJS.Platform = process.platform): OsFamily {
  switch (platform) {
    case 'linux':
      return 'linux';
    case 'win32':
      return 'windows';
    case 'darwin':
      return 'macos';
    case 'aix':
    case 'android':
    case 'cygwin':
    case 'freebsd':
    case 'haiku':
    case 'netbsd':
    case 'openbsd':
    case 'sunos':
      throw new Error(`Hyperplane agents run on Linux, Windows and macOS, not ${platform}`);
  }
}

export function hostArch(arch: string = process.arch): Arch {
  if (arch === 'x64') return 'x86_64';
  if (arch === 'arm64') return 'arm64';
  throw new Error(`unsupported architecture ${arch}`);
}

function osVersion(family: OsFamily): string {
  if (family === 'linux') {
    try {
      const release = readFileSync('/etc/os-release', 'utf8');
      const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release);
      if (pretty?.[1]) return pretty[1];
    } catch {
      // fall back to os.version()
    }
  }
  return os.version();
}

/** This machine as the OS reports it: platform, release, arch, CPUs, memory, disk. */
export function readLocalInventory(dataDir: string, drivers: DriverProbe[], agentVersion: string): HostInventory {
  const family = hostOs();
  mkdirSync(dataDir, { recursive: true });
  const fs = statfsSync(dataDir);
  return {
    hostname: os.hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-').slice(0, 253) || 'localhost',
    os: family,
    osVersion: osVersion(family).slice(0, 100),
    kernel: os.release().slice(0, 100),
    arch: hostArch(),
    cpus: os.cpus().length,
    memoryMiB: Math.floor(os.totalmem() / 1024 / 1024),
    diskGiB: Math.floor((fs.blocks * fs.bsize) / 1024 ** 3),
    drivers,
    labels: { 'hyperplane.dev/local': 'true' },
    simulated: false,
    agentVersion,
  };
}
