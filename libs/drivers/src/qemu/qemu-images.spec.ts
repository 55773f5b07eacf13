import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TemplateSpec } from '@hyperplane/domain';
import { confineToImageDir, findRepoRoot, readQemuImageRef, resolveImage, resolveImageDir } from './qemu-images';
import { TINY_LINUX_TEMPLATE } from './qemu-templates';

function template(qemu: unknown): TemplateSpec {
  return { ...TINY_LINUX_TEMPLATE, image: { qemu } };
}

describe('resolveImageDir', () => {
  it('takes HYPERPLANE_IMAGE_DIR first', () => {
    expect(resolveImageDir({ HYPERPLANE_IMAGE_DIR: '/srv/images' })).toBe('/srv/images');
  });

  it('defaults to .data/images in the repository', () => {
    const repo = findRepoRoot(__dirname)!;
    expect(resolveImageDir({})).toBe(join(repo, '.data', 'images'));
    expect(repo).toBe(resolve(__dirname, '../../../..'));
  });
});

describe('readQemuImageRef', () => {
  it('accepts a kernel-boot template and a disk-only one', () => {
    expect(readQemuImageRef(TINY_LINUX_TEMPLATE)).toMatchObject({ kernel: 'tiny-linux/vmlinuz', readyMarker: 'HYPERPLANE-GUEST-READY' });
    expect(readQemuImageRef(template({ disk: 'mine/debian.qcow2' }))).toEqual({ disk: 'mine/debian.qcow2' });
  });

  it('answers a template without image.qemu as host-specific: another host may make it', () => {
    expect(() => readQemuImageRef(template(undefined))).toThrow(expect.objectContaining({ code: 'Unavailable' }));
  });

  it.each([
    ['neither disk nor kernel', { append: 'x' }],
    ['an absolute disk path', { disk: '/etc/shadow' }],
    ['a disk path that climbs out', { disk: 'mine/../../etc/shadow' }],
    ['a kernel path that climbs out', { kernel: '../vmlinuz' }],
    ['a non-string path', { disk: 42 }],
  ])('refuses %s', (_label, qemu) => {
    expect(() => readQemuImageRef(template(qemu))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});

describe('confineToImageDir', () => {
  it('resolves inside the directory and refuses to leave it', () => {
    expect(confineToImageDir('/images', 'a/b.qcow2')).toBe('/images/a/b.qcow2');
    expect(confineToImageDir('/images', 'a/../b.qcow2')).toBe('/images/b.qcow2');
    for (const bad of ['..', '../images2/x', 'a/../../x', '/images/a', 'C:\\x', '.']) {
      expect(() => confineToImageDir('/images', bad)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    }
  });
});

describe('resolveImage', () => {
  let dir: string;
  let images: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hp-images-'));
    images = join(dir, 'images');
    await mkdir(join(images, 'tiny'), { recursive: true });
    await writeFile(join(images, 'tiny', 'vmlinuz'), 'k');
    await writeFile(join(images, 'tiny', 'base.qcow2'), 'd');
    await writeFile(join(dir, 'secret'), 's');
    await symlink(join(dir, 'secret'), join(images, 'tiny', 'escape'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives absolute paths of files that exist in the image directory', async () => {
    const img = await resolveImage(images, { kernel: 'tiny/vmlinuz', disk: 'tiny/base.qcow2', append: 'console=ttyS0' });
    expect(img).toEqual({ kernel: join(images, 'tiny', 'vmlinuz'), disk: join(images, 'tiny', 'base.qcow2'), append: 'console=ttyS0' });
  });

  it('refuses a symlink that leads out of the image directory', async () => {
    await expect(resolveImage(images, { disk: 'tiny/escape' })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('says how to build a missing image, and that another host may have it', async () => {
    await expect(resolveImage(images, { disk: 'tiny/missing.qcow2' })).rejects.toMatchObject({
      code: 'Unavailable',
      message: expect.stringMatching(/build-tiny-linux\.sh/),
    });
    await expect(resolveImage(join(dir, 'nowhere'), { disk: 'x' })).rejects.toMatchObject({ code: 'Unavailable' });
  });
});
