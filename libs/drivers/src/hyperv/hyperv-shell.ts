import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../driver.exception';
import { runCommand } from '../exec/run-command';
import { parseScriptResult } from './hyperv-output';

/** The operation scripts shipped beside this file (the build copies them to dist). */
export const HYPERV_SCRIPT_DIR = join(__dirname, 'scripts');

export const HYPERV_SCRIPTS = [
  'probe', 'get', 'list', 'create', 'start', 'stop', 'save', 'resume', 'resize', 'delete',
  'checkpoint-create', 'checkpoint-list', 'checkpoint-restore', 'checkpoint-delete',
] as const;
export type HypervScript = (typeof HYPERV_SCRIPTS)[number];

/** Everything before the script: no profile, no prompts, no execution policy to trip over. */
export const POWERSHELL_PREFIX = ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File'] as const;

export type ScriptParams = Record<string, string | number | boolean | undefined>;

export interface HypervShellOptions {
  /** `powershell` (Windows finds powershell.exe through PATHEXT), or HYPERPLANE_POWERSHELL. */
  powershell: string;
  scriptDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Tries while the Virtual Machine Management service is not answering; default 3. */
  unavailableAttempts?: number;
  /** First wait after such a failure, doubled each time; default 1000 ms. */
  unavailableBackoffMs?: number;
}

export interface ScriptCall {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs one operation script as `powershell -NoLogo … -File <script> -Param value …`: user input
 * reaches PowerShell only as named parameters, bound by PowerShell itself, never as script text.
 */
export class HypervShell {
  readonly scriptDir: string;

  constructor(private readonly opts: HypervShellOptions) {
    this.scriptDir = opts.scriptDir ?? HYPERV_SCRIPT_DIR;
  }

  /** The argument vector for one script (exported for the tests through `argv`). */
  argv(script: HypervScript, params: ScriptParams): string[] {
    const args = [...POWERSHELL_PREFIX, join(this.scriptDir, `${script}.ps1`)];
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined || value === false) continue;
      if (value === true) {
        args.push(`-${name}`);
        continue;
      }
      const text = String(value);
      // PowerShell would read "-x" as another parameter, and `"` ends a quoted argument.
      if (text === '' || text.startsWith('-') || text.includes('"')) {
        throw new DriverError('InvalidArgument', `refusing ${name} ${JSON.stringify(text)} for ${script}.ps1`);
      }
      args.push(`-${name}`, text);
    }
    return args;
  }

  async run<T>(script: HypervScript, params: ScriptParams = {}, call: ScriptCall = {}): Promise<T> {
    const file = join(this.scriptDir, `${script}.ps1`);
    if (!existsSync(file)) throw new DriverError('Fatal', `the Hyper-V script ${file} is missing from this installation`);
    const args = this.argv(script, params);
    const attempts = this.opts.unavailableAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const result = await runCommand(this.opts.powershell, args, {
        timeoutMs: call.timeoutMs ?? 120_000,
        signal: call.signal,
        env: this.opts.env,
        okCodes: ALL_CODES,
      });
      try {
        return parseScriptResult<T>(`${script}.ps1`, result);
      } catch (error) {
        if (!DriverError.is(error, 'Transient') || attempt >= attempts || call.signal?.aborted) throw error;
        await sleep((this.opts.unavailableBackoffMs ?? 1000) * 2 ** (attempt - 1), undefined, { signal: call.signal }).catch(() => undefined);
      }
    }
  }
}

const ALL_CODES = Array.from({ length: 256 }, (_, i) => i);
