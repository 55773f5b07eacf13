import { DEBIAN_12, linuxHost, request } from '../test/fixtures';
import { DEFAULT_POLICY, usableCapacity } from './placement-policy';
import { HostSnapshot, PlacementDecision, PlacementSuccess } from './placement.types';
import { Scheduler, place } from './scheduler';

const used = (extra: Partial<HostSnapshot['allocated']>): HostSnapshot['allocated'] => ({
  vcpus: 0,
  memoryMiB: 0,
  diskGiB: 0,
  instances: 0,
  ...extra,
});
const ok = (decision: PlacementDecision): PlacementSuccess => {
  if (!decision.ok) throw new Error(decision.reason);
  return decision;
};
const small = (capacity: Partial<HostSnapshot['capacity']> = {}): HostSnapshot['capacity'] => ({
  vcpus: 2,
  memoryMiB: 4096,
  diskGiB: 100,
  instances: 0,
  ...capacity,
});

describe('usableCapacity', () => {
  it('is floor(capacity × ratio) − reserved per resource, and the lower of the host and policy density caps', () => {
    const host = linuxHost('h', { capacity: { vcpus: 3, memoryMiB: 1001, diskGiB: 500, instances: 40 } });
    const policy = { ...DEFAULT_POLICY, reserved: { vcpus: 1, memoryMiB: 100, diskGiB: 20 }, maxInstancesPerHost: 30 };
    expect(usableCapacity(host, 'container', policy)).toEqual({ vcpus: 47, memoryMiB: 1401, diskGiB: 480, instances: 30 });
    expect(usableCapacity(host, 'vm', policy)).toEqual({ vcpus: 11, memoryMiB: 901, diskGiB: 480, instances: 30 });
    const uncapped = linuxHost('u', { capacity: { vcpus: 1, memoryMiB: 1, diskGiB: 1, instances: 0 } });
    expect(usableCapacity(uncapped, 'vm', DEFAULT_POLICY).instances).toBe(250);
  });

  it('floors the exact decimal product, as PostgreSQL numeric does', () => {
    const policy = { ...DEFAULT_POLICY, ratios: { ...DEFAULT_POLICY.ratios, vm: { vcpus: 1.1, memoryMiB: 0.29, diskGiB: 1 } } };
    const usable = usableCapacity(linuxHost('h', { capacity: { vcpus: 10, memoryMiB: 100, diskGiB: 1, instances: 0 } }), 'vm', policy);
    expect([usable.vcpus, usable.memoryMiB]).toEqual([11, 29]);
  });

  it('ships the documented default policy', () => {
    expect(DEFAULT_POLICY).toEqual({
      strategy: 'binpack',
      ratios: { vm: { vcpus: 4, memoryMiB: 1, diskGiB: 1 }, container: { vcpus: 16, memoryMiB: 1.5, diskGiB: 1 } },
      reserved: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
      maxInstancesPerHost: 250,
    });
  });
});

describe('weighers', () => {
  const hosts = [
    linuxHost('empty'),
    linuxHost('cpu-full', { allocated: used({ vcpus: 200 }) }),
    linuxHost('mem-half', { allocated: used({ memoryMiB: 40000 }) }),
  ];

  it('binpack prefers the host fullest after placement by its most constrained resource', () => {
    // cpu-full: 201/256 vCPUs; mem-half: 41024/98304 MiB.
    expect(ok(place(request(DEBIAN_12), hosts)).hostId).toBe('cpu-full');
  });

  it('spread prefers the emptiest host', () => {
    expect(ok(place(request(DEBIAN_12), hosts, { ...DEFAULT_POLICY, strategy: 'spread' })).hostId).toBe('empty');
  });

  it("lets the request's strategy override the policy's", () => {
    expect(ok(place(request(DEBIAN_12, { strategy: 'spread' }), hosts)).hostId).toBe('empty');
    expect(ok(place(request(DEBIAN_12, { strategy: 'binpack' }), hosts, { ...DEFAULT_POLICY, strategy: 'spread' })).hostId).toBe(
      'cpu-full',
    );
  });

  it('ranks a host with recent create failures below every host without, and still uses it when nothing else fits', () => {
    const failing = { ...hosts[1]!, createFailures: 2 };
    const decision = ok(place(request(DEBIAN_12), [hosts[0]!, failing, hosts[2]!]));
    expect(decision.hostId).toBe('mem-half');
    expect(decision.explanation.alternatives.map((c) => c.hostId)).toEqual(['empty', 'cpu-full']);
    const healthy = ok(place(request(DEBIAN_12), [hosts[1]!])).score;
    const alone = ok(place(request(DEBIAN_12), [failing]));
    expect(alone.hostId).toBe('cpu-full');
    expect(alone.score).toBeCloseTo(healthy - 2, 10);
  });

  it('breaks ties by host id, whatever the fleet order', () => {
    const twins = ['c', 'a', 'b'].map((id) => linuxHost(id));
    const decision = ok(place(request(DEBIAN_12), twins));
    expect([decision.hostId, decision.explanation.alternatives.map((c) => c.hostId)]).toEqual(['a', ['b', 'c']]);
  });

  it('keeps the lowest ids among equal scores even when a sampled walk wraps around', () => {
    const ids = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5'];
    const twins = ids.map((id) => linuxHost(id));
    for (let seed = 0; seed < 30; seed++) {
      const decision = ok(place(request(DEBIAN_12), twins, { ...DEFAULT_POLICY, sampleSize: 5, seed }));
      const kept = [decision.hostId, ...decision.explanation.alternatives.map((c) => c.hostId)];
      // Five of the six were scanned: the kept four are the lowest ids of those five.
      expect(ids.some((skipped) => ids.filter((id) => id !== skipped).slice(0, 4).join() === kept.join())).toBe(true);
    }
  });

  it('soft anti-affinity prefers hosts without members, soft affinity hosts with them', () => {
    const fleet = [linuxHost('a', { groups: { g: 2 } }), linuxHost('b')];
    const group = { id: 'g', name: 'web', strict: false } as const;
    expect(ok(place(request(DEBIAN_12, { group: { ...group, policy: 'anti-affinity' } }), fleet)).hostId).toBe('b');
    expect(ok(place(request(DEBIAN_12, { group: { ...group, policy: 'affinity' } }), fleet)).hostId).toBe('a');
  });

  it('prefers hosts with the preferred labels', () => {
    const fleet = [linuxHost('a'), linuxHost('b', { labels: { ssd: 'true' } })];
    expect(ok(place(request(DEBIAN_12, { preferredLabels: { ssd: 'true' } }), fleet)).hostId).toBe('b');
  });

  it('prefers hosts that already have the template', () => {
    const fleet = [linuxHost('a'), linuxHost('b', { templates: ['debian-12'] })];
    expect(ok(place(request(DEBIAN_12), fleet)).hostId).toBe('b');
  });

  it('keeps every score between 0 and 1', () => {
    const fleet = [
      linuxHost('a', { templates: ['debian-12'], labels: { ssd: 'true' }, allocated: used({ vcpus: 255 }) }),
      linuxHost('b', { groups: { g: 5 } }),
    ];
    const req = request(DEBIAN_12, {
      preferredLabels: { ssd: 'true' },
      group: { id: 'g', name: 'web', policy: 'anti-affinity', strict: false },
    });
    const decision = ok(place(req, fleet));
    for (const c of [decision.explanation.chosen!, ...decision.explanation.alternatives]) {
      expect(c.score).toBeGreaterThanOrEqual(0);
      expect(c.score).toBeLessThanOrEqual(1);
    }
    expect(decision.score).toBeCloseTo(1, 2);
  });
});

describe('Scheduler', () => {
  it('refuses two hosts with one id', () => {
    expect(() => new Scheduler([linuxHost('a'), linuxHost('a')], DEFAULT_POLICY)).toThrow('duplicate host id a');
  });

  it('records a committed claim, so the next decision of a batch sees it', () => {
    // Two container slots on a host with usable 2 × 16 = 32 vCPUs: 16 vCPU requests.
    const scheduler = new Scheduler([linuxHost('a', { capacity: small() }), linuxHost('b', { capacity: small() })], DEFAULT_POLICY);
    const req = request(DEBIAN_12, { resources: { vcpus: 16, memoryMiB: 512, diskGiB: 1 }, group: { id: 'g', name: 'g', policy: 'affinity', strict: false } });
    const placed: string[] = [];
    for (let i = 0; i < 5; i++) {
      const decision = scheduler.place(req);
      if (!decision.ok) break;
      scheduler.commit(decision);
      placed.push(decision.hostId);
    }
    expect(placed).toEqual(['a', 'a', 'b', 'b']);
    expect(scheduler.host('a')?.allocated).toEqual({ vcpus: 32, memoryMiB: 1024, diskGiB: 2, instances: 2 });
    expect(scheduler.host('a')?.groups).toEqual({ g: 2 });
    expect(scheduler.place(req).explanation.rejections).toEqual([expect.objectContaining({ code: 'vcpus', count: 2 })]);
  });

  it('does not change anything when it only places', () => {
    const scheduler = new Scheduler([linuxHost('a')], DEFAULT_POLICY);
    scheduler.place(request(DEBIAN_12));
    expect(scheduler.host('a')?.allocated).toEqual(used({}));
  });

  it('refuses to commit to a host it does not know', () => {
    const decision = ok(place(request(DEBIAN_12), [linuxHost('gone')]));
    expect(() => new Scheduler([linuxHost('a')], DEFAULT_POLICY).commit(decision)).toThrow('unknown host gone');
  });

  it('stops placing on a host once an update says it is draining, and resumes when ready', () => {
    const scheduler = new Scheduler([linuxHost('a', { allocated: used({ vcpus: 50 }) }), linuxHost('b')], DEFAULT_POLICY);
    expect(ok(scheduler.place(request(DEBIAN_12))).hostId).toBe('a');
    scheduler.updateHost(linuxHost('a', { status: 'draining', allocated: used({ vcpus: 50 }) }));
    expect(ok(scheduler.place(request(DEBIAN_12))).hostId).toBe('b');
    scheduler.updateHost(linuxHost('a', { allocated: used({ vcpus: 50 }) }));
    expect(ok(scheduler.place(request(DEBIAN_12))).hostId).toBe('a');
  });

  it('places on a host added after the class was cached, and never on a removed one', () => {
    const scheduler = new Scheduler([linuxHost('a')], DEFAULT_POLICY);
    expect(ok(scheduler.place(request(DEBIAN_12))).hostId).toBe('a');
    scheduler.updateHost(linuxHost('b', { allocated: used({ memoryMiB: 50000 }) }));
    expect(ok(scheduler.place(request(DEBIAN_12))).hostId).toBe('b');
    expect(scheduler.removeHost('b')).toBe(true);
    expect(scheduler.removeHost('b')).toBe(false);
    const decision = ok(scheduler.place(request(DEBIAN_12)));
    expect([decision.hostId, decision.explanation.hostsConsidered]).toEqual(['a', 1]);
  });

  it('takes allocations from an update as the truth', () => {
    const scheduler = new Scheduler([linuxHost('a', { capacity: small() })], DEFAULT_POLICY);
    const req = request(DEBIAN_12, { resources: { vcpus: 32, memoryMiB: 1, diskGiB: 1 } });
    scheduler.commit(ok(scheduler.place(req)));
    expect(scheduler.place(req).ok).toBe(false);
    scheduler.updateHost(linuxHost('a', { capacity: small() }));
    expect(scheduler.place(req).ok).toBe(true);
  });

  it('samples deterministically: the same seed and state give the same decision', () => {
    const hosts = Array.from({ length: 200 }, (_, i) => linuxHost(`h${i}`, { allocated: used({ memoryMiB: (i * 37) % 500 }) }));
    const policy = { ...DEFAULT_POLICY, sampleSize: 8, seed: 42 };
    const first = new Scheduler(hosts, policy).place(request(DEBIAN_12));
    const again = new Scheduler([...hosts].reverse(), policy).place(request(DEBIAN_12));
    expect(again).toEqual(first);
    expect(first.explanation.sampled).toEqual({ size: 8, skipped: expect.any(Number) });
  });

  it('packs hosts when sampling with binpack, and spreads them with spread', () => {
    const hosts = Array.from({ length: 100 }, (_, i) => linuxHost(`h${String(i).padStart(3, '0')}`));
    const hostsUsed = (strategy: 'binpack' | 'spread'): number => {
      const scheduler = new Scheduler(hosts, { ...DEFAULT_POLICY, strategy, sampleSize: 4, seed: 1 });
      const chosen = new Set<string>();
      for (let i = 0; i < 60; i++) {
        const decision = ok(scheduler.place(request(DEBIAN_12)));
        scheduler.commit(decision);
        chosen.add(decision.hostId);
      }
      return chosen.size;
    };
    expect(hostsUsed('binpack')).toBe(1);
    expect(hostsUsed('spread')).toBeGreaterThan(30);
  });
});
