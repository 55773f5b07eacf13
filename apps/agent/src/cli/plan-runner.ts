import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, win32 } from 'node:path';
import { runCommand } from '@hyperplane/drivers';
import { PlannedCommand, ServicePlan } from './service-plan';

export interface RunPlanOptions {
  /** Print what would happen; change nothing. */
  dryRun?: boolean;
  /** Write the files under this directory instead of `/` (packaging, tests) and run no command. */
  root?: string;
  /** Where the plan's story goes (default stdout). */
  print?(line: string): void;
}

/** A planned path under `root`: `C:\ProgramData\X` becomes `<root>/C/ProgramData/X`. */
export function underRoot(root: string, path: string): string {
  const drive = /^([A-Za-z]):[\\/]/.exec(path);
  const parts = drive ? [drive[1]!, ...path.slice(3).split(/[\\/]+/)] : path.split('/');
  return join(root, ...parts.filter(Boolean));
}

/** An env file as a dry run shows it: tokens and passwords (also inside URLs) masked. */
export function maskSecrets(envFile: string): string {
  return envFile
    .replace(/^([A-Z0-9_]*(TOKEN|SECRET|PASSWORD)[A-Z0-9_]*)=.*$/gm, '$1=…')
    .replace(/^([A-Z0-9_]+=[a-z][a-z0-9+.-]*:\/\/)[^@/\s]*@/gm, '$1…@');
}

const describe = (c: PlannedCommand): string => `${c.argv.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}    # ${c.why}`;

async function runOne(c: PlannedCommand): Promise<void> {
  const [file, ...args] = c.argv;
  const deadline = Date.now() + (c.until?.timeoutS ?? 0) * 1000;
  for (;;) {
    const res = await runCommand(file!, args, { timeoutMs: 120_000, okCodes: c.okCodes ?? [0] }).catch((e: unknown) => {
      throw new Error(`${c.why} failed: ${c.argv.join(' ')}: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!c.until || new RegExp(c.until.pattern).test(`${res.stdout}\n${res.code}`)) return;
    if (Date.now() > deadline) throw new Error(`${c.why}: still not done after ${c.until.timeoutS} s (${res.stdout.trim()})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Carries out a plan: directories, files (with their modes), commands, removals. */
export async function runPlan(plan: ServicePlan, o: RunPlanOptions = {}): Promise<void> {
  const print = o.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const where = (p: string): string => (o.root ? underRoot(o.root, p) : p);
  const posixModes = plan.os !== 'windows' && process.platform !== 'win32';
  if (!o.root && !o.dryRun && !isAbsolute(plan.paths.data) && !win32.isAbsolute(plan.paths.data)) throw new Error('refusing a relative data path');
  const verb = o.dryRun ? 'would ' : '';
  const commands = async (before: boolean): Promise<void> => {
    for (const c of plan.commands.filter((x) => Boolean(x.beforeFiles) === before)) {
      if (o.dryRun || o.root) {
        print(`${o.root && !o.dryRun ? 'skipped (--root) ' : verb}run: ${describe(c)}`);
        continue;
      }
      print(`run: ${describe(c)}`);
      await runOne(c);
    }
  };
  for (const d of plan.dirs) {
    print(`${verb}create directory ${where(d.path)}${d.mode !== undefined && posixModes ? ` (mode ${d.mode.toString(8)})` : ''}`);
    if (o.dryRun) continue;
    // Parents keep the usual mode; only the planned directory gets its own.
    await mkdir(dirname(where(d.path)), { recursive: true });
    await mkdir(where(d.path), { recursive: true, mode: d.mode });
    if (d.mode !== undefined && posixModes) await chmod(where(d.path), d.mode);
  }
  await commands(true);
  for (const f of plan.files) {
    print(`${verb}write ${where(f.path)} (mode ${f.mode.toString(8)}${f.secret ? ', readable only by the service user' : ''})`);
    if (o.dryRun) {
      // A secret's names only: the dry run's output may be pasted into a ticket.
      const body = f.secret ? maskSecrets(f.content) : f.content;
      print(body.trimEnd().replace(/^/gm, '    | '));
      continue;
    }
    const tmp = `${where(f.path)}.${process.pid}.tmp`;
    await mkdir(dirname(where(f.path)), { recursive: true });
    // Created with its final mode, so a secret is never readable by others, even for a moment.
    await writeFile(tmp, f.content, { mode: f.mode });
    if (posixModes) await chmod(tmp, f.mode);
    await rename(tmp, where(f.path));
  }
  await commands(false);
  for (const p of plan.remove) {
    print(`${verb}remove ${where(p)}`);
    if (!o.dryRun) await rm(where(p), { recursive: true, force: true });
  }
}
