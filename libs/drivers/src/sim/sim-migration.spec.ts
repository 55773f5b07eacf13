import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceSpec } from '../driver';
import { SimDriver, SimFaults } from './sim.driver';

// Two simulated hosts; the instance's record really travels over the authenticated transfer.

function host(dir: string, key: string, faults?: SimFaults): SimDriver {
  return new SimDriver({ stateDir: join(dir, key), hostOs: 'linux', hostArch: 'x86_64', hostKey: key, capacity: { vcpus: 64, memoryMiB: 65536, diskGiB: 1000 }, timeScale: 0, faults });
}

function spec(technology: 'vm' | 'container'): InstanceSpec {
  const id = randomUUID();
  return {
    id,
    name: `s-${id.slice(0, 8)}`,
    template: { name: 'debian-12', osFamily: 'linux', distribution: 'debian', version: '12', archs: ['x86_64'], technologies: ['vm', 'container'] },
    technology,
    arch: 'x86_64',
    resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 10 },
  };
}

describe('SimDriver migration', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-simmig-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['vm', 'live'],
    ['container', 'offline'],
  ] as const)('moves a running %s (%s) once: running on B, gone from A, each step applied once', async (technology, mode) => {
    const [a, b] = [host(dir, 'a'), host(dir, 'b')];
    const s = spec(technology);
    await a.create(s);
    await a.start(s.id);
    const target = await b.migrateReceive(s, { mode });
    expect(b.committed().memoryMiB).toBeGreaterThanOrEqual(2048); // the place is claimed on B before the move
    expect(await b.list()).toEqual([]); // …but it is not B's instance yet
    const stats = await a.migrateSend(s.id, target);
    expect(stats).toMatchObject({ mode, transferredBytes: expect.any(Number) });
    expect(await a.migrateSend(s.id, target)).toEqual(stats); // a repeated command is the same send
    await expect(a.start(s.id)).rejects.toMatchObject({ code: 'Conflict' });
    expect(await b.migrateFinish(s.id)).toMatchObject({ state: 'running' });
    await a.migrateCleanup(s.id);
    expect(await a.list()).toEqual([]);
    expect((await b.list()).map((i) => [i.id, i.state])).toEqual([[s.id, 'running']]);
    expect(a.effects).toMatchObject({ 'migrate-send': 1, 'migrate-cleanup': 1 });
    expect(b.effects).toMatchObject({ 'migrate-prepare': 1, 'migrate-finish': 1 });
    expect(a.committed().memoryMiB).toBe(0);
  });

  it('a finish waiting for the transfer ends on its signal; close() (the agent stops) closes the listener', async () => {
    const [a, b] = [host(dir, 'a'), host(dir, 'b')];
    const s = spec('vm');
    await a.create(s);
    await a.start(s.id);
    const target = await b.migrateReceive(s, { mode: 'live' });
    const abort = new AbortController();
    const finish = b.migrateFinish(s.id, { signal: abort.signal });
    abort.abort();
    await expect(finish).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/aborted/) });
    await b.close();
    await expect(a.migrateSend(s.id, target)).rejects.toMatchObject({ code: 'Transient' }); // nobody listens there any more
    expect((await a.list()).map((i) => i.state)).toEqual(['running']);
    await expect(b.migrateFinish(s.id)).rejects.toMatchObject({ code: 'Fatal', message: expect.stringMatching(/abort the migration/) });
    await b.migrateAbort(s.id, 'destination');
    expect(await a.migrateAbort(s.id, 'source')).toMatchObject({ state: 'running' });
  });

  it('refuses a live move of a container (no liveMigrate) and bad targets', async () => {
    const b = host(dir, 'b');
    await expect(b.migrateReceive(spec('container'), { mode: 'live' })).rejects.toMatchObject({ code: 'Unsupported' });
    const a = host(dir, 'a');
    const s = spec('vm');
    await a.create(s);
    await expect(a.migrateSend(s.id, { mode: 'live', host: 'x;y', port: 1, token: 'a'.repeat(64) })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(a.migrateSend(s.id, { mode: 'live', host: '127.0.0.1', port: 1 })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/token/) });
  });

  it.each(['migrate-prepare', 'migrate-send', 'migrate-finish'] as const)('a failure injected at %s, then the aborts, leaves one running copy on A', async (step) => {
    const faults: SimFaults = { [step]: { fatal: 1 } };
    const a = host(dir, 'a', step === 'migrate-send' ? faults : undefined);
    const b = host(dir, 'b', step !== 'migrate-send' ? faults : undefined);
    const s = spec('vm');
    await a.create(s);
    await a.start(s.id);
    try {
      const target = await b.migrateReceive(s, { mode: 'live' });
      await a.migrateSend(s.id, target);
      await b.migrateFinish(s.id);
      throw new Error('the injected failure did not happen');
    } catch (e) {
      expect(e).toMatchObject({ code: 'Fatal', message: expect.stringMatching(new RegExp(step)) });
    }
    await b.migrateAbort(s.id, 'destination');
    expect(await a.migrateAbort(s.id, 'source')).toMatchObject({ state: 'running' });
    expect((await a.list()).map((i) => i.state)).toEqual(['running']);
    expect(await b.list()).toEqual([]);
    expect(b.committed().memoryMiB).toBe(0); // B's claim is gone
  });
});
