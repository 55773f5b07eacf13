import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSize, lastLines, readTail, readTailLines, waitForConsoleMarker } from './qemu-console';

describe('waitForConsoleMarker', () => {
  let dir: string;
  let log: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hp-console-'));
    log = join(dir, 'console.log');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves once the marker appears, even written in two pieces', async () => {
    await writeFile(log, 'booting...\nREA');
    setTimeout(() => void appendFile(log, 'DY-MARK\n'), 100);
    const ms = await waitForConsoleMarker({ path: log, marker: 'READY-MARK', timeoutMs: 5_000, pollMs: 10 });
    expect(ms).toBeGreaterThanOrEqual(50);
  });

  it('waits for a log that does not exist yet', async () => {
    setTimeout(() => void writeFile(log, 'READY\n'), 50);
    await expect(waitForConsoleMarker({ path: log, marker: 'READY', timeoutMs: 5_000, pollMs: 10 })).resolves.toBeGreaterThanOrEqual(0);
  });

  it('ignores a marker before the offset (an earlier boot)', async () => {
    await writeFile(log, 'READY\n');
    const from = await fileSize(log);
    await expect(waitForConsoleMarker({ path: log, marker: 'READY', timeoutMs: 200, pollMs: 10, fromOffset: from })).rejects.toMatchObject({
      code: 'Transient',
      details: { consoleTail: 'READY\n' },
    });
    setTimeout(() => void appendFile(log, 'again READY\n'), 50);
    await expect(waitForConsoleMarker({ path: log, marker: 'READY', timeoutMs: 5_000, pollMs: 10, fromOffset: from })).resolves.toBeGreaterThan(0);
  });

  it('gives up at once when the VM is gone, with the console tail', async () => {
    await writeFile(log, 'Kernel panic - not syncing\n');
    const t0 = Date.now();
    await expect(
      waitForConsoleMarker({ path: log, marker: 'READY', timeoutMs: 10_000, pollMs: 10, isAlive: async () => false }),
    ).rejects.toMatchObject({ code: 'Fatal', details: { consoleTail: expect.stringContaining('Kernel panic') } });
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('stops waiting when aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(waitForConsoleMarker({ path: log, marker: 'READY', timeoutMs: 10_000, signal: ac.signal })).rejects.toMatchObject({ code: 'Transient' });
  });

  it('reads only the tail of a long log', async () => {
    await writeFile(log, `${'x'.repeat(10_000)}END`);
    expect(await readTail(log, 5)).toBe('xxEND');
    expect(await readTail(join(dir, 'none'))).toBe('');
  });

  it('reads the last lines, without a line cut by the window, escapes or carriage returns', async () => {
    await writeFile(log, `${Array.from({ length: 500 }, (_, i) => `line ${i}`).join('\r\n')}\r\n\x1b[1;32mOK\x1b[0m login:`);
    expect(await readTailLines(log, 3)).toEqual(['line 498', 'line 499', 'OK login:']);
    expect(await readTailLines(log, 0)).toEqual([]);
    expect(await readTailLines(join(dir, 'none'), 10)).toEqual([]);
    expect(lastLines('tail of a cut line\nwhole\n', 5, true)).toEqual(['whole']);
    expect(lastLines('a\nb\n', 5, false)).toEqual(['a', 'b']);
  });
});
