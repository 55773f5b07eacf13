import { readFile } from 'node:fs/promises';
import { Resources } from '@hyperplane/domain';
import { InstanceObservation, InstanceStatus } from '../driver';
import { DriverError } from '../driver.exception';
import { Accelerator } from './qemu-args';
import { readTail } from './qemu-console';
import { isInstanceProcess, processRssKiB, readPid, sleep } from './qemu-host';
import { GiB } from './qemu-img';
import { readQemuImageRef } from './qemu-images';
import { InstanceRecord, InstanceStore } from './qemu-state';
import { QmpClient } from './qmp.client';

/** QEMU run states (`query-status`) in which the guest executes; every other one holds it still. */
const RUNNING_STATUSES = new Set(['running']);

export function isRunningStatus(status: string): boolean {
  return RUNNING_STATUSES.has(status);
}

export interface TerminateOptions {
  /** Time the guest gets to power off after `system_powerdown`; 0 skips straight to `quit`. */
  graceMs: number;
  signal?: AbortSignal;
}

export type TerminateOutcome = 'powerdown' | 'quit' | 'kill';

/** Talks to the QEMU process of an instance: its pid, its QMP socket, its state, and ending it. */
export class QemuRuntime {
  constructor(
    private readonly store: InstanceStore,
    private readonly qmpTimeoutMs = 5_000,
  ) {}

  /** The pid of this instance's live QEMU, or undefined. A reused pid is not mistaken for it. */
  async livePid(id: string): Promise<number | undefined> {
    const candidates: number[] = [];
    const fromFile = readPid(await readFile(this.store.paths(id).pidfile, 'utf8').catch(() => ''));
    if (fromFile !== undefined) candidates.push(fromFile);
    const rt = await this.store.readRuntime(id).catch(() => undefined);
    if (rt && rt.pid !== fromFile) candidates.push(rt.pid);
    for (const pid of candidates) if (await isInstanceProcess(pid, id)) return pid;
    return undefined;
  }

  /** One QMP session: connect, negotiate, run `fn`, close. */
  async withQmp<T>(id: string, fn: (qmp: QmpClient) => Promise<T>, opts: { commandTimeoutMs?: number } = {}): Promise<T> {
    const qmp = await QmpClient.connect(this.store.paths(id).qmp, {
      connectTimeoutMs: this.qmpTimeoutMs,
      commandTimeoutMs: opts.commandTimeoutMs ?? this.qmpTimeoutMs,
    });
    try {
      return await fn(qmp);
    } finally {
      qmp.close();
    }
  }

  /** Runs an HMP command (savevm/loadvm/delvm have no plain QMP form); HMP reports errors as text. */
  static async hmp(qmp: QmpClient, commandLine: string, timeoutMs: number): Promise<string> {
    const out = await qmp.execute<string>('human-monitor-command', { 'command-line': commandLine }, { timeoutMs });
    const text = typeof out === 'string' ? out.trim() : '';
    if (/error|could not|can't|cannot|not found|doesn't exist|does not exist/i.test(text)) {
      throw new DriverError('Fatal', `${commandLine.split(' ')[0]} failed: ${text}`, { output: text });
    }
    return text;
  }

  /**
   * Ends QEMU: `system_powerdown` (the guest's ACPI power button) and up to `graceMs` for it, then
   * QMP `quit`, then SIGKILL to the pid from the pidfile. Resolves with how it ended.
   */
  async terminate(id: string, pid: number, opts: TerminateOptions): Promise<TerminateOutcome> {
    if (opts.graceMs > 0) {
      const asked = await this.withQmp(id, async (qmp) => {
        const { status } = await qmp.execute<{ status: string }>('query-status');
        // A paused guest cannot see the power button.
        if (!isRunningStatus(status)) await qmp.execute('cont');
        await qmp.execute('system_powerdown');
        return true;
      }).catch(() => false);
      if (asked && (await this.waitForExit(pid, id, opts.graceMs, opts.signal))) return 'powerdown';
    }
    await this.withQmp(id, (qmp) => qmp.execute('quit')).catch(() => undefined); // QEMU may close before it answers
    if (await this.waitForExit(pid, id, 5_000, opts.signal)) return 'quit';
    if (await isInstanceProcess(pid, id)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    if (await this.waitForExit(pid, id, 5_000)) return 'kill';
    throw new DriverError('Fatal', `QEMU process ${pid} of ${id} survived SIGKILL`);
  }

  async waitForExit(pid: number, id: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!(await isInstanceProcess(pid, id))) return true;
      if (Date.now() >= deadline) return false;
      await sleep(50, signal);
    }
  }

  /**
   * Notices a QEMU that is gone without the driver stopping it: records why (`exit.json`) and
   * removes the stale pidfile, socket and runtime record. Returns true when it cleaned anything.
   */
  async reconcile(id: string): Promise<boolean> {
    if ((await this.livePid(id)) !== undefined) return false;
    const p = this.store.paths(id);
    const rt = await this.store.readRuntime(id).catch(() => undefined);
    const pidfileLeft = (await readFile(p.pidfile, 'utf8').catch(() => undefined)) !== undefined;
    // Nothing says a run happened: leave everything alone (a start may be creating the files
    // right now; a stale socket is harmless, QEMU unlinks it before binding).
    if (!rt && !pidfileLeft) return false;
    if (rt && !rt.stopping) {
      // QEMU deletes its pidfile when it exits normally; one left behind means it was killed or crashed.
      const reason = pidfileLeft
        ? `QEMU process ${rt.pid} died without shutting down (killed or crashed)`
        : `QEMU process ${rt.pid} exited on its own (the guest powered off, or QEMU failed)`;
      await this.store.writeExit(id, { at: new Date().toISOString(), reason, consoleTail: await readTail(p.console, 1024) });
    }
    await this.store.clearRun(id);
    return true;
  }

  /** The state alone, for the periodic sync: the process from /proc, then one QMP `query-status`. */
  async observe(id: string): Promise<InstanceObservation> {
    const pid = await this.livePid(id);
    if (pid === undefined) {
      await this.reconcile(id);
      const exit = await this.store.readExit(id).catch(() => undefined);
      return exit ? { id, state: 'stopped', exitReason: exit.reason } : { id, state: 'stopped' };
    }
    try {
      const { status } = await this.withQmp(id, (qmp) => qmp.execute<{ status: string }>('query-status'));
      return { id, state: isRunningStatus(status) ? 'running' : 'suspended' };
    } catch {
      // QMP serves one client at a time; while it is busy, report what the driver last set.
      const rt = await this.store.readRuntime(id).catch(() => undefined);
      return { id, state: rt?.paused ? 'suspended' : 'running' };
    }
  }

  /** The real state: the process from the pidfile, then QMP `query-status`, memory and vCPUs. */
  async describe(id: string, rec: InstanceRecord, nextAccelerator: Accelerator): Promise<InstanceStatus> {
    const paths = this.store.paths(id);
    const resources: Resources = { ...rec.spec.resources, diskGiB: Math.ceil(rec.diskBytes / GiB) };
    const details: Record<string, unknown> = {
      stateDir: paths.dir,
      consoleLog: paths.console,
      qmpSocket: paths.qmp,
      template: rec.spec.template.name,
      boot: readQemuImageRef(rec.spec.template).kernel ? 'kernel' : 'disk',
    };
    const pid = await this.livePid(id);
    if (pid === undefined) {
      await this.reconcile(id);
      details.accelerator = nextAccelerator; // the one the next start uses
      const exit = await this.store.readExit(id).catch(() => undefined);
      if (exit) Object.assign(details, { exitReason: exit.reason, exitedAt: exit.at, consoleTail: exit.consoleTail });
      return { id, state: 'stopped', technology: 'vm', resources, details };
    }
    const rt = await this.store.readRuntime(id).catch(() => undefined);
    const rss = await processRssKiB(pid);
    Object.assign(details, {
      pid,
      accelerator: rt?.accelerator ?? nextAccelerator,
      startedAt: rt?.startedAt,
      ...(rss !== undefined ? { hostRssMiB: Math.round(rss / 1024) } : {}),
    });
    try {
      const live = await this.withQmp(id, async (qmp) => ({
        status: (await qmp.execute<{ status: string }>('query-status')).status,
        cpus: (await qmp.execute<unknown[]>('query-cpus-fast')).length,
        memory: (await qmp.execute<{ 'base-memory': number }>('query-memory-size-summary'))['base-memory'],
      }));
      details.qemuStatus = live.status;
      resources.vcpus = live.cpus;
      resources.memoryMiB = Math.round(live.memory / 1024 / 1024);
      return { id, state: isRunningStatus(live.status) ? 'running' : 'suspended', technology: 'vm', resources, details };
    } catch (e) {
      // QMP serves one client at a time; while it is busy, report what the driver last set.
      details.qmpError = e instanceof Error ? e.message : String(e);
      return { id, state: rt?.paused ? 'suspended' : 'running', technology: 'vm', resources, details };
    }
  }
}
