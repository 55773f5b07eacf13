import { randomUUID } from 'node:crypto';
import { Capability } from '@hyperplane/domain';
import { Driver, InstanceSpec } from '../src/driver';
import { DriverError } from '../src/driver.exception';

export interface ConformanceFixture {
  driver: Driver;
  /** A valid spec for a new instance on this driver. */
  spec(overrides?: Partial<InstanceSpec>): InstanceSpec;
  /** Removes whatever the suite left behind (called once, after all). */
  cleanup?(): Promise<void>;
}

export interface ConformanceOptions {
  /** Per-test timeout; real VMs under software emulation need a while. */
  timeoutMs?: number;
}

/**
 * The behaviour every driver must show. Run it from a driver's spec file:
 * `describeConformance('sim', async () => ({ driver, spec }))`.
 */
export function describeConformance(
  label: string,
  setup: () => Promise<ConformanceFixture>,
  options: ConformanceOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;
  describe(`driver conformance: ${label}`, () => {
    let fx: ConformanceFixture;
    let caps: Set<Capability>;
    const created: string[] = [];

    beforeAll(async () => {
      fx = await setup();
      const probe = await fx.driver.probe();
      caps = new Set(probe.offers.flatMap((o) => o.capabilities));
    }, timeout);

    afterAll(async () => {
      for (const id of created) await fx.driver.destroy(id).catch(() => undefined);
      await fx.cleanup?.();
    }, timeout * 2);

    function newSpec(overrides?: Partial<InstanceSpec>): InstanceSpec {
      const spec = fx.spec({ id: randomUUID(), ...overrides });
      created.push(spec.id);
      return spec;
    }

    it('probes as installed, with a version and at least one offer', async () => {
      const probe = await fx.driver.probe();
      expect(probe.name).toBe(fx.driver.name);
      expect(probe.installed).toBe(true);
      expect(typeof probe.version).toBe('string');
      expect(probe.offers.length).toBeGreaterThan(0);
      for (const offer of probe.offers) {
        expect(offer.guests.length).toBeGreaterThan(0);
        expect(offer.overhead.memoryMiB).toBeGreaterThanOrEqual(0);
      }
    }, timeout);

    it('creates an instance stopped, and creating it again is a no-op', async () => {
      const spec = newSpec();
      const first = await fx.driver.create(spec);
      expect(first.id).toBe(spec.id);
      expect(first.state).toBe('stopped');
      const again = await fx.driver.create(spec);
      expect(again.state).toBe('stopped');
      const listed = await fx.driver.list();
      expect(listed.filter((s) => s.id === spec.id)).toHaveLength(1);
    }, timeout);

    it('starts, stops and restarts, each idempotent, and inspect reads the real state', async () => {
      const spec = newSpec();
      await fx.driver.create(spec);
      expect((await fx.driver.start(spec.id)).state).toBe('running');
      expect((await fx.driver.start(spec.id)).state).toBe('running');
      expect((await fx.driver.inspect(spec.id)).state).toBe('running');
      expect((await fx.driver.restart(spec.id)).state).toBe('running');
      expect((await fx.driver.stop(spec.id, { timeoutS: 5 })).state).toBe('stopped');
      expect((await fx.driver.stop(spec.id, { timeoutS: 5 })).state).toBe('stopped');
      expect((await fx.driver.inspect(spec.id)).state).toBe('stopped');
    }, timeout * 3);

    it('suspends and resumes when it declares the capability', async () => {
      const spec = newSpec();
      await fx.driver.create(spec);
      await fx.driver.start(spec.id);
      if (!caps.has('suspend')) {
        await expect(fx.driver.suspend(spec.id)).rejects.toMatchObject({ code: 'Unsupported' });
        return;
      }
      expect((await fx.driver.suspend(spec.id)).state).toBe('suspended');
      expect((await fx.driver.suspend(spec.id)).state).toBe('suspended');
      expect((await fx.driver.inspect(spec.id)).state).toBe('suspended');
      expect((await fx.driver.resume(spec.id)).state).toBe('running');
      expect((await fx.driver.resume(spec.id)).state).toBe('running');
      await fx.driver.stop(spec.id, { force: true });
    }, timeout * 3);

    it('destroys, leaving nothing, and destroying again succeeds', async () => {
      const spec = newSpec();
      await fx.driver.create(spec);
      await fx.driver.start(spec.id);
      await fx.driver.destroy(spec.id);
      await expect(fx.driver.inspect(spec.id)).rejects.toMatchObject({ code: 'NotFound' });
      expect((await fx.driver.list()).some((s) => s.id === spec.id)).toBe(false);
      await fx.driver.destroy(spec.id);
    }, timeout * 2);

    it('answers NotFound for an instance that does not exist', async () => {
      const id = randomUUID();
      await expect(fx.driver.inspect(id)).rejects.toBeInstanceOf(DriverError);
      await expect(fx.driver.inspect(id)).rejects.toMatchObject({ code: 'NotFound' });
      await expect(fx.driver.start(id)).rejects.toMatchObject({ code: 'NotFound' });
    }, timeout);

    it('refuses an id that is not a UUID before touching the host', async () => {
      const bad = newSpec({ id: 'x; rm -rf /' });
      await expect(fx.driver.create(bad)).rejects.toMatchObject({ code: 'InvalidArgument' });
      await expect(fx.driver.inspect('../etc')).rejects.toMatchObject({ code: 'InvalidArgument' });
    }, timeout);

    it('takes, lists, restores and deletes snapshots when it declares the capability', async () => {
      if (!caps.has('snapshot')) {
        expect(fx.driver.snapshotCreate).toBeUndefined();
        return;
      }
      const spec = newSpec();
      await fx.driver.create(spec);
      const snap = await fx.driver.snapshotCreate!(spec.id, 'before');
      expect(snap.name).toBe('before');
      expect((await fx.driver.snapshotList!(spec.id)).map((s) => s.name)).toContain('before');
      expect((await fx.driver.snapshotRestore!(spec.id, 'before')).id).toBe(spec.id);
      await fx.driver.snapshotDelete!(spec.id, 'before');
      expect((await fx.driver.snapshotList!(spec.id)).map((s) => s.name)).not.toContain('before');
    }, timeout * 3);

    it('clones a stopped instance when it declares the capability', async () => {
      if (!caps.has('clone')) {
        expect(fx.driver.clone).toBeUndefined();
        return;
      }
      const source = newSpec();
      await fx.driver.create(source);
      const copy = newSpec();
      const cloned = await fx.driver.clone!(source.id, copy);
      expect(cloned.id).toBe(copy.id);
      expect(cloned.state).toBe('stopped');
      expect((await fx.driver.inspect(copy.id)).id).toBe(copy.id);
    }, timeout * 3);
  });
}
