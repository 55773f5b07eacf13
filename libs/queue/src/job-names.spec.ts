import { hostJobId, resultJobId } from './job-names';
import { hostCommandDelayMs } from './job-options';

describe('job ids of commands sent again within one operation', () => {
  it('keeps the first sending as it was, gives each later one its own ids, and the same attempt the same ids', () => {
    expect(hostJobId('op1', 'migrate-cleanup')).toBe('cmd-op1-migrate-cleanup');
    expect(hostJobId('op1', 'migrate-cleanup', 1)).toBe('cmd-op1-migrate-cleanup');
    expect(resultJobId('op1', 'migrate-cleanup', 'h1', 1)).toBe('res-op1-migrate-cleanup-h1');
    const ids = [1, 2, 3].map((a) => [hostJobId('op1', 'migrate-cleanup', a), resultJobId('op1', 'migrate-cleanup', 'h1', a)]);
    expect(new Set(ids.flat()).size).toBe(6);
    expect(hostJobId('op1', 'migrate-cleanup', 2)).toBe(hostJobId('op1', 'migrate-cleanup', 2)); // a redelivery dedupes
    expect(resultJobId('op1', 'migrate-cleanup', 'h1', 2)).toBe(resultJobId('op1', 'migrate-cleanup', 'h1', 2));
    expect(() => hostJobId('op1', 'migrate-cleanup', 0)).toThrow(/attempt/);
    expect(() => resultJobId('op1', 'migrate-cleanup', 'h1', 1.5)).toThrow(/attempt/);
  });

  it('waits longer before each later sending, within a minute', () => {
    expect([undefined, 1, 2, 3, 4].map(hostCommandDelayMs)).toEqual([0, 0, 2000, 4000, 8000]);
    expect(hostCommandDelayMs(30)).toBe(60_000);
  });
});
