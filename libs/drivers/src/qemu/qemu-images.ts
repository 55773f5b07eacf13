import { existsSync, readFileSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { TemplateSpec } from '@hyperplane/domain';
import { DriverError } from '../driver.exception';

/** `template.image.qemu`: paths relative to the image directory. */
export interface QemuImageRef {
  /** The base disk the instance's overlay backs onto (qcow2 or raw). Optional with a kernel. */
  disk?: string;
  /** Direct kernel boot; without it the VM boots from `disk` through the firmware. */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** A firmware image for `-bios` (e.g. UEFI for arm64 disk boot). */
  firmware?: string;
  /** A line the guest prints on the serial console once it has booted. */
  readyMarker?: string;
}

export interface ResolvedImage {
  disk?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  firmware?: string;
  readyMarker?: string;
}

/**
 * Where VM images live: `HYPERPLANE_IMAGE_DIR`, else `<repo>/.data/images`, the repository being
 * the nearest folder above `from` whose package.json is Hyperplane's (same from src/ and dist/).
 */
export function resolveImageDir(env: NodeJS.ProcessEnv = process.env, from: string = __dirname): string {
  const fromEnv = env.HYPERPLANE_IMAGE_DIR?.trim();
  if (fromEnv) return resolve(fromEnv);
  return join(findRepoRoot(from) ?? process.cwd(), '.data', 'images');
}

export function findRepoRoot(from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'hyperplane') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

const STRING_FIELDS = ['disk', 'kernel', 'initrd', 'append', 'firmware', 'readyMarker'] as const;
const PATH_FIELDS = ['disk', 'kernel', 'initrd', 'firmware'] as const;

/** Reads and type-checks `template.image.qemu`. */
export function readQemuImageRef(template: TemplateSpec): QemuImageRef {
  const raw = template.image?.qemu;
  if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    // Host-specific: another host (prlctl, hyperv, a sim) may still make this template.
    throw new DriverError('Unavailable', `template ${template.name} has no image.qemu for the qemu driver`);
  }
  const ref: QemuImageRef = {};
  for (const key of STRING_FIELDS) {
    const value = (raw as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) {
      throw new DriverError('InvalidArgument', `template ${template.name}: image.qemu.${key} must be a non-empty string`);
    }
    ref[key] = value;
  }
  if (!ref.disk && !ref.kernel) {
    throw new DriverError('InvalidArgument', `template ${template.name}: image.qemu needs a disk or a kernel`);
  }
  for (const key of PATH_FIELDS) {
    const p = ref[key];
    // Checked against a stand-in root here; against the real one (and its symlinks) at boot.
    if (p !== undefined) confineToImageDir('/image-dir', p, `image.qemu.${key}`);
  }
  return ref;
}

/**
 * `rel` resolved inside `imageDir`; an absolute path or one that climbs out with `..` is refused.
 * Lexical only; `resolveImage` also checks the real path, so a symlink cannot lead out either.
 */
export function confineToImageDir(imageDir: string, rel: string, what = 'image path'): string {
  if (isAbsolute(rel) || /^[A-Za-z]:/.test(rel) || rel.startsWith('\\')) {
    throw new DriverError('InvalidArgument', `${what} must be relative to the image directory, got ${JSON.stringify(rel)}`);
  }
  const root = resolve(imageDir);
  const full = resolve(root, rel);
  if (!isInside(root, full)) {
    throw new DriverError('InvalidArgument', `${what} ${JSON.stringify(rel)} leaves the image directory`);
  }
  return full;
}

function isInside(root: string, full: string): boolean {
  const rel = relative(root, full);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/** Resolves every file of the image to an absolute path that exists and really lies in `imageDir`. */
export async function resolveImage(imageDir: string, ref: QemuImageRef): Promise<ResolvedImage> {
  let root: string;
  try {
    root = await realpath(imageDir);
  } catch {
    throw new DriverError('Unavailable', `image directory ${imageDir} does not exist (build images with scripts/build-tiny-linux.sh)`);
  }
  const out: ResolvedImage = { append: ref.append, readyMarker: ref.readyMarker };
  for (const key of PATH_FIELDS) {
    const rel = ref[key];
    if (rel === undefined) continue;
    const lexical = confineToImageDir(root, rel, `image.qemu.${key}`);
    let real: string;
    try {
      real = await realpath(lexical);
      if (!(await stat(real)).isFile()) throw new Error('not a file');
    } catch {
      // Host-specific: another host may have the image.
      throw new DriverError('Unavailable', `image file ${lexical} is missing (build images with scripts/build-tiny-linux.sh)`);
    }
    if (!isInside(root, real)) {
      throw new DriverError('InvalidArgument', `image.qemu.${key} ${JSON.stringify(rel)} links out of the image directory`);
    }
    out[key] = real;
  }
  return out;
}

/** `file` (absolute, e.g. a backing file qemu-img reported) must really lie in `imageDir`. */
export async function assertWithinImageDir(imageDir: string, file: string, what: string): Promise<void> {
  const root = await realpath(imageDir);
  const real = await realpath(resolve(root, file)).catch(() => resolve(root, file));
  if (!isInside(root, real)) throw new DriverError('InvalidArgument', `${what} ${JSON.stringify(file)} lies outside the image directory`);
}
