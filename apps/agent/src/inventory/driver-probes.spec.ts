import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriverProbe } from '@hyperplane/domain';
import { Driver, DriverError, DriverFactory } from '@hyperplane/drivers';
import { probeDrivers } from './driver-probes';

const fakeDriver = (probe: () => Promise<DriverProbe>): Driver => ({ name: 'qemu', probe }) as unknown as Driver;

describe('probeDrivers', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-probes-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const base = { dataDir, hostOs: 'windows' as const, hostArch: 'x86_64' as const };

  it('keeps each unusable driver’s reason and never lets one driver stop the agent', async () => {
    const factories: Record<string, DriverFactory> = {
      lxc: () => {
        throw new Error('lxc runs on Linux only');
      },
      qemu: () => fakeDriver(() => Promise.reject(new DriverError('Unsupported', 'qemu-system-x86_64 is not installed'))),
      prlctl: () => fakeDriver(() => Promise.resolve({ name: 'prlctl', installed: false, offers: [] })),
      hyperv: () => fakeDriver(() => Promise.resolve({ name: 'hyperv', installed: false, error: 'x'.repeat(5000), offers: [] })),
      wincontainer: () => fakeDriver(() => Promise.resolve({ name: 'wincontainer', installed: true, version: '24.0.7', offers: [] })),
    };
    const { drivers, probes } = await probeDrivers(factories, base);
    expect([...drivers.keys()]).toEqual(['wincontainer']);
    expect(probes.map((p) => [p.name, p.installed, p.error?.slice(0, 60)])).toEqual([
      ['lxc', false, 'lxc runs on Linux only'],
      ['qemu', false, 'qemu-system-x86_64 is not installed'],
      ['prlctl', false, 'prlctl is not usable here (its probe gave no reason)'],
      ['hyperv', false, 'x'.repeat(60)],
      ['wincontainer', true, undefined],
    ]);
    // The API refuses an inventory with an error past 2000 characters.
    expect(probes[3]!.error!.length).toBe(2000);
  });

  it('reports a probe that hangs instead of waiting for it', async () => {
    const { probes } = await probeDrivers({ qemu: () => fakeDriver(() => new Promise(() => undefined)) }, base, 50);
    expect(probes).toEqual([{ name: 'qemu', installed: false, error: 'the qemu probe did not answer within 0.05 s', offers: [] }]);
  });
});
