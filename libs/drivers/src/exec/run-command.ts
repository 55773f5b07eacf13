import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { DriverError } from '../driver.exception';

export interface RunOptions {
  /** Kill the process after this long (default 60 s). */
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
  /** Exit codes that are not failures (default [0]). */
  okCodes?: number[];
  /** Stop collecting output past this many bytes (default 8 MiB). */
  maxOutputBytes?: number;
  /** Each complete line of output as it comes (progress of a long build). */
  onLine?(line: string, stream: 'stdout' | 'stderr'): void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const ARG_FORBIDDEN = /[\0]/;

/**
 * Runs a program with an argument vector — never through a shell — and a timeout. A non-zero
 * exit (outside `okCodes`) becomes a `DriverError('Fatal')` carrying stderr; a timeout a
 * `DriverError('Transient')`; a missing program a `DriverError('Unsupported')`.
 */
export function runCommand(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  for (const arg of [file, ...args]) {
    if (typeof arg !== 'string' || ARG_FORBIDDEN.test(arg)) {
      return Promise.reject(new DriverError('InvalidArgument', `refusing argument ${JSON.stringify(arg)}`));
    }
  }
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const okCodes = opts.okCodes ?? [0];
  const maxBytes = opts.maxOutputBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      shell: false,
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      signal: opts.signal,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const lines = { stdout: '', stderr: '' };
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    const split = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
      if (!opts.onLine) return;
      const parts = (lines[stream] + decoders[stream].write(chunk)).split('\n');
      lines[stream] = parts.pop() ?? '';
      for (const line of parts) opts.onLine(line, stream);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes < maxBytes) out.push(chunk);
      outBytes += chunk.length;
      split('stdout', chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes < maxBytes) err.push(chunk);
      errBytes += chunk.length;
      split('stderr', chunk);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') reject(new DriverError('Unsupported', `${file} is not installed`));
      else if (e.name === 'AbortError') reject(new DriverError('Transient', `${file} was aborted`));
      else reject(new DriverError('Fatal', `${file}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const stream of ['stdout', 'stderr'] as const) if (lines[stream]) opts.onLine?.(lines[stream], stream);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const cmd = [file, ...args].join(' ');
      if (timedOut) {
        reject(new DriverError('Transient', `${cmd} timed out after ${timeoutMs} ms`, { stderr }));
        return;
      }
      const exit = code ?? (signal ? 128 : 1);
      if (!okCodes.includes(exit)) {
        const why = stderr.trim() || stdout.trim() || `signal ${signal ?? 'none'}`;
        reject(new DriverError('Fatal', `${cmd} exited with ${exit}: ${why.slice(0, 2000)}`, { code: exit, stderr, stdout }));
        return;
      }
      resolve({ code: exit, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
