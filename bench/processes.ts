// Process helpers shared by the benches and the test support (test/support/processes.ts
// re-exports them): they live here because the bench build (tsconfig.build.json) leaves test/ out.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** A Redis of the caller's own (for runs that FLUSHALL or restart it), without persistence. */
export async function startRedisServer(): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}

/**
 * Stops, hard, every LXC container and QEMU VM a bench's local agent made under `dataDir`: a
 * container or VM outlives the directory it came from (and the bench process) otherwise. LXC's
 * by `lxc-stop -k`; QEMU's by the pid in each VM's `qemu.pid`.
 */
export async function stopLocalInstances(dataDir: string): Promise<void> {
  const lxcPath = join(dataDir, 'drivers', 'lxc', 'containers');
  if (existsSync(lxcPath)) {
    for (const d of readdirSync(lxcPath, { withFileTypes: true })) {
      if (!d.isDirectory() || d.name.startsWith('.')) continue;
      await new Promise<void>((resolve) => execFile('lxc-stop', ['-k', '-P', lxcPath, '-n', d.name], { timeout: 30_000 }, () => resolve()));
    }
  }
  const qemuPath = join(dataDir, 'drivers', 'qemu');
  const pidfiles: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 3 || !existsSync(dir)) return;
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      if (d.isDirectory()) walk(join(dir, d.name), depth + 1);
      else if (d.name === 'qemu.pid') pidfiles.push(join(dir, d.name));
    }
  };
  walk(qemuPath, 0);
  for (const file of pidfiles) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

/** The clean-up a signal started (stopOnSignal): exitWhenClean() waits for it. */
let cleaning: Promise<void> | null = null;

/**
 * Makes `stop` run once, and also if the bench gets one of `signals` (Ctrl-C, a timeout's
 * SIGTERM), then exit. Use the stop it answers everywhere: a stop the signal began is the same
 * one. While it runs, the hook stays (the apps' own shutdown hooks send the signal again), and
 * what the interrupted work throws meanwhile does not end the process. A bench's main ends
 * with exitWhenClean(), so that an error the stopping causes does not exit first.
 */
export function stopOnSignal(stop: () => Promise<void>, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): () => Promise<void> {
  let once: Promise<void> | null = null;
  const stopOnce = (): Promise<void> => (once ??= stop());
  const handler = (signal: NodeJS.Signals): void => {
    if (cleaning) return;
    console.error(`\n${signal}: cleaning up before exiting`);
    process.on('unhandledRejection', () => undefined);
    process.on('uncaughtException', () => undefined);
    cleaning = stopOnce().catch((e: unknown) => console.error(`cleanup failed: ${String(e)}`));
    void cleaning.finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  for (const s of signals) process.on(s, handler);
  return async () => {
    if (!cleaning) for (const s of signals) process.off(s, handler);
    await stopOnce();
  };
}

/** Exits with `code`, once a clean-up a signal started has finished. */
export async function exitWhenClean(code: number): Promise<never> {
  if (cleaning) await cleaning;
  process.exit(code);
}
