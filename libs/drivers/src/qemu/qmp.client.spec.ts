import { mkdtemp, rm } from 'node:fs/promises';
import { Server, Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, QmpCommandError } from './qmp.client';

interface Command {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: string;
}

/** A fake QEMU monitor: sends the greeting, then hands each command to `onCommand`. */
class FakeQmpServer {
  readonly received: Command[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly onCommand: (cmd: Command, reply: (msg: unknown) => void, socket: Socket) => void,
    private readonly greet = true,
  ) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      if (this.greet) socket.write(`${JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: ['oob'] } })}\r\n`);
      let buf = '';
      socket.on('data', (chunk) => {
        buf += chunk.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const cmd = JSON.parse(buf.slice(0, nl)) as Command;
          buf = buf.slice(nl + 1);
          this.received.push(cmd);
          this.onCommand(cmd, (msg) => socket.write(`${JSON.stringify(msg)}\r\n`), socket);
        }
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.path, resolve));
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Answers qmp_capabilities, then whatever `rest` says. */
function standard(rest: (cmd: Command, reply: (msg: unknown) => void, socket: Socket) => void) {
  return (cmd: Command, reply: (msg: unknown) => void, socket: Socket) => {
    if (cmd.execute === 'qmp_capabilities') reply({ return: {}, id: cmd.id });
    else rest(cmd, reply, socket);
  };
}

describe('QmpClient', () => {
  let dir: string;
  let server: FakeQmpServer | undefined;
  let client: QmpClient | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hp-qmp-'));
  });

  afterEach(async () => {
    client?.close();
    client = undefined;
    await server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function serve(onCommand: ConstructorParameters<typeof FakeQmpServer>[1], greet = true): Promise<string> {
    server = new FakeQmpServer(join(dir, 'qmp.sock'), onCommand, greet);
    await server.listen();
    return server.path;
  }

  it('reads the greeting and negotiates capabilities before anything else', async () => {
    const path = await serve(standard((cmd, reply) => reply({ return: { status: 'running', running: true }, id: cmd.id })));
    client = await QmpClient.connect(path);
    expect(client.greeting.version?.qemu).toEqual({ major: 7, minor: 2, micro: 0 });
    expect(server!.received.map((c) => c.execute)).toEqual(['qmp_capabilities']);
    expect(await client.execute('query-status')).toEqual({ status: 'running', running: true });
    expect(server!.received.map((c) => c.execute)).toEqual(['qmp_capabilities', 'query-status']);
  });

  it('sends arguments and matches responses to commands by id, even out of order', async () => {
    const held: { cmd: Command; reply: (msg: unknown) => void }[] = [];
    const path = await serve(
      standard((cmd, reply) => {
        held.push({ cmd, reply });
        if (held.length === 2) {
          // Answer the second command first, then a response to nobody, then the first.
          held[1]!.reply({ return: 'second', id: held[1]!.cmd.id });
          reply({ return: 'stray', id: 'not-ours' });
          held[0]!.reply({ return: 'first', id: held[0]!.cmd.id });
        }
      }),
    );
    client = await QmpClient.connect(path);
    const [a, b] = await Promise.all([client.execute('one', { x: 1 }), client.execute('two')]);
    expect([a, b]).toEqual(['first', 'second']);
    expect(server!.received[1]).toMatchObject({ execute: 'one', arguments: { x: 1 } });
    expect(server!.received[2]).not.toHaveProperty('arguments');
    expect(new Set(server!.received.map((c) => c.id)).size).toBe(3);
  });

  it('rejects with the error class and description QEMU answered', async () => {
    const path = await serve(
      standard((cmd, reply) => reply({ error: { class: 'CommandNotFound', desc: "The command nope has not been found" }, id: cmd.id })),
    );
    client = await QmpClient.connect(path);
    const err = await client.execute('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpCommandError);
    expect(err).toMatchObject({ code: 'Fatal', errorClass: 'CommandNotFound', desc: 'The command nope has not been found' });
  });

  it('fails the negotiation when QEMU refuses qmp_capabilities', async () => {
    const path = await serve((cmd, reply) => reply({ error: { class: 'GenericError', desc: 'no' }, id: cmd.id }));
    await expect(QmpClient.connect(path)).rejects.toMatchObject({ errorClass: 'GenericError' });
  });

  it('keeps events, and resolves a wait for one that arrives later or already came', async () => {
    const path = await serve(
      standard((cmd, reply) => {
        reply({ event: 'STOP', timestamp: { seconds: 1, microseconds: 0 } });
        reply({ return: {}, id: cmd.id });
        setTimeout(() => reply({ event: 'RESUME', timestamp: { seconds: 2, microseconds: 0 } }), 20);
      }),
    );
    client = await QmpClient.connect(path);
    const resumed = client.waitForEvent('RESUME', 2_000);
    await client.execute('stop');
    expect((await client.waitForEvent('STOP', 10)).event).toBe('STOP');
    expect((await resumed).timestamp?.seconds).toBe(2);
    expect(client.events.map((e) => e.event)).toEqual(['STOP', 'RESUME']);
  });

  it('parses responses split across packets and several in one packet', async () => {
    const path = await serve(
      standard((cmd, _reply, socket) => {
        const text = `${JSON.stringify({ return: cmd.execute, id: cmd.id })}\r\n`;
        if (cmd.execute === 'split') {
          socket.write(text.slice(0, 7));
          setTimeout(() => socket.write(text.slice(7)), 20);
        } else {
          socket.write(`${JSON.stringify({ event: 'X' })}\r\n${text}`);
        }
      }),
    );
    client = await QmpClient.connect(path);
    expect(await client.execute('split')).toBe('split');
    expect(await client.execute('together')).toBe('together');
  });

  it('times out a command that QEMU never answers, as a transient error', async () => {
    const path = await serve(standard(() => undefined));
    client = await QmpClient.connect(path, { commandTimeoutMs: 100 });
    const t0 = Date.now();
    await expect(client.execute('query-status')).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/timed out/) });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
  });

  it('times out when no greeting comes (another client holds the monitor)', async () => {
    const path = await serve(() => undefined, false);
    await expect(QmpClient.connect(path, { connectTimeoutMs: 100 })).rejects.toMatchObject({
      code: 'Transient',
      message: expect.stringMatching(/no QMP greeting/),
    });
  });

  it('fails pending commands at once when the connection drops', async () => {
    const path = await serve(standard((_cmd, _reply, socket) => socket.destroy()));
    client = await QmpClient.connect(path, { commandTimeoutMs: 5_000 });
    const t0 = Date.now();
    await expect(client.execute('quit')).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/closed/) });
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(client.isClosed).toBe(true);
    await expect(client.execute('query-status')).rejects.toMatchObject({ code: 'Transient' });
  });

  it('refuses a socket where nothing listens, as a transient error', async () => {
    await expect(QmpClient.connect(join(dir, 'absent.sock'))).rejects.toMatchObject({
      code: 'Transient',
      details: { errno: 'ENOENT' },
    });
  });
});
