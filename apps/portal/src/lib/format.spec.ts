import { age, ago, duration, formatGiB, formatMiB, formatVcpus, percent, stateTone, tally, technologyLabel } from './format';

describe('portal formatting', () => {
  it('writes fractional vCPUs as decimals, without a float tail', () => {
    expect([formatVcpus(0.25), formatVcpus(1), formatVcpus(2), formatVcpus(31.75), formatVcpus(0.1 + 0.2), formatVcpus(1 / 3), formatVcpus(Number.NaN)]).toEqual([
      '0.25 vCPU',
      '1 vCPU',
      '2 vCPUs',
      '31.75 vCPUs',
      '0.3 vCPU',
      '0.333 vCPU',
      '—',
    ]);
  });

  it('writes memory in the largest unit that reads well', () => {
    expect(formatMiB(512)).toBe('512 MiB');
    expect(formatMiB(1024)).toBe('1 GiB');
    expect(formatMiB(1536)).toBe('1.5 GiB');
    expect(formatMiB(131072)).toBe('128 GiB');
    expect(formatMiB(3 * 1024 * 1024)).toBe('3 TiB');
    expect(formatGiB(2000)).toBe('2 TiB');
    expect(formatGiB(10)).toBe('10 GiB');
  });

  it('gives a share from 0 to 100, never NaN', () => {
    expect(percent(1, 4)).toBe(25);
    expect(percent(5, 0)).toBe(0);
    expect(percent(9, 4)).toBe(100);
  });

  it('says how long ago and how long', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(age('2026-01-01T12:00:00Z', now)).toBe('just now');
    expect(age('2026-01-01T11:59:18Z', now)).toBe('42 s');
    expect(age('2026-01-01T11:55:00Z', now)).toBe('5 min');
    expect(age('2025-12-30T12:00:00Z', now)).toBe('2 d');
    expect(age(null, now)).toBe('—');
    expect(ago('2026-01-01T11:55:00Z', now)).toBe('5 min ago');
    expect(ago('2026-01-01T12:00:00Z', now)).toBe('just now');
    expect(duration('2026-01-01T12:00:00Z', '2026-01-01T12:00:01.500Z')).toBe('1.5 s');
    expect(duration('2026-01-01T12:00:00Z', '2026-01-01T12:02:05Z')).toBe('2 min 5 s');
    expect(duration(null, null)).toBe('—');
  });

  it('names technologies and colours states', () => {
    expect(technologyLabel('vm')).toBe('VM');
    expect(technologyLabel(null)).toBe('—');
    expect(stateTone('running')).toBe('ok');
    expect(stateTone('creating')).toBe('busy');
    expect(stateTone('unschedulable')).toBe('bad');
    expect(stateTone('stopped')).toBe('idle');
  });

  it('tallies rows by key, largest first', () => {
    expect(tally([{ k: 'a', n: 1 }, { k: 'b', n: 5 }, { k: 'a', n: 2 }], (r) => r.k, (r) => r.n)).toEqual([
      ['b', 5],
      ['a', 3],
    ]);
  });
});
