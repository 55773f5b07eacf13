import {
  Arch,
  BUILTIN_TEMPLATES,
  Capability,
  DriverOffer,
  DriverProbe,
  OsFamily,
  Resources,
  TemplateSpec,
  WINDOWS_SERVER_BUILDS,
  WindowsIsolation,
  windowsContainerIsolation,
} from '@hyperplane/domain';
import { DriverError } from '../driver.exception';
import { DockerCli } from './docker-cli';
import { parseDockerInfo, parseImageInspect } from './wincontainer-parse';

/**
 * Host cost per container beyond its request. Not measured (no Windows host here): a
 * process-isolated container's own system processes (smss, csrss, services, …); a Hyper-V
 * isolated one adds its utility VM, a small Windows kernel with its own memory.
 */
export const WINCONTAINER_OVERHEAD: Readonly<Record<WindowsIsolation, Resources>> = {
  process: { vcpus: 0, memoryMiB: 128, diskGiB: 0 },
  hyperv: { vcpus: 0, memoryMiB: 512, diskGiB: 0 },
};

export interface WincontainerProbe extends DriverProbe {
  hostBuild?: number;
  isolation?: WindowsIsolation[];
}

/** A Windows image this host can run: the template identity, the image and its build. */
export interface WinImage {
  template: string;
  distribution: string;
  version: string;
  ref: string;
  build: number;
  local: boolean;
}

export interface WinHostFacts {
  version: string;
  build: number;
  modes: WindowsIsolation[];
  images: WinImage[];
}

/** The image a template names for this driver (`image.wincontainer.image`), else null. */
export function imageRefOf(template: TemplateSpec): string | null {
  const image = template.image?.wincontainer;
  if (!image || typeof image !== 'object') return null;
  const ref = (image as Record<string, unknown>).image;
  return typeof ref === 'string' && ref.length > 0 ? ref : null;
}

/** The command the container runs: `image.wincontainer.command`, else one that keeps it up. */
export function commandOf(template: TemplateSpec): string[] {
  const image = template.image?.wincontainer;
  const cmd = image && typeof image === 'object' ? (image as Record<string, unknown>).command : undefined;
  if (Array.isArray(cmd) && cmd.length > 0 && cmd.every((c) => typeof c === 'string')) return cmd;
  // A Windows base image's default command (cmd.exe) exits at once without a console.
  return ['ping', '-t', 'localhost'];
}

/** Reads the engine and the images once: why it cannot be used, as a DriverError, when it cannot. */
export async function readWinHostFacts(
  cli: DockerCli,
  hostOs: OsFamily,
  hostArch: Arch,
  modes: readonly WindowsIsolation[],
  pull: boolean,
  templates: readonly TemplateSpec[] = BUILTIN_TEMPLATES,
): Promise<WinHostFacts> {
  // Each of these is this host's shortcoming (another host may run the container): Unavailable.
  if (hostOs !== 'windows') throw new DriverError('Unavailable', `Windows containers run on Windows hosts only, not on ${hostOs}`);
  if (hostArch !== 'x86_64') throw new DriverError('Unavailable', `Windows Server container images are x86_64; this host is ${hostArch}`);
  const info = parseDockerInfo((await cli.run(['info', '--format', '{{json .}}'], { timeoutMs: 30_000 })).stdout);
  if (info.osType !== 'windows') {
    throw new DriverError('Unavailable', `the Docker engine runs ${info.osType || 'unknown'} containers; switch it to Windows containers`);
  }
  if (info.build === null) throw new DriverError('Unavailable', 'docker info reports no Windows build (OSVersion, KernelVersion)');
  const images: WinImage[] = [];
  for (const t of templates) {
    const ref = imageRefOf(t);
    if (t.osFamily !== 'windows' || !t.technologies.includes('container') || !ref) continue;
    const local = await inspectImage(cli, ref);
    const declared = t.windowsBuild ? Number.parseInt(t.windowsBuild, 10) : null;
    const build = local?.build ?? declared;
    if (build === null || Number.isNaN(build)) continue;
    if (!local && !pull) continue;
    // Runnable here in some mode the host has (a newer image in none: the engine refuses its pull).
    if (!windowsContainerIsolation(build, info.build, modes, false).ok) continue;
    images.push({ template: t.name, distribution: t.distribution, version: t.version, ref, build, local: local !== null });
  }
  return { version: info.serverVersion, build: info.build, modes: [...modes], images };
}

/** The local image, or null when the engine has none by that name. */
export async function inspectImage(cli: DockerCli, ref: string): Promise<{ id: string; build: number | null } | null> {
  try {
    return parseImageInspect((await cli.run(['image', 'inspect', ref], { timeoutMs: 30_000 })).stdout);
  } catch (error) {
    if (error instanceof DriverError && /No such image/i.test(error.message)) return null;
    throw error;
  }
}

/**
 * What the container offer declares for a host offering `modes`. `docker pause` works on
 * Hyper-V isolated containers only: suspend is offered where every container is one. Snapshots
 * and clones (`docker commit`) are not offered: Windows cannot commit a running container and a
 * commit leaves the container's volumes out.
 */
export function winCapabilities(modes: readonly WindowsIsolation[]): Capability[] {
  return modes.length === 1 && modes[0] === 'hyperv' ? ['suspend'] : [];
}

/** One container offer listing exactly the images found (or pullable); none without images. */
export function winOffers(facts: WinHostFacts): DriverOffer[] {
  if (facts.images.length === 0) return [];
  const versions: Record<string, string[]> = {};
  for (const image of facts.images) {
    const list = versions[image.distribution] ?? [];
    if (!list.includes(image.version)) list.push(image.version);
    versions[image.distribution] = list;
  }
  const capabilities = winCapabilities(facts.modes);
  const processOnly = !facts.modes.includes('hyperv');
  return [
    {
      technology: 'container',
      guests: [{ os: 'windows', archs: ['x86_64'], distributions: versions }],
      capabilities,
      overhead: { ...WINCONTAINER_OVERHEAD[facts.modes.includes('process') ? 'process' : 'hyperv'] },
      windowsIsolation: [...facts.modes],
      ...(processOnly ? {} : { hypervOverhead: { ...WINCONTAINER_OVERHEAD.hyperv } }),
    },
  ];
}

export function buildName(build: number): string {
  return WINDOWS_SERVER_BUILDS[String(build)] ?? `Windows build ${build}`;
}
