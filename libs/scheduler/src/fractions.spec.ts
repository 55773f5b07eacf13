import { toMilliVcpus } from '@hyperplane/domain';
import fc from 'fast-check';
import { DEBIAN_12, linuxHost, request } from '../test/fixtures';
import { PlacementPolicy } from './placement.types';
import { DEFAULT_POLICY, usableCapacity } from './placement-policy';
import { Scheduler, place } from './scheduler';

const small = { vcpus: 0.25, memoryMiB: 128, diskGiB: 1 };
const twoCores = (allocated = { vcpus: 0, memoryMiB: 0, diskGiB: 0, instances: 0 }) =>
  linuxHost('two-core', { capacity: { vcpus: 2, memoryMiB: 24 * 1024, diskGiB: 500, instances: 0 }, allocated });

describe('fractional vCPUs', () => {
  it('fits 128 containers of 0.25 vCPU on a 2-core host by default (16:1), and refuses the 129th for vCPUs', () => {
    const scheduler = new Scheduler([twoCores()], DEFAULT_POLICY);
    const req = request(DEBIAN_12, { resources: small });
    let placed = 0;
    for (;;) {
      const decision = scheduler.place(req);
      if (!decision.ok) {
        expect(decision.explanation.rejections).toEqual([expect.objectContaining({ code: 'vcpus', count: 1 })]);
        break;
      }
      expect(decision.claim.vcpus).toBe(0.25);
      scheduler.commit(decision);
      placed++;
    }
    expect(placed).toBe(128);
    expect(scheduler.host('two-core')!.allocated).toEqual({ vcpus: 32, memoryMiB: 128 * 128, diskGiB: 128, instances: 128 });
    // A VM on the same host is held to 4:1 of the same allocation: 8 vCPUs, all taken.
    expect(scheduler.place(request(DEBIAN_12, { technology: 'vm', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } })).ok).toBe(false);
  });

  it('adds 0.1 and 0.2 to exactly 0.3 (no binary drift refuses what fits)', () => {
    const policy: PlacementPolicy = { ...DEFAULT_POLICY, ratios: { ...DEFAULT_POLICY.ratios, container: { vcpus: 0.3, memoryMiB: 1, diskGiB: 1 } } };
    const host = linuxHost('h', { capacity: { vcpus: 1, memoryMiB: 4096, diskGiB: 100, instances: 0 } });
    expect(usableCapacity(host, 'container', policy).vcpus).toBe(0.3);
    const scheduler = new Scheduler([host], policy);
    for (const vcpus of [0.1, 0.2]) {
      const decision = scheduler.place(request(DEBIAN_12, { resources: { vcpus, memoryMiB: 16, diskGiB: 1 } }));
      if (!decision.ok) throw new Error(`${vcpus} vCPU should fit: ${decision.explanation.summary}`);
      scheduler.commit(decision);
    }
    expect(scheduler.host('h')!.allocated.vcpus).toBe(0.3);
    expect(scheduler.place(request(DEBIAN_12, { resources: { vcpus: 0.001, memoryMiB: 16, diskGiB: 1 } })).ok).toBe(false);
  });

  it('makes a container, never a VM, of a fractional `auto` request', () => {
    const decision = place(request(DEBIAN_12, { technology: 'auto', resources: small }), [twoCores()], DEFAULT_POLICY);
    expect(decision.ok && decision.technology).toBe('container');
    // Full for containers: a whole-vCPU `auto` request may still become a VM, a fractional one not.
    const full = twoCores({ vcpus: 32, memoryMiB: 0, diskGiB: 0, instances: 1 });
    expect(place(request(DEBIAN_12, { technology: 'auto', resources: small }), [full], DEFAULT_POLICY).ok).toBe(false);
  });

  it('claims exactly the sum of what it placed and never more than the ratio allows, whatever the fractions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(1, 1.5, 4, 8, 16),
        fc.array(fc.integer({ min: 10, max: 3000 }), { minLength: 1, maxLength: 150 }),
        (cores, ratio, sizes) => {
          const policy: PlacementPolicy = { ...DEFAULT_POLICY, maxInstancesPerHost: 1000, ratios: { ...DEFAULT_POLICY.ratios, container: { vcpus: ratio, memoryMiB: 1, diskGiB: 1 } } };
          const scheduler = new Scheduler([linuxHost('h', { capacity: { vcpus: cores, memoryMiB: 1 << 20, diskGiB: 1 << 20, instances: 0 } })], policy);
          // The exact rule in integers: a claim fits while the milli-vCPUs stay within floor(cores × 1000 × ratio).
          const limit = Math.floor(cores * 1000 * ratio);
          let held = 0;
          for (const milli of sizes) {
            const decision = scheduler.place(request(DEBIAN_12, { resources: { vcpus: milli / 1000, memoryMiB: 16, diskGiB: 1 } }));
            expect(decision.ok).toBe(held + milli <= limit);
            if (!decision.ok) continue;
            expect(toMilliVcpus(decision.claim.vcpus)).toBe(milli);
            scheduler.commit(decision);
            held += milli;
            const allocated = scheduler.host('h')!.allocated.vcpus;
            expect(allocated).toBe(held / 1000);
            expect(toMilliVcpus(allocated)).toBeLessThanOrEqual(toMilliVcpus(usableCapacity(scheduler.host('h')!, 'container', policy).vcpus));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
