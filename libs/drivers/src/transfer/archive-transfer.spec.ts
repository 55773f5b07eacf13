import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awaitTransfer, receiveFile, sendFile } from './archive-transfer';

/** Listening servers that keep this process alive (Node lists only ref'd handles). */
function liveServers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
}

/** Sends raw bytes as a client would and returns the receiver's reply line. */
function raw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const s = createConnection({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('data', (c) => (reply += c.toString()));
    s.on('close', () => resolve(reply.trim()));
    s.on('error', reject);
  });
}

describe('one-shot authenticated file transfer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-xfer-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers a file byte for byte and both sides agree on its SHA-256', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(join(dir, 'in'), data);
    const rx = await receiveFile({ listenHost: '127.0.0.1', advertiseHost: '127.0.0.1', file: join(dir, 'out') });
    expect(rx.token).toMatch(/^[0-9a-f]{64}$/);
    const fractions: number[] = [];
    const sent = await sendFile(rx, join(dir, 'in'), { progress: (f) => fractions.push(f) });
    const got = await rx.done;
    const sha = createHash('sha256').update(data).digest('hex');
    expect(sent).toEqual({ bytes: data.length, sha256: sha });
    expect(got).toEqual(sent);
    expect(readFileSync(join(dir, 'out')).equals(data)).toBe(true);
    expect(fractions.at(-1)).toBe(1);
  });

  it('refuses a wrong token and still takes the right one; then it is closed to everyone', async () => {
    writeFileSync(join(dir, 'in'), 'payload');
    const rx = await receiveFile({ listenHost: '127.0.0.1', advertiseHost: '127.0.0.1', file: join(dir, 'out') });
    await expect(sendFile({ ...rx, token: 'f'.repeat(64) }, join(dir, 'in'))).rejects.toMatchObject({ code: 'Fatal', message: expect.stringMatching(/bad token/) });
    await sendFile(rx, join(dir, 'in'));
    await expect(rx.done).resolves.toMatchObject({ bytes: 7 });
    await expect(sendFile(rx, join(dir, 'in'))).rejects.toMatchObject({ code: 'Transient' }); // the listener is gone
  });

  it('rejects a file whose SHA-256 is not the one the sender announced', async () => {
    const rx = await receiveFile({ listenHost: '127.0.0.1', advertiseHost: '127.0.0.1', file: join(dir, 'out') });
    const reply = await raw(rx.port, Buffer.from(`HPXFER1 ${rx.token} 5\nhello${'0'.repeat(64)}\n`));
    expect(reply).toBe('ERR sha256 mismatch');
    await expect(rx.done).rejects.toMatchObject({ code: 'Fatal', message: expect.stringMatching(/SHA-256/) });
  });

  it('gives up after five wrong tokens, and close() ends a listener nobody used', async () => {
    const rx = await receiveFile({ listenHost: '127.0.0.1', advertiseHost: '127.0.0.1', file: join(dir, 'out') });
    for (let i = 0; i < 5; i++) expect(await raw(rx.port, Buffer.from(`HPXFER1 ${'0'.repeat(64)} 1\n`))).toBe('ERR bad token');
    await expect(rx.done).rejects.toMatchObject({ message: expect.stringMatching(/wrong token/) });
    const idle = await receiveFile({ listenHost: '127.0.0.1', advertiseHost: '127.0.0.1', file: join(dir, 'out2') });
    idle.close();
    await expect(idle.done).rejects.toMatchObject({ code: 'Transient' });
  });

  it('a waiting listener does not keep the process alive; close() ends it and a wait aborts without closing it', async () => {
    const before = liveServers();
    const rx = await receiveFile({ listenHost: '127.0.0.1', advertiseHost: '127.0.0.1', file: join(dir, 'out') });
    expect(liveServers()).toBe(before); // listening, yet not holding the event loop
    const abort = new AbortController();
    const wait = awaitTransfer(rx, abort.signal);
    abort.abort();
    await expect(wait).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/aborted/) });
    writeFileSync(join(dir, 'in'), 'still open');
    await sendFile(rx, join(dir, 'in')); // the aborted wait left the transfer open
    await expect(awaitTransfer(rx)).resolves.toMatchObject({ bytes: 10 });
    const idle = await receiveFile({ listenHost: '127.0.0.1', advertiseHost: '127.0.0.1', file: join(dir, 'out2') });
    idle.close();
    await expect(idle.done).rejects.toMatchObject({ code: 'Transient' });
    await expect(sendFile(idle, join(dir, 'in'))).rejects.toMatchObject({ code: 'Transient' }); // nobody listens any more
  });
});
