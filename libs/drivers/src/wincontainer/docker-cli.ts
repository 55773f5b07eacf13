import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError, DriverErrorCode } from '../driver.exception';
import { runCommand, RunResult } from '../exec/run-command';

/** What the CLI prints when it cannot reach the engine (named pipe or socket missing, service stopped). */
export const DAEMON_UNREACHABLE = /error during connect|Cannot connect to the Docker daemon|docker daemon is not running/i;

export interface DockerCliOptions {
  docker: string;
  /** Tries when the engine is unreachable; default 4. */
  unreachableAttempts?: number;
  /** First wait after an unreachable engine, doubled each time; default 500 ms. */
  unreachableBackoffMs?: number;
  /** Per-call timeout unless the call says otherwise; default 120 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface DockerCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs the Docker CLI with an argument vector and turns its failures into the contract's
 * errors: an unreachable engine is retried with backoff and ends `Transient`; the rest are
 * classified by `classifyDockerFailure`.
 */
export class DockerCli {
  constructor(private readonly opts: DockerCliOptions) {}

  get binary(): string {
    return this.opts.docker;
  }

  async run(args: readonly string[], call: DockerCallOptions = {}): Promise<RunResult> {
    const attempts = this.opts.unreachableAttempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      const result = await runCommand(this.opts.docker, args, {
        timeoutMs: call.timeoutMs ?? this.opts.timeoutMs ?? 120_000,
        signal: call.signal,
        env: this.opts.env,
        okCodes: ALL_CODES,
      });
      if (result.code === 0) return result;
      if (DAEMON_UNREACHABLE.test(result.stderr)) {
        if (attempt < attempts) {
          await sleep((this.opts.unreachableBackoffMs ?? 500) * 2 ** (attempt - 1), undefined, { signal: call.signal }).catch(() => undefined);
          if (!call.signal?.aborted) continue;
        }
        throw failure(this.opts.docker, args, result, `the Docker engine is unreachable after ${attempt} tries: ${messageOf(result)}`, 'Transient');
      }
      throw classifyDockerFailure(this.opts.docker, args, result);
    }
  }
}

const ALL_CODES = Array.from({ length: 256 }, (_, i) => i);

function messageOf(result: RunResult): string {
  return result.stderr.trim() || result.stdout.trim() || `exit ${result.code}`;
}

/** A failed call as a DriverError; `Unavailable` when another host could succeed (an image or a feature this host lacks). */
export function classifyDockerFailure(file: string, args: readonly string[], result: RunResult): DriverError {
  const message = messageOf(result);
  if (/No such container/i.test(message)) return failure(file, args, result, message, 'NotFound');
  if (/No such image/i.test(message)) return failure(file, args, result, message, 'Unavailable');
  // HCS's image mismatch (process isolation), the engine's newer-image check, a missing Hyper-V role.
  if (/does not match the host operating system|-based image is incompatible with a|required feature is not installed/i.test(message)) {
    return failure(file, args, result, message, 'Unavailable');
  }
  if (/cannot pause Windows Server Containers/i.test(message)) return failure(file, args, result, message, 'Unsupported');
  if (/is already in use by container/i.test(message)) return failure(file, args, result, message, 'Conflict');
  if (/^unknown (shorthand )?flag|flag needs an argument|requires (at least|exactly)|is not a docker command|invalid argument ".*" for/im.test(message)) {
    // Our own command line was refused: a bug or a CLI version we do not know, never retried.
    return failure(file, args, result, `refused the command line: ${message}`, 'Fatal');
  }
  return failure(file, args, result, message, 'Fatal');
}

function failure(file: string, args: readonly string[], result: RunResult, why: string, code: DriverErrorCode): DriverError {
  const cmd = [file, ...args].join(' ');
  return new DriverError(code, `${cmd} exited with ${result.code}: ${why.slice(0, 2000)}`, {
    exitCode: result.code,
    stderr: result.stderr,
    stdout: result.stdout,
  });
}
