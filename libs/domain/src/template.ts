import { Arch, DriverName, OsFamily, Technology } from './enums';

/** A thing that can be created: an OS image usable as a container root or a VM disk. */
export interface TemplateSpec {
  name: string;
  description?: string;
  osFamily: OsFamily;
  /** e.g. debian, ubuntu, alpine, windows-server, macos, busybox */
  distribution: string;
  /** e.g. 12, 24.04, 3.20, 2022, 15 */
  version: string;
  archs: Arch[];
  technologies: Technology[];
  /** Containers share the host kernel: the least Linux kernel the userland needs. */
  minKernel?: string;
  /** Windows containers (process isolation) need a host of the same build, e.g. 20348. */
  windowsBuild?: string;
  /** Drivers that may serve it; absent = any driver whose guest support matches. */
  drivers?: DriverName[];
  /** Driver-specific image references (paths, URLs, checksums). */
  image?: Record<string, unknown>;
}

/** Compare dotted version strings numerically: compareVersions('6.1.0', '5.10') > 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.isNaN(pa[i] ?? 0) ? 0 : (pa[i] ?? 0);
    const y = Number.isNaN(pb[i] ?? 0) ? 0 : (pb[i] ?? 0);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
