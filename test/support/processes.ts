import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { exited } from '../../bench/processes';

// freePort and startRedisServer (a Redis of the test's own, for tests that FLUSHALL or restart
// it) are shared with the benches, whose build leaves test/ out.
export { freePort, startRedisServer } from '../../bench/processes';

const ROOT = join(__dirname, '..', '..');

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** kill -9: no shutdown hooks, no goodbye. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs one of the built apps (npm test builds them first) as its own process. */
export function spawnApp(app: 'api' | 'controller' | 'agent' | 'all-in-one', env: Record<string, string>): Proc {
  const main = join(ROOT, 'dist', 'apps', app, 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build (npm test does)`);
  const child = spawn(process.execPath, [main], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    output: () => out,
    kill9: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(timer);
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
