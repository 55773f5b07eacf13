import { IsolationNeeds } from './isolation';

/**
 * How a Windows container is isolated. `process` shares the host kernel (Windows Server
 * containers); `hyperv` runs the container in a utility VM with a kernel of its own.
 */
export const WINDOWS_ISOLATIONS = ['process', 'hyperv'] as const;
export type WindowsIsolation = (typeof WINDOWS_ISOLATIONS)[number];

/** Windows Server releases by build (Microsoft's container version-compatibility page). */
export const WINDOWS_SERVER_BUILDS: Readonly<Record<string, string>> = {
  '14393': 'Windows Server 2016',
  '17763': 'Windows Server 2019',
  '20348': 'Windows Server 2022',
  '26100': 'Windows Server 2025',
};

/**
 * The build number in what Windows and Docker print: `10.0.20348`, `10.0.20348.2113`,
 * Docker's `KernelVersion` `10.0 20348 (20348.1.amd64fre.fe_release.210507-1500)`, or `20348`.
 */
export function windowsBuildNumber(text: string | null | undefined): number | null {
  if (!text) return null;
  const m = /^\s*10\.0[. ](\d{4,6})\b/.exec(text) ?? /\b10\.0\.(\d{4,6})\b/.exec(text) ?? /^\s*(\d{4,6})\s*$/.exec(text);
  return m?.[1] ? Number.parseInt(m[1], 10) : null;
}

/**
 * A request's isolation needs that a Windows container meets only with Hyper-V isolation: a
 * dedicated kernel or strict security (the utility VM is a hardware boundary).
 */
export function needsHypervIsolation(isolation: IsolationNeeds | undefined): boolean {
  return isolation?.kernel === 'dedicated' || isolation?.security === 'strict';
}

export type WindowsIsolationVerdict =
  | { ok: true; isolation: WindowsIsolation }
  /** `build`: no mode can run this image build here; `no-hyperv`: only Hyper-V isolation could, and the host has none. */
  | { ok: false; why: 'build' | 'no-hyperv' };

/**
 * The build rule for Windows containers (Microsoft's version-compatibility page; moby's
 * `checkImageCompatibility`): process isolation shares the host kernel, so the image build must
 * EQUAL the host build; Hyper-V isolation runs an image of the same or an OLDER build; a newer
 * image runs nowhere. Process isolation is preferred (denser, faster) unless the request needs
 * Hyper-V's own kernel. `modes` are the host's (absent: process only).
 */
export function windowsContainerIsolation(
  imageBuild: number,
  hostBuild: number,
  modes: readonly WindowsIsolation[] | undefined,
  hypervRequired: boolean,
): WindowsIsolationVerdict {
  const offered = modes ?? ['process'];
  if (!hypervRequired && offered.includes('process') && imageBuild === hostBuild) return { ok: true, isolation: 'process' };
  if (imageBuild > hostBuild) return { ok: false, why: 'build' };
  if (offered.includes('hyperv')) return { ok: true, isolation: 'hyperv' };
  return { ok: false, why: 'no-hyperv' };
}
