import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../../src/exec/run-command';

/** The directory holding the fake `docker`. */
export const FAKE_DOCKER_DIR = __dirname;
export const FAKE_DOCKER = join(__dirname, 'docker');

export interface FakeContainer {
  id: string;
  name: string;
  image: string;
  cmd: string[];
  isolation: 'process' | 'hyperv';
  nanoCpus: number;
  memory: number;
  labels: Record<string, string>;
  status: string;
}

export interface FakeDockerState {
  host: { build: number; hyperv: boolean; serverVersion: string };
  images: Record<string, { id: string; osVersion: string }>;
  registry: Record<string, { id: string; osVersion: string }>;
  containers: Record<string, FakeContainer>;
  faults: { unreachable?: number; mismatch?: string[]; hangStop?: string[] };
}

export interface FakeDockerHostOptions {
  build?: number;
  hyperv?: boolean;
  /** Local images, ref → build. */
  images?: Record<string, number>;
  /** What a pull finds, ref → build. */
  registry?: Record<string, number>;
}

export const LTSC = {
  2019: 'mcr.microsoft.com/windows/servercore:ltsc2019',
  2022: 'mcr.microsoft.com/windows/servercore:ltsc2022',
  2025: 'mcr.microsoft.com/windows/servercore:ltsc2025',
} as const;

const list = (images: Record<string, number>): string =>
  Object.entries(images)
    .map(([ref, build]) => `${ref}=${build}`)
    .join(',');

/** One fake Windows Docker host: its state directory and the environment that points the fake at it. */
export class FakeDockerHost {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(opts: FakeDockerHostOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'hp-fake-docker-'));
    this.env = {
      ...process.env,
      PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH ?? ''}`,
      FAKE_DOCKER_STATE: this.dir,
      FAKE_DOCKER_BUILD: String(opts.build ?? 20348),
      FAKE_DOCKER_HYPERV: opts.hyperv ? '1' : '0',
      FAKE_DOCKER_IMAGES: list(opts.images ?? { [LTSC[2022]]: 20348 }),
      FAKE_DOCKER_REGISTRY: list(opts.registry ?? {}),
    };
  }

  /** The state as the fake left it (creating its default first). */
  async state(): Promise<FakeDockerState> {
    if (!existsSync(join(this.dir, 'state.json'))) await runCommand(FAKE_DOCKER, ['ps', '--all', '--format', '{{json .}}'], { env: this.env });
    return JSON.parse(readFileSync(join(this.dir, 'state.json'), 'utf8')) as FakeDockerState;
  }

  async update(change: (state: FakeDockerState) => void): Promise<void> {
    const state = await this.state();
    change(state);
    const file = join(this.dir, 'state.json');
    writeFileSync(`${file}.t`, JSON.stringify(state));
    renameSync(`${file}.t`, file);
  }

  async container(name: string): Promise<FakeContainer | undefined> {
    return Object.values((await this.state()).containers).find((c) => c.name === name);
  }

  /** Every call the fake received, as argv with `docker` first. */
  calls(): string[][] {
    const file = join(this.dir, 'calls.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
