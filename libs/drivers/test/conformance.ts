import { randomUUID } from 'node:crypto';
import { CAPABILITIES, Capability, DriverOffer, DriverProbe, Resources } from '@hyperplane/domain';
import { Driver, InstanceSpec } from '../src/driver';
import { DRIVER_ERROR_CODES, DriverError, DriverErrorCode } from '../src/driver.exception';

export interface ConformanceFixture {
  driver: Driver;
  /**
   * A valid spec for a new instance on this driver. Its technology, template OS and arch pick
   * the offer under test: the suite checks that offer's capabilities, not the driver's union.
   */
  spec(overrides?: Partial<InstanceSpec>): InstanceSpec;
  /** Removes whatever the suite left behind (called once, after all). */
  cleanup?(): Promise<void>;
}

export interface ConformanceOptions {
  /** Per-test timeout; real VMs under software emulation need a while. */
  timeoutMs?: number;
  /**
   * Upper bound for `stop({ timeoutS: 2 })` of a running instance: the graceful stop must
   * escalate to a forced one instead of waiting for the driver's default (30 s or more).
   */
  escalatedStopMs?: number;
}

/** The offer of `probe` that runs `spec`: same technology, the template's OS and the spec's arch. */
export function offerFor(probe: DriverProbe, spec: InstanceSpec): DriverOffer | undefined {
  return probe.offers.find(
    (o) => o.technology === spec.technology && o.guests.some((g) => g.os === spec.template.osFamily && (g.archs.includes(spec.arch) || !!o.emulates?.includes(spec.arch))),
  );
}

/** Asserts a rejection is a classified DriverError with one of `codes`. */
export async function expectDriverError(promise: Promise<unknown>, ...codes: DriverErrorCode[]): Promise<DriverError> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof DriverError)) throw new Error(`expected a DriverError (${codes.join(' or ')}), got ${caught === undefined ? 'success' : caught instanceof Error ? caught.message : JSON.stringify(caught)}`);
  expect(DRIVER_ERROR_CODES).toContain(caught.code);
  if (!codes.includes(caught.code)) throw new Error(`expected ${codes.join(' or ')}, got ${caught.code}: ${caught.message}`);
  return caught;
}

/**
 * The behaviour every driver must show, for the offer its fixture's spec selects. A new driver
 * adopts it with one call from its spec file:
 * `describeConformance('mydriver', async () => ({ driver, spec: (o) => ({ ...mySpec(), ...o }) }))`.
 * Run it once per offer (technology × guest OS) the driver has. One instance is reused through
 * the lifecycle tests, so a slow driver (QEMU under TCG) boots it only a few times.
 */
export function describeConformance(label: string, setup: () => Promise<ConformanceFixture>, options: ConformanceOptions = {}): void {
  const timeout = options.timeoutMs ?? 30_000;
  describe(`driver conformance: ${label}`, () => {
    let fx: ConformanceFixture;
    let offer: DriverOffer;
    let caps: Set<Capability>;
    /** The instance the lifecycle tests share. */
    let main: InstanceSpec;
    const created: string[] = [];

    beforeAll(async () => {
      fx = await setup();
      const probe = await fx.driver.probe();
      const found = offerFor(probe, fx.spec());
      if (!found) throw new Error(`${label}: no offer of the probe runs the fixture's spec`);
      offer = found;
      caps = new Set(offer.capabilities);
      main = newSpec();
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

    const grown = (r: Resources): Resources => ({ ...r, memoryMiB: r.memoryMiB + 64 });

    it('probes as installed, each offer with its own valid capabilities, one offer per technology', async () => {
      const probe = await fx.driver.probe();
      expect(probe.name).toBe(fx.driver.name);
      expect(probe.installed).toBe(true);
      expect(typeof probe.version).toBe('string');
      expect(probe.offers.length).toBeGreaterThan(0);
      const technologies = probe.offers.map((o) => o.technology);
      expect(new Set(technologies).size).toBe(technologies.length);
      for (const o of probe.offers) {
        expect(o.guests.length).toBeGreaterThan(0);
        expect(o.overhead.memoryMiB).toBeGreaterThanOrEqual(0);
        for (const c of o.capabilities) expect(CAPABILITIES).toContain(c);
        expect(new Set(o.capabilities).size).toBe(o.capabilities.length);
      }
      // The fixture's template is one the offer lists, so the scheduler may choose this host for it.
      const spec = fx.spec();
      const guest = offer.guests.find((g) => g.os === spec.template.osFamily)!;
      if (guest.distributions) {
        const versions = guest.distributions[spec.template.distribution] ?? [];
        expect(versions.includes('*') || versions.includes(spec.template.version)).toBe(true);
      }
    }, timeout);

    it('sizes a container in fractions of a CPU and reads it back; refuses a fractional VM before creating anything', async () => {
      const spec = newSpec({ resources: { ...fx.spec().resources, vcpus: 0.25 } });
      if (offer.technology === 'container') {
        // A container's vCPUs are a CPU-time cap (cgroup cpu.max, docker --cpus, prlctl --cpulimit).
        const made = await fx.driver.create(spec);
        expect(made.resources?.vcpus).toBe(0.25);
        expect((await fx.driver.inspect(spec.id)).resources?.vcpus).toBe(0.25);
        await fx.driver.destroy(spec.id);
      } else {
        // A VM's vCPUs are virtual processors: whole numbers (the API refuses such a request first).
        await expectDriverError(fx.driver.create(spec), 'InvalidArgument');
        await expectDriverError(fx.driver.inspect(spec.id), 'NotFound');
      }
    }, timeout * 2);

    it('creates an instance stopped; the same create again is a no-op, another spec under its id a Conflict', async () => {
      const first = await fx.driver.create(main);
      expect(first.id).toBe(main.id);
      expect(first.state).toBe('stopped');
      const again = await fx.driver.create({ ...main });
      expect(again.id).toBe(main.id);
      expect(again.state).toBe('stopped');
      await expectDriverError(fx.driver.create({ ...main, resources: grown(main.resources) }), 'Conflict');
      const listed = await fx.driver.list();
      expect(listed.filter((s) => s.id === main.id)).toHaveLength(1);
    }, timeout * 2);

    it('starts, stops and restarts, each idempotent, and inspect reads the real state', async () => {
      expect((await fx.driver.start(main.id)).state).toBe('running');
      expect((await fx.driver.start(main.id)).state).toBe('running');
      expect((await fx.driver.inspect(main.id)).state).toBe('running');
      expect((await fx.driver.restart(main.id)).state).toBe('running');
      expect((await fx.driver.stop(main.id, { timeoutS: 30 })).state).toBe('stopped');
      expect((await fx.driver.stop(main.id, { timeoutS: 30 })).state).toBe('stopped');
      expect((await fx.driver.inspect(main.id)).state).toBe('stopped');
    }, timeout * 4);

    it('stops by force, and a stop with a short timeout escalates to a forced one', async () => {
      await fx.driver.start(main.id);
      expect((await fx.driver.stop(main.id, { force: true })).state).toBe('stopped');
      expect((await fx.driver.stop(main.id, { force: true })).state).toBe('stopped');
      await fx.driver.start(main.id);
      const began = Date.now();
      expect((await fx.driver.stop(main.id, { timeoutS: 2 })).state).toBe('stopped');
      // Generous: only a driver that ignores timeoutS (and waits its 30 s default) fails it.
      expect(Date.now() - began).toBeLessThan(options.escalatedStopMs ?? 25_000);
      expect((await fx.driver.inspect(main.id)).state).toBe('stopped');
    }, timeout * 3);

    it('suspends and resumes where the offer declares suspend, and refuses it as Unsupported where not', async () => {
      await fx.driver.start(main.id);
      if (!caps.has('suspend')) {
        await expectDriverError(fx.driver.suspend(main.id), 'Unsupported');
        await expectDriverError(fx.driver.resume(main.id), 'Unsupported');
        return;
      }
      expect((await fx.driver.suspend(main.id)).state).toBe('suspended');
      expect((await fx.driver.suspend(main.id)).state).toBe('suspended');
      expect((await fx.driver.inspect(main.id)).state).toBe('suspended');
      expect((await fx.driver.resume(main.id)).state).toBe('running');
      expect((await fx.driver.resume(main.id)).state).toBe('running');
      expect((await fx.driver.inspect(main.id)).state).toBe('running');
    }, timeout * 3);

    it('shows a console where the offer declares one', async () => {
      if (!caps.has('console')) return;
      const status = await fx.driver.inspect(main.id);
      expect(JSON.stringify(status.details ?? {})).toMatch(/console/i);
    }, timeout);

    it('resizes live where the offer declares liveResize, refuses it as Unsupported where not', async () => {
      if (!fx.driver.resize) {
        expect(caps.has('liveResize')).toBe(false);
        return;
      }
      const status = await fx.driver.inspect(main.id);
      expect(status.state).toBe('running');
      const bigger = grown(main.resources);
      if (caps.has('liveResize')) {
        const resized = await fx.driver.resize(main.id, bigger);
        expect(resized.state).toBe('running');
        if (resized.resources) expect(resized.resources.memoryMiB).toBe(bigger.memoryMiB);
        return;
      }
      await expectDriverError(fx.driver.resize(main.id, bigger), 'Unsupported');
      expect((await fx.driver.inspect(main.id)).state).toBe('running');
    }, timeout * 2);

    it('resizes a stopped instance', async () => {
      if (!fx.driver.resize) return;
      await fx.driver.stop(main.id, { force: true });
      const bigger = { ...grown(main.resources), memoryMiB: main.resources.memoryMiB + 128 };
      const resized = await fx.driver.resize(main.id, bigger);
      expect(resized.state).toBe('stopped');
      if (resized.resources) expect(resized.resources.memoryMiB).toBe(bigger.memoryMiB);
      const read = await fx.driver.inspect(main.id);
      if (read.resources) expect(read.resources.memoryMiB).toBe(bigger.memoryMiB);
    }, timeout * 2);

    it('takes, lists, restores and deletes snapshots where the offer declares snapshot, refuses them where not', async () => {
      if (!caps.has('snapshot')) {
        if (fx.driver.snapshotCreate) await expectDriverError(fx.driver.snapshotCreate(main.id, 'before'), 'Unsupported');
        if (fx.driver.snapshotList) await expectDriverError(fx.driver.snapshotList(main.id), 'Unsupported');
        return;
      }
      const snap = await fx.driver.snapshotCreate!(main.id, 'before');
      expect(snap.name).toBe('before');
      expect((await fx.driver.snapshotList!(main.id)).map((s) => s.name)).toContain('before');
      const restored = await fx.driver.snapshotRestore!(main.id, 'before');
      expect(restored.id).toBe(main.id);
      await expectDriverError(fx.driver.snapshotRestore!(main.id, 'never-taken'), 'NotFound');
      await fx.driver.snapshotDelete!(main.id, 'before');
      expect((await fx.driver.snapshotList!(main.id)).map((s) => s.name)).not.toContain('before');
    }, timeout * 3);

    it('clones a stopped instance where the offer declares clone, refuses it where not', async () => {
      await fx.driver.stop(main.id, { force: true });
      const copy = newSpec();
      if (!caps.has('clone')) {
        if (fx.driver.clone) await expectDriverError(fx.driver.clone(main.id, copy), 'Unsupported');
        return;
      }
      const cloned = await fx.driver.clone!(main.id, copy);
      expect(cloned.id).toBe(copy.id);
      expect(cloned.state).toBe('stopped');
      expect((await fx.driver.inspect(copy.id)).id).toBe(copy.id);
      await fx.driver.destroy(copy.id);
      await expectDriverError(fx.driver.clone!(randomUUID(), newSpec()), 'NotFound');
    }, timeout * 3);

    it('destroys a running instance, leaving nothing; destroying it again is NotFound', async () => {
      await fx.driver.start(main.id);
      await fx.driver.destroy(main.id);
      await expectDriverError(fx.driver.inspect(main.id), 'NotFound');
      expect((await fx.driver.list()).some((s) => s.id === main.id)).toBe(false);
      await expectDriverError(fx.driver.destroy(main.id), 'NotFound');
    }, timeout * 3);

    it('answers NotFound for an instance that does not exist', async () => {
      const id = randomUUID();
      await expectDriverError(fx.driver.inspect(id), 'NotFound');
      await expectDriverError(fx.driver.start(id), 'NotFound');
      await expectDriverError(fx.driver.stop(id, { force: true }), 'NotFound');
      await expectDriverError(fx.driver.destroy(id), 'NotFound');
    }, timeout);

    it('refuses an id that is not a UUID before touching the host', async () => {
      const bad = newSpec({ id: 'x; rm -rf /' });
      await expectDriverError(fx.driver.create(bad), 'InvalidArgument');
      await expectDriverError(fx.driver.inspect('../etc'), 'InvalidArgument');
      await expectDriverError(fx.driver.destroy('../etc'), 'InvalidArgument');
    }, timeout);

    it('classifies a technology it does not offer as fatal for the request (Unsupported)', async () => {
      const other = fx.spec().technology === 'vm' ? 'container' : 'vm';
      const probe = await fx.driver.probe();
      if (probe.offers.some((o) => o.technology === other)) return;
      await expectDriverError(fx.driver.create(newSpec({ technology: other })), 'Unsupported', 'InvalidArgument', 'Unavailable');
    }, timeout);
  });
}
