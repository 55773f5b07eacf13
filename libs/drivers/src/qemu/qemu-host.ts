import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { Arch } from '@hyperplane/domain';
import { DriverError } from '../driver.exception';
import { runCommand } from '../exec/run-command';

export interface KvmCheck {
  usable: boolean;
  reason: string;
}

export interface KvmPaths {
  device: string;
  cpuinfo: string;
  sysModule: string;
}

const LINUX_KVM_PATHS: KvmPaths = { device: '/dev/kvm', cpuinfo: '/proc/cpuinfo', sysModule: '/sys/module' };

/**
 * Whether KVM can run an ordinary guest here. Opening /dev/kvm is not enough: a nested sandbox
 * may expose PVM (`kvm_pvm`), which runs only PVM-enabled guest kernels and hangs a stock one,
 * and on x86 hardware-assisted KVM needs the vmx or svm CPU flag.
 */
export function checkKvm(hostArch: Arch, paths: KvmPaths = LINUX_KVM_PATHS): KvmCheck {
  try {
    closeSync(openSync(paths.device, 'r+'));
  } catch (e) {
    return { usable: false, reason: `${paths.device} cannot be opened: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  if (existsSync(join(paths.sysModule, 'kvm_pvm'))) {
    return { usable: false, reason: `${paths.device} is PVM (kvm_pvm), which runs only PVM-enabled guest kernels` };
  }
  if (hostArch === 'x86_64') {
    let flags = '';
    try {
      flags = readFileSync(paths.cpuinfo, 'utf8');
    } catch {
      return { usable: true, reason: `${paths.device} opens (cpu flags unreadable)` };
    }
    if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(flags)) {
      return { usable: false, reason: `${paths.device} opens but the CPU shows neither vmx nor svm` };
    }
  }
  return { usable: true, reason: `${paths.device} opens and the CPU has hardware virtualisation` };
}

/** The absolute path of `name` on PATH, or undefined; an absolute `name` is checked as is. */
export function findExecutable(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  const candidates = isAbsolute(name) ? [name] : envPath.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The argv of a live process, or undefined when it is gone (or a zombie, whose argv is empty). */
export async function processArgv(pid: number): Promise<string[] | undefined> {
  if (process.platform === 'linux') {
    try {
      const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      const argv = raw.split('\0').filter((a) => a.length > 0);
      return argv.length > 0 ? argv : undefined;
    } catch {
      return undefined;
    }
  }
  const res = await runCommand('ps', ['-p', String(pid), '-o', 'command='], { timeoutMs: 5_000, okCodes: [0, 1] });
  const line = res.stdout.trim();
  return line ? line.split(/\s+/) : undefined;
}

/** True when `pid` is alive and is the QEMU of this instance: a reused pid is not mistaken for it. */
export async function isInstanceProcess(pid: number, id: string): Promise<boolean> {
  const argv = await processArgv(pid);
  return argv !== undefined && argv.some((a) => a.includes(id));
}

/** Resident set size in KiB (Linux: VmRSS), or undefined. */
export async function processRssKiB(pid: number): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function readPid(text: string): number | undefined {
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

export function abortError(): DriverError {
  return new DriverError('Transient', 'operation aborted');
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError();
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
