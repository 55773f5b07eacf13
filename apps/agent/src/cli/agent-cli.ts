import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '@hyperplane/config';
import { OS_FAMILIES, OsFamily } from '@hyperplane/domain';
import { hostOs } from '../inventory/local-inventory';
import { runPlan } from './plan-runner';
import { runAgentProcess } from './run-agent';
import { installPlan, ServicePlan, uninstallPlan } from './service-plan';

export const USAGE = `Usage: hyperplane-agent [run] [--env-file FILE]
       hyperplane-agent install --api-url URL --redis-url URL [--enrollment-token TOKEN] [options]
       hyperplane-agent uninstall [--purge] [options]

run        run the agent in the foreground (the default; what the service runs)
install    install the agent as a service: systemd (Linux), launchd (macOS), a Windows service
uninstall  remove the service; --purge also removes its data, logs and environment file

install options:
  --api-url URL              HYPERPLANE_API_URL, the Hyperplane API
  --enrollment-token TOKEN   HYPERPLANE_ENROLLMENT_TOKEN (an admin makes one: POST /v1/enrollment-tokens)
  --redis-url URL            REDIS_URL, the control plane's Redis
  --redis-prefix PREFIX      HYPERPLANE_REDIS_PREFIX
  --env KEY=VALUE            any other variable of .env.example (repeatable), e.g. HYPERPLANE_PRLCTL=…
  --user NAME                macOS: the Mac user who owns the Parallels Desktop VMs (default: $SUDO_USER)
  --no-start                 install but do not start
common options:
  --dry-run                  print the plan (files, with secrets masked, and commands); change nothing
  --root DIR                 write the files under DIR, run no command (packaging, inspection)
  --os linux|macos|windows   plan for another OS (only with --dry-run or --root)
`;

export type CliCommand =
  | { kind: 'run'; envFile?: string; stopOnStdinClose: boolean }
  | { kind: 'help' }
  | { kind: 'install' | 'uninstall'; plan: ServicePlan; dryRun: boolean; root?: string };

export class UsageError extends Error {}

export interface CliContext {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  nodePath: string;
  cliPath: string;
}

const ENV_FLAGS = { 'api-url': 'HYPERPLANE_API_URL', 'enrollment-token': 'HYPERPLANE_ENROLLMENT_TOKEN', 'redis-url': 'REDIS_URL', 'redis-prefix': 'HYPERPLANE_REDIS_PREFIX' } as const;
// The service decides these itself.
const RESERVED = new Set(['HYPERPLANE_DATA_DIR', 'HYPERPLANE_LOCAL_AGENT']);

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'env-file': { type: 'string' },
  'stop-on-stdin-close': { type: 'boolean' },
  'api-url': { type: 'string' },
  'enrollment-token': { type: 'string' },
  'redis-url': { type: 'string' },
  'redis-prefix': { type: 'string' },
  env: { type: 'string', multiple: true },
  user: { type: 'string' },
  'no-start': { type: 'boolean' },
  purge: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  root: { type: 'string' },
  os: { type: 'string' },
} as const;

/** argv (without node and the script) → what to do. Pure: tests give it any OS. */
export function parseCli(argv: string[], ctx: CliContext): CliCommand {
  const [first] = argv;
  const verb = first && !first.startsWith('-') ? first : 'run';
  const rest = first && !first.startsWith('-') ? argv.slice(1) : argv;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const v = parsed.values;
  if (v.help || verb === 'help') return { kind: 'help' };
  const allowed: Record<string, string[]> = {
    run: ['env-file', 'stop-on-stdin-close'],
    install: ['api-url', 'enrollment-token', 'redis-url', 'redis-prefix', 'env', 'user', 'no-start', 'dry-run', 'root', 'os'],
    uninstall: ['purge', 'dry-run', 'root', 'os'],
  };
  if (!allowed[verb]) throw new UsageError(`unknown command ${verb}`);
  const stray = Object.keys(v).filter((k) => !allowed[verb]!.includes(k));
  if (stray.length) throw new UsageError(`${verb} takes no --${stray.join(', --')}`);
  if (verb === 'run') return { kind: 'run', envFile: v['env-file'] && resolve(v['env-file']), stopOnStdinClose: Boolean(v['stop-on-stdin-close']) };

  const dryRun = Boolean(v['dry-run']);
  const root = v.root ? resolve(v.root) : undefined;
  let os: OsFamily;
  if (v.os) {
    if (!(OS_FAMILIES as readonly string[]).includes(v.os)) throw new UsageError(`--os must be one of ${OS_FAMILIES.join(', ')}`);
    if (!dryRun && !root) throw new UsageError('--os plans for another OS: use it with --dry-run or --root');
    os = v.os as OsFamily;
  } else {
    os = hostOs(ctx.platform);
  }
  const windowsDirs = { programData: ctx.env.ProgramData ?? ctx.env.PROGRAMDATA, systemRoot: ctx.env.SystemRoot ?? ctx.env.SYSTEMROOT };
  if (verb === 'uninstall') return { kind: 'uninstall', plan: uninstallPlan(os, { purge: Boolean(v.purge), ...windowsDirs }), dryRun, root };

  const env: Record<string, string> = {};
  for (const [flag, key] of Object.entries(ENV_FLAGS)) {
    const value = v[flag as keyof typeof ENV_FLAGS];
    if (value !== undefined) env[key] = value;
  }
  for (const pair of v.env ?? []) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/s.exec(pair);
    if (!m) throw new UsageError(`--env ${pair}: expected KEY=VALUE`);
    if (RESERVED.has(m[1]!)) throw new UsageError(`--env ${m[1]}: the service sets it`);
    env[m[1]!] = m[2]!;
  }
  if (!env.HYPERPLANE_API_URL) throw new UsageError('install needs --api-url');
  if (!env.REDIS_URL) throw new UsageError('install needs --redis-url');
  // The agent would refuse a bad value at start; refuse it now, naming the variable.
  try {
    loadConfig(env);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const plan = installPlan(os, {
    nodePath: ctx.nodePath,
    cliPath: ctx.cliPath,
    env,
    user: v.user ?? ctx.env.SUDO_USER,
    noStart: Boolean(v['no-start']),
    ...windowsDirs,
  });
  return { kind: 'install', plan, dryRun, root };
}

/** `hyperplane-agent …`: the effectful side. */
/** The exit code, or null while the agent runs. */
export async function runCli(argv: string[]): Promise<number | null> {
  let cmd: CliCommand;
  try {
    cmd = parseCli(argv, { platform: process.platform, env: process.env, nodePath: process.execPath, cliPath: join(__dirname, 'hyperplane-agent.js') });
  } catch (e) {
    process.stderr.write(`hyperplane-agent: ${e instanceof Error ? e.message : String(e)}\n${e instanceof UsageError ? `\n${USAGE}` : ''}`);
    return 2;
  }
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'run':
      await runAgentProcess({ envFile: cmd.envFile, stopOnStdinClose: cmd.stopOnStdinClose });
      return null;
    case 'install':
    case 'uninstall': {
      const real = !cmd.dryRun && !cmd.root;
      if (real && process.platform !== 'win32' && process.getuid?.() !== 0) {
        process.stderr.write(`hyperplane-agent: ${cmd.kind} changes system directories and services; run it as root (sudo)\n`);
        return 1;
      }
      await runPlan(cmd.plan, { dryRun: cmd.dryRun, root: cmd.root });
      if (real) process.stdout.write(`${cmd.kind === 'install' ? 'installed' : 'uninstalled'}: data ${cmd.plan.paths.data}, logs ${cmd.plan.paths.logs}\n`);
      return 0;
    }
  }
}
