import { readFile, mkdir, statfs } from 'node:fs/promises';
import * as os from 'node:os';
import { win32 } from 'node:path';
import { Arch, DriverProbe, HostInventory, OsFamily } from '@hyperplane/domain';
import { runCommand } from '@hyperplane/drivers';
import { linuxFacts, macosFacts, OsFacts, windowsFacts } from './os-facts';

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

/** A tool's stdout, or null when it cannot run: inventory falls back rather than fails. */
async function output(file: string, args: string[], okCodes = [0]): Promise<string | null> {
  try {
    return (await runCommand(file, args, { timeoutMs: 10_000, okCodes, maxOutputBytes: 256 * 1024 })).stdout;
  } catch {
    return null;
  }
}

async function firstFile(paths: string[]): Promise<string | null> {
  for (const p of paths) {
    try {
      return await readFile(p, 'utf8');
    } catch {
      // the next one
    }
  }
  return null;
}

/** This machine's OS version, kernel, architecture and CPU, from each OS's own tools. */
export async function readOsFacts(family: OsFamily = hostOs()): Promise<OsFacts> {
  const nodeArch = hostArch();
  const cpu = os.cpus()[0]?.model.trim() || undefined;
  switch (family) {
    case 'linux':
      return linuxFacts(await firstFile(['/etc/os-release', '/usr/lib/os-release']), os.release(), nodeArch, cpu);
    case 'macos': {
      // Absolute paths: a launchd daemon's PATH is short.
      const [swVers, brand, arm64] = await Promise.all([
        output('/usr/bin/sw_vers', []),
        output('/usr/sbin/sysctl', ['-n', 'machdep.cpu.brand_string']),
        // Missing on Intel Macs: sysctl exits 1 ("unknown oid") and prints nothing.
        output('/usr/sbin/sysctl', ['-n', 'hw.optional.arm64'], [0, 1]),
      ]);
      return macosFacts({ swVers, brand, arm64, release: os.release(), nodeArch });
    }
    case 'windows': {
      const reg = win32.join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'reg.exe');
      const regQuery = await output(reg, ['query', 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion']);
      return windowsFacts({ regQuery, release: os.release(), arch: nodeArch, cpu });
    }
  }
}

/** This machine as the OS reports it: OS and version, kernel, arch, CPUs, memory, disk. */
export async function readLocalInventory(dataDir: string, drivers: DriverProbe[], agentVersion: string, facts?: OsFacts): Promise<HostInventory> {
  const family = hostOs();
  const f = facts ?? (await readOsFacts(family));
  await mkdir(dataDir, { recursive: true });
  const fs = await statfs(dataDir);
  const labels: Record<string, string> = { 'hyperplane.dev/local': 'true' };
  if (f.cpu) labels['hyperplane.dev/cpu'] = f.cpu.slice(0, 63);
  return {
    hostname: os.hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-').slice(0, 253) || 'localhost',
    os: family,
    osVersion: f.osVersion.slice(0, 100),
    kernel: f.kernel.slice(0, 100),
    arch: f.arch,
    cpus: os.cpus().length,
    memoryMiB: Math.floor(os.totalmem() / 1024 / 1024),
    diskGiB: Math.floor((fs.blocks * fs.bsize) / 1024 ** 3),
    drivers,
    labels,
    simulated: false,
    agentVersion,
  };
}
