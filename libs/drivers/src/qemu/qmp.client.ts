import { Socket, createConnection } from 'node:net';
import { DriverError } from '../driver.exception';

export interface QmpGreeting {
  version?: { qemu?: { major: number; minor: number; micro: number }; package?: string };
  capabilities?: string[];
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpOptions {
  /** Connecting, the greeting and the negotiation together (default 5 s). */
  connectTimeoutMs?: number;
  /** Default per-command timeout (default 10 s). */
  commandTimeoutMs?: number;
  /** Events kept for `events` / `waitForEvent`; older ones are dropped (default 100). */
  maxEvents?: number;
}

/** QEMU answered a command with `{"error": {"class", "desc"}}`. */
export class QmpCommandError extends DriverError {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super('Fatal', `QMP ${command} failed: ${errorClass}: ${desc}`, { command, errorClass, desc });
    this.name = 'QmpCommandError';
  }
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

type Waiter = { name: string; resolve(e: QmpEvent): void; reject(e: Error): void; timer: NodeJS.Timeout };

/**
 * A QEMU Machine Protocol client over a unix socket: JSON objects one per line, a greeting, the
 * `qmp_capabilities` negotiation, then commands matched to their responses by `id`.
 * Asynchronous events are kept (bounded) and can be awaited. One client per operation: QEMU's
 * QMP server talks to one client at a time, so a second connection waits until the first closes.
 */
export class QmpClient {
  readonly events: QmpEvent[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly waiters: Waiter[] = [];
  private buffer = '';
  private nextId = 1;
  private closed = false;
  private closeError?: Error;
  private readonly commandTimeoutMs: number;
  private readonly maxEvents: number;

  private constructor(
    private readonly socket: Socket,
    readonly greeting: QmpGreeting,
    opts: QmpOptions,
    leftover: string,
  ) {
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
    this.maxEvents = opts.maxEvents ?? 100;
    socket.on('data', (chunk: Buffer) => this.onData(chunk.toString('utf8')));
    socket.on('error', (e) => this.fail(new DriverError('Transient', `QMP connection error: ${e.message}`)));
    socket.on('close', () => this.fail(new DriverError('Transient', 'QMP connection closed')));
    if (leftover) this.onData(leftover);
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(path: string, opts: QmpOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.connectTimeoutMs ?? 5_000;
    const socket = createConnection({ path });
    let greeting: QmpGreeting;
    let leftover: string;
    try {
      [greeting, leftover] = await readGreeting(socket, path, timeoutMs);
    } catch (e) {
      socket.destroy();
      throw e;
    }
    const client = new QmpClient(socket, greeting, opts, leftover);
    try {
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs one command; resolves with its `return` value, rejects with `QmpCommandError` on `error`. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closed) return Promise.reject(this.closeError ?? new DriverError('Transient', 'QMP connection closed'));
    const id = `hp-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DriverError('Transient', `QMP ${command} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Resolves with the first event named `name` (including one already received). */
  waitForEvent(name: string, timeoutMs: number): Promise<QmpEvent> {
    const seen = this.events.find((e) => e.event === name);
    if (seen) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(this.closeError ?? new DriverError('Transient', 'QMP connection closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        name,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new DriverError('Transient', `no QMP event ${name} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.fail(new DriverError('Transient', 'QMP connection closed by the client'));
    this.socket.destroy();
  }

  private onData(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // QEMU only sends JSON; a torn or foreign line is not ours to interpret
    }
    if (typeof msg.event === 'string') {
      const event = msg as unknown as QmpEvent;
      this.events.push(event);
      if (this.events.length > this.maxEvents) this.events.shift();
      for (const w of this.waiters.filter((x) => x.name === event.event)) {
        clearTimeout(w.timer);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(event);
      }
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (!pending || id === undefined) return; // a response to a command that already timed out
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if ('error' in msg) {
      const err = (msg.error ?? {}) as { class?: string; desc?: string };
      pending.reject(new QmpCommandError(pending.command, err.class ?? 'GenericError', err.desc ?? 'unknown error'));
    } else {
      pending.resolve(msg.return);
    }
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new DriverError('Transient', `QMP ${p.command}: ${error.message}`));
    }
    this.pending.clear();
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }
}

function readGreeting(socket: Socket, path: string, timeoutMs: number): Promise<[QmpGreeting, string]> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error, value?: [QmpGreeting, string]) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () => done(new DriverError('Transient', `no QMP greeting on ${path} within ${timeoutMs} ms (another client connected?)`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const msg = JSON.parse(buf.slice(0, nl)) as { QMP?: QmpGreeting };
        if (!msg.QMP) throw new Error('not a QMP greeting');
        done(undefined, [msg.QMP, buf.slice(nl + 1)]);
      } catch (e) {
        done(new DriverError('Fatal', `unexpected QMP greeting on ${path}: ${(e as Error).message}`));
      }
    };
    const onError = (e: NodeJS.ErrnoException) =>
      done(new DriverError('Transient', `cannot connect to QMP at ${path}: ${e.message}`, { errno: e.code }));
    const onClose = () => done(new DriverError('Transient', `QMP socket ${path} closed before the greeting`));
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
