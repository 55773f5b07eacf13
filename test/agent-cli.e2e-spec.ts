import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { Stack, startStack } from '@hyperplane/testing';

const CLI = join(__dirname, '..', 'dist', 'apps', 'agent', 'src', 'cli', 'hyperplane-agent.js');
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });

describe('hyperplane-agent, the command', () => {
  const dirs: string[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'hp-agent-cli-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('installs under a root prefix: the unit and an environment only root can read; uninstall --purge removes them', () => {
    expect(existsSync(CLI)).toBe(true);
    const root = tmp();
    const res = cli(['install', '--root', root, '--api-url', 'http://10.1.2.3:3000', '--redis-url', 'redis://:pw@10.1.2.3:6379', '--enrollment-token', 'hp_enroll_x']);
    expect(res.status).toBe(0);
    const envFile = join(root, 'etc', 'hyperplane-agent', 'agent.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'etc', 'hyperplane-agent')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'etc')).mode & 0o777).toBe(0o755);
    expect(parseEnv(readFileSync(envFile, 'utf8'))).toMatchObject({ HYPERPLANE_ENROLLMENT_TOKEN: 'hp_enroll_x', HYPERPLANE_DATA_DIR: '/var/lib/hyperplane-agent' });
    const unit = readFileSync(join(root, 'etc', 'systemd', 'system', 'hyperplane-agent.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} ${CLI} run --env-file /etc/hyperplane-agent/agent.env`);
    expect(res.stdout).toContain('skipped (--root) run: systemctl enable --now hyperplane-agent.service');

    expect(cli(['uninstall', '--root', root, '--purge']).status).toBe(0);
    expect(existsSync(envFile)).toBe(false);
    expect(existsSync(join(root, 'etc', 'systemd', 'system', 'hyperplane-agent.service'))).toBe(false);
  });

  it('prints the plan of any OS with --dry-run, without the secrets, and changes nothing', () => {
    const res = cli(['install', '--dry-run', '--os', 'windows', '--api-url', 'https://hp.example.com', '--redis-url', 'redis://:redispw@r:6379', '--enrollment-token', 'hp_enroll_secret'], { ProgramData: 'C:\\ProgramData' });
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('would write C:\\ProgramData\\Hyperplane\\agent.env');
    expect(res.stdout).toMatch(/would run: C:\\Windows\\System32\\sc.exe create HyperplaneAgent binPath=/);
    expect(res.stdout).not.toContain('hp_enroll_secret');
    expect(res.stdout).not.toContain('redispw');
  });

  it('says what is wrong with its arguments, with exit code 2', () => {
    const res = cli(['install', '--api-url', 'https://x']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('install needs --redis-url');
    expect(res.stderr).toContain('Usage: hyperplane-agent');
  });

  describe('run', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ noAgent: true, simHosts: [] });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('runs the agent from an env file, and stops cleanly when its stdin closes (the Windows service’s stop)', async () => {
      const dir = tmp();
      const envFile = join(dir, 'agent.env');
      writeFileSync(
        envFile,
        [
          `HYPERPLANE_API_URL=${stack.url}`,
          `HYPERPLANE_ENROLLMENT_TOKEN=${await stack.enrollmentToken()}`,
          `REDIS_URL=${stack.redisUrl}`,
          `HYPERPLANE_REDIS_PREFIX=${stack.config.HYPERPLANE_REDIS_PREFIX}`,
          `HYPERPLANE_DATA_DIR=${join(dir, 'data')}`,
          'HYPERPLANE_LOCAL_AGENT=false',
          'HYPERPLANE_SIM_HOSTS=3',
          'HYPERPLANE_HEARTBEAT_INTERVAL_S=1',
          'LOG_LEVEL=log',
        ].join('\n'),
        { mode: 0o600 },
      );
      // cwd elsewhere: a service's working directory has no .env.
      const child = spawn(process.execPath, [CLI, 'run', '--env-file', envFile, '--stop-on-stdin-close'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LOG_FORMAT: 'json' } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const hosts = await stack.waitForHosts(3, 30_000).catch((e: Error) => {
          throw new Error(`${e.message}; the agent said: ${out}`);
        });
        // A small simulated fleet shows all three OSes.
        expect(hosts.map((h: { os: string }) => h.os).sort()).toEqual(['linux', 'macos', 'windows']);
        child.stdin.end();
        expect(await exited).toBe(0);
        expect(out).toContain('stopping (stdin closed)');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  });
});
