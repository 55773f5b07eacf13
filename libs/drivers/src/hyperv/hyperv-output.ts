import { DriverError } from '../driver.exception';
import { RunResult } from '../exec/run-command';

export const FRAME = {
  output: ['===HP-BEGIN-OUTPUT===', '===HP-END-OUTPUT==='],
  error: ['===HP-BEGIN-ERROR===', '===HP-END-ERROR==='],
} as const;

/** What a script's error frame carries (hyperv-common.ps1). */
export interface HvErrorFrame {
  /** Our own refusal (NotFound, Conflict, TemplateMissing) or `Failed` for anything a cmdlet threw. */
  code: string;
  message: string;
  /** The ErrorRecord's FullyQualifiedErrorId, e.g. `InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVM`. */
  fqid: string;
  category: string;
}

/** The JSON between a frame's marker lines, or undefined when that frame is absent. */
export function extractFrame(stdout: string, kind: keyof typeof FRAME): string | undefined {
  const [begin, end] = FRAME[kind];
  const lines = stdout.split(/\r?\n/);
  const from = lines.findIndex((l) => l.trim() === begin);
  if (from < 0) return undefined;
  const to = lines.findIndex((l, i) => i > from && l.trim() === end);
  if (to < 0) return undefined;
  return lines.slice(from + 1, to).join('\n');
}

// "Verify that the Virtual Machine Management service on the computer is running": VMMS is down
// or restarting; the cmdlets say so in the message and with an ObjectNotFound / a Virtualization*
// id, so the message decides.
const VMMS_DOWN = /Virtual Machine Management service|vmms|RPC server is unavailable/i;

/**
 * A script's outcome as data or a classified DriverError. The output frame wins over noise and
 * exit code 0 without one is an error (a script that printed nothing did not do its job).
 */
export function parseScriptResult<T>(script: string, result: RunResult): T {
  const err = extractFrame(result.stdout, 'error');
  if (err !== undefined) throw errorFromFrame(script, parseJson<HvErrorFrame>(script, err, result), result);
  const out = extractFrame(result.stdout, 'output');
  if (result.code === 0 && out !== undefined) return parseJson<T>(script, out, result);
  const why = (result.stderr.trim() || result.stdout.trim() || 'no output').slice(0, 2000);
  const details = { exitCode: result.code, stderr: result.stderr, stdout: result.stdout };
  if (VMMS_DOWN.test(why)) return fail('Transient', `${script}: Hyper-V is not answering (exit ${result.code}): ${why}`, details);
  // No frame at all: PowerShell refused the command line or the script did not parse — our bug.
  return fail('Fatal', `${script} exited with ${result.code} without a result: ${why}`, details);
}

function fail(code: 'Transient' | 'Fatal', message: string, details: Record<string, unknown>): never {
  throw new DriverError(code, message, details);
}

function parseJson<T>(script: string, text: string, result: RunResult): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new DriverError('Fatal', `${script} framed output that is not JSON: ${text.slice(0, 200)}`, { exitCode: result.code, stdout: result.stdout });
  }
}

/** The contract's code for a framed error. */
export function errorFromFrame(script: string, frame: HvErrorFrame, result?: RunResult): DriverError {
  const details = { exitCode: result?.code, fqid: frame.fqid, category: frame.category, hvCode: frame.code };
  const message = `${script}: ${frame.message}`;
  switch (frame.code) {
    case 'NotFound':
      return new DriverError('NotFound', message, details);
    case 'Conflict':
      return new DriverError('Conflict', message, details);
    case 'TemplateMissing':
      // Another host may still have the base disk.
      return new DriverError('Unavailable', message, details);
  }
  if (VMMS_DOWN.test(frame.message)) return new DriverError('Transient', `${script}: Hyper-V is not answering: ${frame.message}`, details);
  // The VM is in a state the cmdlet refuses (Start-VM while Saving, Set-VMProcessor while Running).
  if (/^InvalidState\b/.test(frame.fqid) || frame.category === 'InvalidOperation') return new DriverError('Conflict', message, details);
  if (/^(OperationTimeout|Timeout)\b/.test(frame.fqid) || frame.category === 'OperationTimeout') return new DriverError('Transient', message, details);
  return new DriverError('Fatal', message, details);
}
