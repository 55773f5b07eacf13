import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../../src/exec/run-command';

/** The directory holding the fake `prlctl` and `prlsrvctl`. */
export const FAKE_PRL_DIR = __dirname;
export const FAKE_PRLCTL = join(__dirname, 'prlctl');

export type FakeFlavour = 'virtuozzo' | 'desktop';

export interface FakeVm {
  uuid: string;
  name: string;
  type: string;
  os: string;
  state: string;
  template: boolean;
  cpus: number;
  memsize: number;
  linkedTo?: string;
  hangOnShutdown?: boolean;
  snapshots: { id: string; name: string; parent: string; current: boolean }[];
}

export interface FakeFaults {
  /** The next n calls exit 253 (dispatcher unreachable). */
  unreachable?: number;
  /** Per action, the next n calls fail with "Data synchronization is currently in progress". */
  dataSync?: Record<string, number>;
  /** UUIDs of frozen VMs: any action on them exits 254. */
  frozen?: string[];
}

export interface FakeState {
  vms: Record<string, FakeVm>;
  osTemplates: { name: string; type: string; arch: string; cached: string }[];
  faults: FakeFaults;
}

/** One fake Parallels host: its state directory and the environment that points the fake at it. */
export class FakePrlHost {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly flavour: FakeFlavour, extra: Record<string, string> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), `hp-fake-prl-${flavour}-`));
    this.env = {
      ...process.env,
      PATH: `${FAKE_PRL_DIR}:${process.env.PATH ?? ''}`,
      FAKE_PRL_STATE: this.dir,
      FAKE_PRL_FLAVOUR: flavour,
      ...extra,
    };
  }

  /** The state as the fake left it (creating its default first). */
  async state(): Promise<FakeState> {
    if (!existsSync(join(this.dir, 'state.json'))) await runCommand(FAKE_PRLCTL, ['list', '--all', '--json'], { env: this.env });
    return JSON.parse(readFileSync(join(this.dir, 'state.json'), 'utf8')) as FakeState;
  }

  /** Changes the state between calls (faults, a guest that hangs on shutdown). */
  async update(change: (state: FakeState) => void): Promise<void> {
    const state = await this.state();
    change(state);
    const file = join(this.dir, 'state.json');
    writeFileSync(`${file}.t`, JSON.stringify(state));
    renameSync(`${file}.t`, file);
  }

  /** Every call the fake received, as argv with the tool first. */
  calls(): string[][] {
    const file = join(this.dir, 'calls.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
