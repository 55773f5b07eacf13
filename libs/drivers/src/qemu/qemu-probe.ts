import { ARCHES, Arch, Capability, DriverProbe, OsFamily } from '@hyperplane/domain';
import { DriverError } from '../driver.exception';
import { runCommand } from '../exec/run-command';
import { Accelerator, qemuSystemBinary } from './qemu-args';
import { findExecutable } from './qemu-host';
import { QemuImg } from './qemu-img';

/**
 * Host memory a VM costs beyond its own memoryMiB. Measured with a 256 MiB tiny-linux guest under
 * TCG (QEMU 7.2): RSS 213 MiB once booted, of which 120 MiB is guest RAM the guest touched and
 * ~93 MiB is QEMU's own (~45 MiB of it TCG's translated-code cache; QEMU before the guest runs
 * holds ~27 MiB). An idle guest touches less than it asked for, so the host pays at most its
 * request plus QEMU's own share. Without TCG there is no translation cache: ~50 MiB, not
 * measured under KVM here (this host's /dev/kvm is PVM), hence the margin.
 */
export const QEMU_OVERHEAD_MIB: Record<Accelerator, number> = { tcg: 96, kvm: 56, hvf: 56, whpx: 56 };



/** What the driver implements: live and offline snapshots, offline clones, pause, a serial log. */
export const QEMU_CAPABILITIES: readonly Capability[] = ['suspend', 'snapshot', 'clone', 'console', 'liveMigrate'];

export interface QemuProbeInput {
  hostOs: OsFamily;
  hostArch: Arch;
  binary: string;
  qemuImg: QemuImg;
  accelerator: Accelerator;
  /** What the offer may run: the templates whose image is present (distribution → versions). */
  distributions: Record<string, string[]>;
  imageDir: string;
}

/** Installed where `qemu-system-<host arch>` and `qemu-img` answer `--version`; one `vm` offer. */
export async function probeQemu(input: QemuProbeInput): Promise<DriverProbe> {
  const { hostOs, hostArch, accelerator } = input;
  const base = { name: 'qemu' as const, accelerator, offers: [] };
  let version: string;
  try {
    const { stdout } = await runCommand(input.binary, ['--version'], { timeoutMs: 10_000 });
    version = /version\s+(\S+)/.exec(stdout)?.[1] ?? (stdout.split('\n')[0]?.trim() || 'unknown');
    await input.qemuImg.version();
  } catch (e) {
    const why = DriverError.is(e, 'Unsupported') ? `${e.message} (Debian: apt-get install qemu-system-x86 qemu-utils)` : String(e);
    return { ...base, installed: false, error: why };
  }
  if (hostOs === 'windows') {
    return { ...base, installed: false, version, error: 'the qemu driver does not manage QEMU processes on Windows hosts yet' };
  }
  if (Object.keys(input.distributions).length === 0) {
    return { ...base, installed: false, version, error: `no template image under ${input.imageDir} (build one with scripts/build-tiny-linux.sh)` };
  }
  const emulates = ARCHES.filter((a) => a !== hostArch && findExecutable(qemuSystemBinary(a)) !== undefined);
  return {
    ...base,
    installed: true,
    version,
    offers: [
      {
        technology: 'vm',
        guests: [{ os: 'linux', archs: [hostArch], distributions: input.distributions }],
        capabilities: [...QEMU_CAPABILITIES],
        overhead: { vcpus: 0, memoryMiB: QEMU_OVERHEAD_MIB[accelerator], diskGiB: 0 },
        ...(emulates.length > 0 ? { emulates } : {}),
      },
    ],
  };
}
