import { DriverProbe, OsFamily, Resources } from '@hyperplane/domain';
import { CgroupLayout } from './lxc-cgroup';
import { which } from './lxc-host';
import { LxcTemplateCache } from './lxc-template-cache';
import { LxcTools } from './lxc-tools';

/** The probe, plus how this host's cgroups look to LXC. */
export interface LxcProbe extends DriverProbe {
  cgroup?: CgroupLayout;
}

export interface LxcProbeDeps {
  hostOs: OsFamily;
  tools: LxcTools;
  templates: LxcTemplateCache;
  layout(): Promise<CgroupLayout>;
}

const REQUIRED_TOOLS = ['lxc-start', 'lxc-stop', 'lxc-info', 'lxc-ls', 'lxc-wait', 'lxc-freeze', 'lxc-unfreeze', 'lxc-cgroup', 'lxc-snapshot', 'lxc-copy', 'lxc-destroy', 'cp'];

/**
 * Measured on a running busybox container: its own cgroup holds about 0.2 MiB, charged to its
 * memory limit; the `[lxc monitor]` beside it, outside that limit, 0.6–0.8 MiB (3 MiB RSS, mostly
 * shared libraries). Rounded up for kernel objects.
 */
export const LXC_OVERHEAD: Resources = { vcpus: 0, memoryMiB: 2, diskGiB: 0 };

/** What the lxc driver can do here; never throws: a host it cannot use is `installed: false` with the reason. */
export async function probeLxc(deps: LxcProbeDeps): Promise<LxcProbe> {
  const unusable = (error: string, version?: string): LxcProbe => ({ name: 'lxc', installed: false, version, error, offers: [] });
  try {
    if (deps.hostOs !== 'linux') return unusable('lxc runs on Linux hosts only');
    const missing: string[] = [];
    for (const tool of REQUIRED_TOOLS) if (!(await which(tool))) missing.push(tool);
    if (missing.length) return unusable(`not installed: ${missing.join(', ')} missing (install the lxc package)`);
    const version = await deps.tools.version();
    if (process.getuid?.() !== 0) return unusable('needs root: the driver runs privileged containers', version);
    const [layout, distributions] = await Promise.all([deps.layout(), deps.templates.distributions()]);
    if (!Object.keys(distributions).length) {
      return unusable('no template source: install busybox-static (busybox, tiny-linux) or debootstrap (debian 12)', version);
    }
    const arch = deps.templates.hostArch;
    return {
      name: 'lxc',
      installed: true,
      version: `${version} (cgroup ${layout.version}${layout.hybrid && layout.version === 'v1' ? ', hybrid' : ''})`,
      offers: [
        {
          technology: 'container',
          guests: [{ os: 'linux', archs: [arch], distributions }],
          capabilities: ['suspend', 'snapshot', 'clone', 'liveResize', 'offlineMigrate', 'console'],
          overhead: { ...LXC_OVERHEAD },
        },
      ],
      cgroup: layout,
    };
  } catch (error) {
    return unusable(error instanceof Error ? error.message : String(error));
  }
}
