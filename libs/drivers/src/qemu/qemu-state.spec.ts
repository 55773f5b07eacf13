import { randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceSpec } from '../driver';
import { InstanceStore, KeyedMutex } from './qemu-state';
import { TINY_LINUX_TEMPLATE } from './qemu-templates';

describe('InstanceStore', () => {
  let root: string;
  let store: InstanceStore;

  beforeEach(async () => {
    root = join(await mkdtemp(join(tmpdir(), 'hp-store-')), 'qemu');
    store = new InstanceStore(root);
  });

  afterEach(async () => {
    await rm(join(root, '..'), { recursive: true, force: true });
  });

  function spec(id: string): InstanceSpec {
    return { id, name: 'x', template: TINY_LINUX_TEMPLATE, technology: 'vm', arch: 'x86_64', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } };
  }

  it('makes an instance appear only when its scratch directory is committed', async () => {
    const id = randomUUID();
    const scratch = await store.scratch(id);
    await store.save(id, { version: 1, spec: spec(id), createdAt: 'now', diskBytes: 1 }, scratch);
    expect(await store.ids()).toEqual([]);
    await expect(store.get(id)).rejects.toMatchObject({ code: 'NotFound' });
    await store.commit(scratch, id);
    expect(await store.ids()).toEqual([id]);
    expect((await store.get(id)).spec.id).toBe(id);
    expect((await readdir(store.paths(id).dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('lists only directories named by a UUID', async () => {
    await mkdir(join(root, 'not-an-instance'), { recursive: true });
    await store.scratch(randomUUID());
    expect(await store.ids()).toEqual([]);
  });

  it('refuses to commit over an instance that appeared meanwhile', async () => {
    const id = randomUUID();
    const first = await store.scratch(id);
    const second = await store.scratch(id);
    await store.save(id, { version: 1, spec: spec(id), createdAt: 'now', diskBytes: 1 }, first);
    await store.save(id, { version: 1, spec: spec(id), createdAt: 'now', diskBytes: 1 }, second);
    await store.commit(first, id);
    await expect(store.commit(second, id)).rejects.toMatchObject({ code: 'Conflict' });
    expect((await readdir(root)).sort()).toEqual([id]);
  });
});

describe('KeyedMutex', () => {
  it('runs operations on one key one at a time, and other keys alongside', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const step = (label: string, ms: number) => async () => {
      order.push(`${label}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${label}-`);
    };
    await Promise.all([mutex.run('a', step('a1', 40)), mutex.run('a', step('a2', 1)), mutex.run('b', step('b1', 10))]);
    expect(order.indexOf('a2+')).toBeGreaterThan(order.indexOf('a1-'));
    expect(order.indexOf('b1-')).toBeLessThan(order.indexOf('a1-'));
  });

  it('keeps going after an operation fails', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run('a', async () => 'next')).resolves.toBe('next');
  });
});
