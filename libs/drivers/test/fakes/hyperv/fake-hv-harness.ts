import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { runCommand } from '../../../src/exec/run-command';
import { HYPERV_SCRIPT_DIR, POWERSHELL_PREFIX } from '../../../src/hyperv/hyperv-shell';

/** The directory holding the fake `powershell`. */
export const FAKE_HV_DIR = __dirname;
export const FAKE_POWERSHELL = join(__dirname, 'powershell');

export interface FakeHvVm {
  id: string;
  name: string;
  state: string;
  generation: number;
  processorCount: number;
  memoryStartupBytes: number;
  path: string;
  config: string;
  disks: string[];
  hangOnShutdown?: boolean;
  /** States shown on the next reads before the VM's own, one per read. */
  passing?: string[];
  checkpoints: { id: string; name: string; createdAt: string }[];
}

export interface FakeHvState {
  host: { build: number; osVersion: string; hostVersion: string; moduleAvailable: boolean; hypervisorPresent: boolean; vmmsRunning: boolean };
  vms: Record<string, FakeHvVm>;
  faults: { vmmsDown?: number; invalidState?: Record<string, number> };
}

/**
 * One fake Hyper-V host: the fake's state directory, a template directory holding base disks
 * (real files), and the environment that puts the fake `powershell` first on the PATH.
 */
export class FakeHvHost {
  readonly dir: string;
  readonly templateDir: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(baseDisks: string[] = ['windows-server-2022', 'debian-12'], extra: Record<string, string> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'hp-fake-hv-'));
    this.templateDir = join(this.dir, 'templates');
    mkdirSync(this.templateDir);
    for (const name of baseDisks) writeFileSync(join(this.templateDir, `${name}.vhdx`), 'base disk');
    this.env = { ...process.env, PATH: `${FAKE_HV_DIR}${delimiter}${process.env.PATH ?? ''}`, FAKE_HV_STATE: join(this.dir, 'fake'), ...extra };
  }

  async state(): Promise<FakeHvState> {
    const file = join(this.dir, 'fake', 'state.json');
    if (!existsSync(file)) {
      await runCommand(FAKE_POWERSHELL, [...POWERSHELL_PREFIX, join(HYPERV_SCRIPT_DIR, 'list.ps1'), '-NamePrefix', 'x'], { env: this.env });
    }
    return JSON.parse(readFileSync(file, 'utf8')) as FakeHvState;
  }

  async update(change: (state: FakeHvState) => void): Promise<void> {
    const state = await this.state();
    change(state);
    const file = join(this.dir, 'fake', 'state.json');
    writeFileSync(`${file}.t`, JSON.stringify(state));
    renameSync(`${file}.t`, file);
  }

  private lines(name: string): string[][] {
    const file = join(this.dir, 'fake', name);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  }

  /** Every command line the fake received. */
  calls(): string[][] {
    return this.lines('calls.log');
  }

  /** Every Hyper-V cmdlet the fake emulated, with its main arguments. */
  cmdlets(): string[][] {
    return this.lines('cmdlets.log');
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
