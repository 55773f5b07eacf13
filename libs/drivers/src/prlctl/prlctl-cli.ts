import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../driver.exception';
import { runCommand, RunResult } from '../exec/run-command';

/** prlctl's own exit codes (OpenVZ/prlctl `src/Utils.cpp#prlerr2exitcode`); SDK errors clamp to 255. */
export const PRL_EXIT = { frozen: 254, dispatcherUnreachable: 253, sdkError: 255 } as const;

export const DATA_SYNC_MESSAGE = 'Data synchronization is currently in progress';

export interface PrlctlCliOptions {
  prlctl: string;
  prlsrvctl: string;
  /** Tries when the dispatcher is unreachable (exit 253); default 4. */
  unreachableAttempts?: number;
  /** First wait after a 253, doubled each time; default 500 ms. */
  unreachableBackoffMs?: number;
  /** Tries when the tool answers "Data synchronization is currently in progress"; default 3. */
  syncAttempts?: number;
  /** Wait before trying again after it (Vagrant waits 2 s); default 2000 ms. */
  syncRetryMs?: number;
  /** Per-call timeout unless the call says otherwise; default 120 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs prlctl / prlsrvctl with an argument vector and turns their exit codes into the contract's
 * errors: 253 (the dispatcher, prl-disp, is unreachable) is retried with backoff and ends
 * `Transient`; "Data synchronization is currently in progress" is retried after a pause, as
 * Vagrant does for snapshot-switch and snapshot-delete; "does not exist" / "could not be found"
 * is `NotFound`; 254 (the VM is frozen) and everything else are `Fatal` with stderr kept.
 */
export class PrlctlCli {
  constructor(private readonly opts: PrlctlCliOptions) {}

  prlctl(args: readonly string[], call: CallOptions = {}): Promise<RunResult> {
    return this.run(this.opts.prlctl, args, call);
  }

  prlsrvctl(args: readonly string[], call: CallOptions = {}): Promise<RunResult> {
    return this.run(this.opts.prlsrvctl, args, call);
  }

  private async run(file: string, args: readonly string[], call: CallOptions): Promise<RunResult> {
    const unreachableAttempts = this.opts.unreachableAttempts ?? 4;
    const syncAttempts = this.opts.syncAttempts ?? 3;
    let unreachable = 0;
    let syncing = 0;
    for (;;) {
      const result = await runCommand(file, args, {
        timeoutMs: call.timeoutMs ?? this.opts.timeoutMs ?? 120_000,
        signal: call.signal,
        env: this.opts.env,
        okCodes: ALL_CODES,
      });
      if (result.code === 0) return result;
      const stderr = messageOf(result);
      if (result.code === PRL_EXIT.dispatcherUnreachable) {
        unreachable++;
        if (unreachable < unreachableAttempts) {
          await sleep((this.opts.unreachableBackoffMs ?? 500) * 2 ** (unreachable - 1), undefined, { signal: call.signal }).catch(() => undefined);
          if (!call.signal?.aborted) continue;
        }
        throw classify(file, args, result, `the Parallels service is unreachable (exit 253) after ${unreachable} tries: ${stderr}`, 'Transient');
      }
      if (stderr.includes(DATA_SYNC_MESSAGE) || /Login failed:/.test(stderr)) {
        syncing++;
        if (syncing < syncAttempts) {
          await sleep(this.opts.syncRetryMs ?? 2000, undefined, { signal: call.signal }).catch(() => undefined);
          if (!call.signal?.aborted) continue;
        }
        throw classify(file, args, result, `still busy after ${syncing} tries: ${stderr}`, 'Transient');
      }
      throw classifyFailure(file, args, result);
    }
  }
}

const ALL_CODES = Array.from({ length: 256 }, (_, i) => i);

// Virtuozzo prints this before every non-list command; it says nothing about the failure.
const DEPRECATION = /^WARNING: You are using a deprecated CLI component.*$/gm;

/** What the tool said about a failure: stderr without its deprecation notice, else stdout. */
export function messageOf(result: RunResult): string {
  return result.stderr.replace(DEPRECATION, '').trim() || result.stdout.trim();
}

/** A failed call as a DriverError; exported for the driver's own checks and the tests. */
export function classifyFailure(file: string, args: readonly string[], result: RunResult): DriverError {
  const stderr = messageOf(result);
  if (result.code === PRL_EXIT.frozen) {
    return classify(file, args, result, `the instance is frozen (exit 254): ${stderr}`, 'Fatal');
  }
  if (/does not exist|could not be found|not registered|no such (vm|virtual machine|container)/i.test(stderr)) {
    return classify(file, args, result, stderr, 'NotFound');
  }
  if (/Unrecognized option|requires an argument|An incorrect value|Invalid (action|option)|Usage:/i.test(stderr)) {
    // Our own command line was refused: a bug or a tool version we do not know, never retried.
    return classify(file, args, result, `refused the command line: ${stderr}`, 'Fatal');
  }
  return classify(file, args, result, stderr || `exit ${result.code}`, 'Fatal');
}

function classify(file: string, args: readonly string[], result: RunResult, why: string, code: 'Transient' | 'Fatal' | 'NotFound'): DriverError {
  const cmd = [file, ...args].join(' ');
  return new DriverError(code, `${cmd} exited with ${result.code}: ${why.slice(0, 2000)}`, {
    exitCode: result.code,
    stderr: result.stderr,
    stdout: result.stdout,
  });
}
