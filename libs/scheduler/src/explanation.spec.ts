import { DEBIAN_12, linuxHost, qemu, request, windowsHost } from '../test/fixtures';
import { DEFAULT_POLICY } from './placement-policy';
import { HostSnapshot, PlacementDecision } from './placement.types';
import { Scheduler, place } from './scheduler';

const used = (memoryMiB: number): HostSnapshot['allocated'] => ({ vcpus: 0, memoryMiB, diskGiB: 0, instances: 0 });
const total = (d: PlacementDecision): number =>
  d.explanation.rejections.reduce((sum, r) => sum + r.count, 0) + (d.explanation.fitting ?? 0) + (d.explanation.sampled?.skipped ?? 0);

describe('placement explanations', () => {
  const fleet = [
    windowsHost('w1'),
    windowsHost('w2'),
    windowsHost('w3'),
    linuxHost('l1', { allocated: used(85000) }),
    linuxHost('l2', { allocated: used(90000) }),
    linuxHost('l3', { status: 'draining' }),
  ];

  it('counts each host once, under the first filter that rejects it, most rejected first', () => {
    const decision = place(request(DEBIAN_12, { resources: { vcpus: 1, memoryMiB: 16384, diskGiB: 1 } }), fleet);
    expect(decision.ok).toBe(false);
    expect(decision.explanation.summary).toBe(
      '0 of 6 hosts fit: 3 do not run Linux (a debian-12 container shares the host kernel); ' +
        '2 lack 16384 MiB of free memory; 1 is not ready (draining)',
    );
    expect(decision.ok || decision.reason).toBe(decision.explanation.summary);
    expect(decision.explanation.rejections.map((r) => [r.code, r.count])).toEqual([
      ['os', 3],
      ['memory', 2],
      ['status', 1],
    ]);
    expect(total(decision)).toBe(decision.explanation.hostsConsidered);
  });

  it('breaks down hosts that are not ready by status', () => {
    const hosts = [
      linuxHost('a', { status: 'down' }),
      linuxHost('b', { status: 'down' }),
      linuxHost('c', { status: 'maintenance' }),
      linuxHost('d', { status: 'enrolling' }),
      linuxHost('e', { status: 'down' }),
    ];
    expect(place(request(DEBIAN_12), hosts).explanation.rejections).toEqual([
      { code: 'status', count: 5, message: 'are not ready (3 down, 1 enrolling, 1 maintenance)' },
    ]);
  });

  it('says when a driver overhead is part of what the hosts lack', () => {
    const hosts = [linuxHost('a', { drivers: [qemu()], allocated: used(65536 - 4096) })];
    const decision = place(request(DEBIAN_12, { technology: 'vm', resources: { vcpus: 1, memoryMiB: 4096, diskGiB: 1 } }), hosts);
    expect(decision.explanation.summary).toBe('0 of 1 hosts fit: 1 lacks 4096 MiB of free memory plus driver overhead');
  });

  it('names the chosen host with its score and the next best three', () => {
    const hosts = ['a', 'b', 'c', 'd', 'e'].map((id, i) => linuxHost(id, { allocated: used(i * 1000) }));
    const decision = place(request(DEBIAN_12), hosts);
    if (!decision.ok) throw new Error(decision.reason);
    const { chosen, alternatives, summary } = decision.explanation;
    expect(chosen).toEqual(expect.objectContaining({ hostId: 'e', driver: 'lxc', technology: 'container', score: decision.score }));
    expect(alternatives.map((c) => c.hostId)).toEqual(['d', 'c', 'b']);
    expect(alternatives.every((c) => c.score <= decision.score)).toBe(true);
    expect(summary).toMatch(/^A container on e \(score 0\.\d{3}, lxc\): the best of 5 fitting hosts out of 5; next best: d \(0\.\d{3}\), c \(/);
    expect(decision.explanation.hostsConsidered).toBe(5);
    expect(total(decision)).toBe(5);
  });

  it('says when no other host fits', () => {
    const decision = place(request(DEBIAN_12), [linuxHost('only'), windowsHost('w')]);
    expect(decision.explanation.summary).toMatch(/^A container on only .*: the best of 1 fitting host out of 2; no other host fits$/);
    expect(decision.explanation.rejections).toEqual([expect.objectContaining({ code: 'os', count: 1 })]);
  });

  it('explains an empty fleet', () => {
    const decision = place(request(DEBIAN_12), []);
    expect([decision.ok, decision.explanation.summary, decision.explanation.hostsConsidered]).toEqual([
      false,
      '0 of 0 hosts fit: there are no hosts',
      0,
    ]);
  });

  it('names the pinned host when a pin rules the others out', () => {
    const decision = place(request(DEBIAN_12, { hostId: 'missing' }), fleet);
    expect(decision.explanation.summary).toBe('0 of 6 hosts fit: 6 are not the pinned host missing');
  });

  it('accounts for hosts a sampled decision did not scan', () => {
    const hosts = Array.from({ length: 50 }, (_, i) => linuxHost(`h${String(i).padStart(2, '0')}`));
    const decision = new Scheduler(hosts, { ...DEFAULT_POLICY, sampleSize: 5, seed: 7 }).place(request(DEBIAN_12));
    expect(decision.explanation.sampled).toEqual({ size: 5, skipped: 45 });
    expect(decision.explanation.fitting).toBe(5);
    expect(decision.explanation.summary).toContain('the best of 5 fitting hosts in a sample (45 candidates not scanned) out of 50');
    expect(total(decision)).toBe(50);
  });
});
