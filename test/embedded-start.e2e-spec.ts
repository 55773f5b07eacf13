import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@hyperplane/testing';

// `npm start` on a machine where nothing answers on 5432 and 6379: the all-in-one starts an
// embedded PostgreSQL and redis-server of its own, as root and as an ordinary user. A network
// namespace of the test's own gives it such a machine: only its loopback, no other server.
const REQUIRE = process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS === '1';
const MAIN = join(__dirname, '..', 'dist', 'apps', 'all-in-one', 'src', 'main.js');
const TOKEN = 'embedded-start-admin-token-0123456789';
const API = 'http://127.0.0.1:3000';

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout))),
  );
}

function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'making a network namespace and switching users need root';
  try {
    execFileSync('ip', ['netns', 'list'], { timeout: 5000, stdio: 'ignore' });
    execFileSync('setpriv', ['--version'], { timeout: 5000, stdio: 'ignore' });
    execFileSync('redis-server', ['--version'], { timeout: 5000, stdio: 'ignore' });
  } catch (e) {
    return `ip netns, setpriv and redis-server are needed (${e instanceof Error ? e.message : String(e)})`;
  }
  if (!existsSync(MAIN)) return `${MAIN} is missing: run npm run build`;
  return undefined;
}

/** An HTTP call made from inside the namespace (the API listens on its loopback only). */
async function api(ns: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const script = `fetch(${JSON.stringify(API + path)}, { method: ${JSON.stringify(method)}, headers: { Authorization: 'Bearer ${TOKEN}', 'Content-Type': 'application/json' }${
    body === undefined ? '' : `, body: ${JSON.stringify(JSON.stringify(body))}`
  } }).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.json().catch(() => null) })), (e) => { process.stdout.write(JSON.stringify({ status: 0, body: String(e) })); });`;
  return JSON.parse(await run('ip', ['netns', 'exec', ns, process.execPath, '-e', script])) as { status: number; body: any };
}

const notPossible = whyNot();

describe('the all-in-one with nothing on the usual ports (a network namespace of its own)', () => {
  if (notPossible) {
    if (REQUIRE) {
      it('can run here, as HYPERPLANE_REQUIRE_REAL_DRIVERS=1 demands', () => {
        throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but this cannot run here: ${notPossible}`);
      });
    } else {
      console.warn(`embedded-start.e2e-spec: skipped: ${notPossible}`);
      it.skip(`starts with nothing on the usual ports (skipped: ${notPossible})`, () => undefined);
    }
    return;
  }

  let ns: string;
  beforeEach(async () => {
    ns = `hp-test-${randomBytes(4).toString('hex')}`;
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  });
  afterEach(async () => {
    // Whatever still runs in the namespace was started by this test (the all-in-one's PostgreSQL
    // and Redis when it did not stop them): end those processes, by id, then the namespace.
    const pids = (await run('ip', ['netns', 'pids', ns]).catch(() => '')).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  });

  function start(checkout: string, user: { uid: number; gid: number } | null): { child: ReturnType<typeof spawn>; output: () => string } {
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: checkout,
      HYPERPLANE_DATA_DIR: join(checkout, '.data'),
      PORT: '3000',
      HYPERPLANE_ADMIN_TOKEN: TOKEN,
      HYPERPLANE_LOCAL_AGENT: 'false',
      HYPERPLANE_SIM_HOSTS: '1',
      HYPERPLANE_SIM_TIME_SCALE: '0.01',
      HYPERPLANE_HEARTBEAT_INTERVAL_S: '1',
    };
    const as = user ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--'] : [];
    const child = spawn('ip', ['netns', 'exec', ns, ...as, process.execPath, MAIN], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return { child, output: () => out };
  }

  async function startAndCreate(user: { uid: number; gid: number } | null): Promise<void> {
    // Like a fresh clone: a checkout others may pass through, with no `.data` yet.
    const checkout = mkdtempSync(join(tmpdir(), 'hp-clone-'));
    chmodSync(checkout, 0o755);
    if (user) chownSync(checkout, user.uid, user.gid);
    const { child, output } = start(checkout, user);
    let out = '';
    try {
      await waitFor('the all-in-one to say it is ready', async () => {
        out = output();
        if (child.exitCode !== null) throw new Error(`it stopped (${child.exitCode})`);
        return /Hyperplane is ready/.test(out);
      }, 90_000, 200);
      expect(out).toMatch(/started an embedded PostgreSQL on port \d+/);
      expect(out).toMatch(/started redis-server on port \d+/);

      const post = await api(ns, 'POST', '/v1/instances', { name: 'first', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
      expect(post.status).toBe(202);
      const done = await api(ns, 'GET', `/v1/operations/${post.body.id}/wait?timeoutS=30`);
      expect(done.body).toMatchObject({ status: 'succeeded' });
      const instance = await api(ns, 'GET', `/v1/instances/${done.body.instanceId}`);
      expect(instance.body).toMatchObject({ name: 'first', state: 'running' });
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- it said:\n${output()}`);
    } finally {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      clearTimeout(killer);
      rmSync(checkout, { recursive: true, force: true });
    }
  }

  it('starts as root, running PostgreSQL as postgres, and a container reaches running', () => startAndCreate(null), 150_000);

  it('starts as an unprivileged user (nobody) in a directory it owns, and a container reaches running', async () => {
    const uid = Number(execFileSync('id', ['-u', 'nobody'], { timeout: 5000 }).toString());
    const gid = Number(execFileSync('id', ['-g', 'nobody'], { timeout: 5000 }).toString());
    await startAndCreate({ uid, gid });
  }, 150_000);

  it('as root, says which directory keeps the postgres user out, when one does', async () => {
    const checkout = mkdtempSync(join(tmpdir(), 'hp-clone-')); // 0700, like root's home
    const { child, output } = start(checkout, null);
    try {
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code).toBe(1);
      expect(output()).toContain(`the postgres user cannot reach ${join(checkout, '.data', 'postgres')}: ${checkout} lets no other user through`);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  }, 60_000);
});
