import { CgroupLayout, interpretLimits, planLimits, sharesToWeight, weightToShares } from './lxc-cgroup';
import { assertSizing } from './lxc-config';

// Fractional vCPUs and CPU units, as a container's cgroup gets them and reads them back.
describe('lxc cgroup CPU mapping', () => {
  const v1: CgroupLayout = { version: 'v1', hybrid: false, controllers: ['cpu', 'memory', 'pids'], memsw: false };
  const v2: CgroupLayout = { version: 'v2', hybrid: false, controllers: ['cpu', 'memory', 'pids'], memsw: false };
  const host = { cpus: 2, memoryMiB: 4096 };
  const setting = (layout: CgroupLayout, vcpus: number, cpuUnits?: number) =>
    Object.fromEntries(planLimits(layout, { vcpus, memoryMiB: 128, diskGiB: 1 }, cpuUnits === undefined ? {} : { cpuUnits }).settings.map((s) => [s.key, s.value]));

  it.each([
    [0.25, '25000 100000'],
    [0.5, '50000 100000'],
    [0.01, '1000 100000'],
    [0.333, '33300 100000'],
    [1, '100000 100000'],
    [1.5, '150000 100000'],
  ])('caps %s vCPU as cpu.max "%s" (v2) and the same quota on v1', (vcpus, max) => {
    expect(setting(v2, vcpus)['cpu.max']).toBe(max);
    expect(setting(v1, vcpus)['cpu.cfs_quota_us']).toBe(max.split(' ')[0]);
    expect(setting(v1, vcpus)['cpu.cfs_period_us']).toBe('100000');
  });

  it('writes CPU units as cpu.shares (v1) and cpu.weight (v2), 1024 being the default weight 100', () => {
    expect(setting(v1, 0.5, 512)['cpu.shares']).toBe('512');
    expect(setting(v2, 0.5, 512)['cpu.weight']).toBe(String(sharesToWeight(512)));
    expect(sharesToWeight(512)).toBe(59);
    expect([sharesToWeight(2), sharesToWeight(1024), sharesToWeight(262_144)]).toEqual([1, 100, 10_000]);
    // More units, more weight: the order is kept across the range.
    const units = [2, 3, 10, 100, 512, 1000, 1024, 2048, 10_000, 100_000, 262_144];
    const weights = units.map(sharesToWeight);
    expect([...weights].sort((a, b) => a - b)).toEqual(weights);
  });

  it('reads a fractional cap and CPU units back as they were asked', () => {
    const back = interpretLimits(v2, new Map([['cpu.max', '50000 100000'], ['cpu.weight', String(sharesToWeight(512))], ['memory.max', String(128 * 1024 * 1024)]]), host);
    expect(back.resources).toEqual({ vcpus: 0.5, memoryMiB: 128 });
    expect(Math.abs(back.limits.cpuUnits! - 512) / 512).toBeLessThan(0.05);
    expect(weightToShares(sharesToWeight(512))).toBe(back.limits.cpuUnits);
    const quarter = interpretLimits(v1, new Map([['cpu.cfs_quota_us', '25000'], ['cpu.cfs_period_us', '100000'], ['cpu.shares', '512']]), host);
    expect(quarter.resources.vcpus).toBe(0.25);
    expect(quarter.limits.cpuUnits).toBe(512);
    // No cap: all the host's CPUs.
    expect(interpretLimits(v2, new Map([['cpu.max', 'max 100000']]), host).resources.vcpus).toBe(2);
  });

  it('accepts container sizes in milli-vCPU steps and refuses finer ones', () => {
    expect(() => assertSizing({ vcpus: 0.25, memoryMiB: 128, diskGiB: 1 }, { cpuUnits: 512 })).not.toThrow();
    expect(() => assertSizing({ vcpus: 0.001, memoryMiB: 128, diskGiB: 1 })).not.toThrow();
    expect(() => assertSizing({ vcpus: 0.0005, memoryMiB: 128, diskGiB: 1 })).toThrow(/resources\.vcpus/);
    expect(() => assertSizing({ vcpus: 0.25, memoryMiB: 128, diskGiB: 1 }, { cpuUnits: 1 })).toThrow(/limits\.cpuUnits/);
  });
});
