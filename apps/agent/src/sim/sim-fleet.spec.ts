import { OsFamily } from '@hyperplane/domain';
import { simFleet } from './sim-fleet';

const count = (hosts: ReturnType<typeof simFleet>, os: OsFamily): number => hosts.filter((h) => h.os === os).length;

describe('simFleet', () => {
  it('gives every fleet of 3 or more hosts all three OSes, at every size from 1 to 50', () => {
    for (let size = 1; size <= 50; size++) {
      const hosts = simFleet(size);
      expect(hosts).toHaveLength(size);
      expect(new Set(hosts.map((h) => h.key)).size).toBe(size);
      const oses = new Set(hosts.map((h) => h.os));
      if (size >= 3) expect([size, [...oses].sort()]).toEqual([size, ['linux', 'macos', 'windows']]);
      // Linux stays the largest share once there is room for it.
      if (size >= 4) expect(count(hosts, 'linux')).toBeGreaterThanOrEqual(count(hosts, 'windows'));
    }
    expect(simFleet(1).map((h) => h.os)).toEqual(['linux']);
    expect(simFleet(2).map((h) => h.os)).toEqual(['linux', 'windows']);
    expect(simFleet(1)[0]!.key).toBe('sim-linux-1');
  });

  it('keeps a realistic mix in a fleet of 10,000', () => {
    const hosts = simFleet(10_000);
    expect(count(hosts, 'linux')).toBe(6000);
    expect(count(hosts, 'windows')).toBe(2500);
    expect(count(hosts, 'macos')).toBe(1500);
    const linux = hosts.filter((h) => h.os === 'linux');
    expect(linux.filter((h) => h.arch === 'arm64')).toHaveLength(1500);
    expect(hosts.filter((h) => h.os === 'macos').every((h) => h.arch === 'arm64')).toBe(true);
    expect(hosts.filter((h) => h.os === 'windows' && h.kernel === '10.0.17763')).toHaveLength(500);
    expect(new Set(linux.map((h) => h.osVersion)).size).toBe(3);
    expect(new Set(hosts.map((h) => h.zone)).size).toBe(3);
    expect(new Set(hosts.map((h) => h.key)).size).toBe(10_000);
  });

  it('makes small fleets that mix architectures and Windows builds too', () => {
    const hosts = simFleet(20);
    expect(hosts.filter((h) => h.os === 'linux' && h.arch === 'arm64')).toHaveLength(3);
    expect(new Set(hosts.filter((h) => h.os === 'windows').map((h) => h.kernel))).toEqual(new Set(['10.0.20348', '10.0.17763']));
  });
});
