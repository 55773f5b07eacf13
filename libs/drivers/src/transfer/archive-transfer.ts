import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createConnection, createServer, Server, Socket } from 'node:net';
import { DriverError } from '../driver.exception';

// A one-shot, authenticated file transfer between two agents over plain TCP.
//
//   sender → receiver:  "HPXFER1 <token> <bytes>\n" <bytes of the file> "<sha256 hex>\n"
//   receiver → sender:  "OK <sha256 hex>\n" | "ERR <reason>\n"
//
// The receiver makes a random 256-bit token and listens; the token reaches the sender only
// through the controller (the destination's result, then the source's command). A connection
// that presents another token is closed (after 5 such the listener gives up); the first that
// presents it is the only transfer: the listener stops accepting at once. The receiver hashes
// what it writes and accepts the file only when the sender's SHA-256 matches. The token is a
// credential: never logged, compared in constant time.
//
// A listener waiting for its sender does not keep the process alive (it is unref'd): the agent
// lives on for its own reasons, and a test or a tool that is done exits at once. Whoever opened
// it closes it: the destination's abort, or its driver's close() when the agent stops. A transfer
// in progress (its socket) does keep the process alive until it ends.

const MAGIC = 'HPXFER1';
const MAX_HEADER = 256;
const MAX_BAD_ATTEMPTS = 5;

export interface TransferResult {
  bytes: number;
  sha256: string;
}

export interface IncomingTransfer {
  host: string;
  port: number;
  token: string;
  /** Settles once: the file is complete and verified, or the transfer failed (the file is then partial or absent). */
  readonly done: Promise<TransferResult>;
  /** Stops listening and drops a transfer in progress (done rejects if it has not settled). */
  close(): void;
}

export interface ReceiveOptions {
  listenHost: string;
  advertiseHost: string;
  /** Where the file is written (created or truncated). */
  file: string;
  /** The whole transfer, from listening to the last byte (default 10 min). */
  timeoutMs?: number;
  /** Refuse a sender announcing more (default 64 GiB). */
  maxBytes?: number;
  /** A fixed port (default: any free one). */
  port?: number;
}

function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Opens the one-shot listener; resolves once it listens. */
export function receiveFile(opts: ReceiveOptions): Promise<IncomingTransfer> {
  const token = randomBytes(32).toString('hex');
  const expected = tokenDigest(token);
  const maxBytes = opts.maxBytes ?? 64 * 1024 ** 3;
  let settle!: { resolve(r: TransferResult): void; reject(e: Error): void };
  const done = new Promise<TransferResult>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  let settled = false;
  let active: Socket | undefined;
  let out: WriteStream | undefined;
  let bad = 0;
  const server: Server = createServer();
  const finish = (error?: Error, result?: TransferResult): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    server.close();
    if (error) {
      active?.destroy();
      out?.destroy();
      settle.reject(error);
    } else settle.resolve(result!);
  };
  const timer = setTimeout(() => finish(new DriverError('Transient', `no complete transfer within ${opts.timeoutMs ?? 600_000} ms`)), opts.timeoutMs ?? 600_000);
  timer.unref();

  server.on('connection', (socket) => {
    if (active || settled) {
      socket.destroy();
      return;
    }
    let header = '';
    let phase: 'header' | 'body' | 'trailer' | 'refused' = 'header';
    let remaining = 0;
    let total = 0;
    let trailer = '';
    const hash = createHash('sha256');
    const reject = (reason: string): void => {
      phase = 'refused';
      socket.end(`ERR ${reason}\n`);
    };
    const onData = (chunk: Buffer): void => {
      if (phase === 'refused') return;
      let rest: Buffer = chunk;
      if (phase === 'header') {
        const nl = rest.indexOf(0x0a);
        header += rest.subarray(0, nl < 0 ? rest.length : nl).toString('latin1');
        if (nl < 0) {
          if (header.length > MAX_HEADER) socket.destroy();
          return;
        }
        rest = rest.subarray(nl + 1);
        const [magic, presented, size] = header.split(' ');
        const given = tokenDigest(presented ?? '');
        if (magic !== MAGIC || !timingSafeEqual(given, expected)) {
          reject('bad token');
          if (++bad >= MAX_BAD_ATTEMPTS) finish(new DriverError('Fatal', `${bad} connections presented a wrong token; the transfer is closed`));
          return;
        }
        total = Number(size);
        if (!Number.isSafeInteger(total) || total < 0 || total > maxBytes) {
          reject('bad size');
          finish(new DriverError('InvalidArgument', `the sender announced ${size} bytes (at most ${maxBytes})`));
          return;
        }
        // The one transfer: nobody else may connect from now on.
        active = socket;
        server.close();
        remaining = total;
        phase = 'body';
        out = createWriteStream(opts.file, { mode: 0o600 });
        out.on('error', (e) => {
          reject('write failed');
          finish(new DriverError('Fatal', `cannot write ${opts.file}: ${e.message}`));
        });
      }
      if (phase === 'body' && rest.length > 0) {
        const take = rest.subarray(0, Math.min(remaining, rest.length));
        rest = rest.subarray(take.length);
        remaining -= take.length;
        hash.update(take);
        if (!out!.write(take)) {
          socket.pause();
          out!.once('drain', () => socket.resume());
        }
        if (remaining === 0) phase = 'trailer';
      } else if (phase === 'body' && remaining === 0) phase = 'trailer';
      if (phase === 'trailer' && rest.length > 0) {
        trailer += rest.toString('latin1');
        const nl = trailer.indexOf('\n');
        if (nl < 0) {
          if (trailer.length > 128) socket.destroy();
          return;
        }
        const claimed = trailer.slice(0, nl).trim();
        const actual = hash.digest('hex');
        socket.off('data', onData);
        out!.end(() => {
          if (claimed !== actual) {
            reject('sha256 mismatch');
            finish(new DriverError('Fatal', `the archive's SHA-256 is ${actual}, the sender said ${claimed}`));
            return;
          }
          socket.end(`OK ${actual}\n`);
          finish(undefined, { bytes: total, sha256: actual });
        });
      }
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (active === socket && !settled && phase !== 'trailer') finish(new DriverError('Transient', 'the sender disconnected before the end of the file'));
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', (e) => {
      clearTimeout(timer);
      reject(new DriverError('Transient', `cannot listen on ${opts.listenHost}: ${e.message}`));
    });
    server.listen({ host: opts.listenHost, port: opts.port ?? 0, exclusive: true }, () => {
      server.unref();
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ host: opts.advertiseHost, port, token, done, close: () => finish(new DriverError('Transient', 'the transfer was closed')) });
    });
  });
}

/**
 * Waits for an incoming transfer, or until `signal` aborts the wait (the transfer itself stays
 * open: the migration's abort closes it).
 */
export function awaitTransfer(transfer: IncomingTransfer, signal?: AbortSignal): Promise<TransferResult> {
  if (!signal) return transfer.done;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new DriverError('Transient', 'the wait for the transfer was aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    transfer.done.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Fraction sent, 0-1, as bytes go out. */
  progress?(fraction: number): void;
  /** Connecting and each wait for the receiver (default 30 s of silence). */
  idleTimeoutMs?: number;
}

/** Sends `file` to a receiver; resolves once the receiver has verified its SHA-256. */
export async function sendFile(target: { host: string; port: number; token: string }, file: string, opts: SendOptions = {}): Promise<TransferResult> {
  const size = (await stat(file)).size;
  const hash = createHash('sha256');
  return new Promise<TransferResult>((resolve, reject) => {
    let done = false;
    let sent = 0;
    let reply = '';
    const socket = createConnection({ host: target.host, port: target.port });
    const input = createReadStream(file);
    const fail = (e: Error): void => {
      if (done) return;
      done = true;
      opts.signal?.removeEventListener('abort', onAbort);
      input.destroy();
      socket.destroy();
      reject(e instanceof DriverError ? e : new DriverError('Transient', `transfer to ${target.host}:${target.port} failed: ${e.message}`));
    };
    const onAbort = (): void => fail(new DriverError('Transient', 'transfer aborted'));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.setTimeout(opts.idleTimeoutMs ?? 30_000, () => fail(new DriverError('Transient', `the receiver at ${target.host}:${target.port} went silent`)));
    socket.on('error', fail);
    input.on('error', fail);
    socket.on('connect', () => {
      socket.write(`${MAGIC} ${target.token} ${size}\n`);
      input.on('data', (chunk: string | Buffer) => {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        hash.update(buf);
        sent += buf.length;
        opts.progress?.(size ? sent / size : 1);
        if (!socket.write(buf)) {
          input.pause();
          socket.once('drain', () => input.resume());
        }
      });
      input.on('end', () => socket.write(`${hash.digest('hex')}\n`));
    });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      const nl = reply.indexOf('\n');
      if (nl < 0) return;
      const line = reply.slice(0, nl);
      if (line.startsWith('OK ')) {
        done = true;
        opts.signal?.removeEventListener('abort', onAbort);
        socket.end();
        resolve({ bytes: size, sha256: line.slice(3) });
      } else fail(new DriverError('Fatal', `the receiver refused the transfer: ${line.replace(/^ERR /, '')}`));
    });
    socket.on('close', () => fail(new DriverError('Transient', `the receiver at ${target.host}:${target.port} closed the connection`)));
  });
}
