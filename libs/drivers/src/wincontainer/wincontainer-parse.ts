import { WindowsIsolation, windowsBuildNumber } from '@hyperplane/domain';
import { ActualState } from '../driver';
import { DriverError } from '../driver.exception';

// Readers for what the Docker CLI prints. Every field is read defensively: absent, null or of
// another type means "unknown", never a crash; versions of the engine differ in what they add.

function parseJson(text: string, what: string): unknown {
  const start = text.search(/[[{]/);
  if (start < 0) throw new DriverError('Fatal', `${what} holds no JSON: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text.slice(start));
  } catch {
    throw new DriverError('Fatal', `${what} is not JSON: ${text.slice(0, 200)}`);
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export interface DockerInfo {
  osType: string;
  /** The host's Windows build (from OSVersion, else KernelVersion), or null. */
  build: number | null;
  serverVersion: string;
  operatingSystem: string;
  defaultIsolation: string;
}

/** `docker info --format '{{json .}}'`. */
export function parseDockerInfo(text: string): DockerInfo {
  const o = obj(parseJson(text, 'docker info'));
  return {
    osType: str(o.OSType).toLowerCase(),
    build: windowsBuildNumber(str(o.OSVersion)) ?? windowsBuildNumber(str(o.KernelVersion)),
    serverVersion: str(o.ServerVersion) || 'unknown',
    operatingSystem: str(o.OperatingSystem),
    defaultIsolation: str(o.Isolation),
  };
}

export interface DockerImage {
  id: string;
  os: string;
  /** The Windows build the image was made from (OsVersion 10.0.20348.2113), or null. */
  build: number | null;
}

/** `docker image inspect <ref>`: an array of one. */
export function parseImageInspect(text: string): DockerImage | null {
  const list = parseJson(text, 'docker image inspect');
  const first = Array.isArray(list) ? obj(list[0]) : {};
  if (!str(first.Id)) return null;
  return { id: str(first.Id), os: str(first.Os).toLowerCase(), build: windowsBuildNumber(str(first.OsVersion)) };
}

export interface DockerContainer {
  id: string;
  name: string;
  status: string;
  isolation: WindowsIsolation | null;
  cpus: number | null;
  memoryMiB: number | null;
  image: string;
  labels: Record<string, string>;
  exitCode: number | null;
}

/** `docker container inspect <name>`: an array of one. */
export function parseContainerInspect(text: string): DockerContainer {
  const list = parseJson(text, 'docker container inspect');
  const c = Array.isArray(list) ? obj(list[0]) : {};
  const state = obj(c.State);
  const host = obj(c.HostConfig);
  const config = obj(c.Config);
  const isolation = str(host.Isolation).toLowerCase();
  const nano = num(host.NanoCpus);
  const memory = num(host.Memory);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(config.Labels))) if (typeof v === 'string') labels[k] = v;
  return {
    id: str(c.Id),
    name: str(c.Name).replace(/^\//, ''),
    status: str(state.Status).toLowerCase() || 'unknown',
    isolation: isolation === 'process' || isolation === 'hyperv' ? isolation : null,
    cpus: nano && nano > 0 ? nano / 1e9 : null,
    memoryMiB: memory && memory > 0 ? Math.round(memory / (1024 * 1024)) : null,
    image: str(config.Image),
    labels,
    exitCode: num(state.ExitCode),
  };
}

export interface DockerPsRow {
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
}

/** `docker ps --format '{{json .}}'`: one JSON object a line; lines that are not are skipped. */
export function parsePs(text: string): DockerPsRow[] {
  const rows: DockerPsRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    let o: Record<string, unknown>;
    try {
      o = obj(JSON.parse(trimmed));
    } catch {
      continue;
    }
    const labels: Record<string, string> = {};
    for (const pair of str(o.Labels).split(',')) {
      const eq = pair.indexOf('=');
      if (eq > 0) labels[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    rows.push({ id: str(o.ID), name: str(o.Names).split(',')[0] ?? '', state: str(o.State).toLowerCase(), labels });
  }
  return rows;
}

/** A Docker container state as the contract's, and whether it is on its way somewhere. */
export function dockerState(status: string): { state: ActualState; transitional: boolean } {
  switch (status) {
    case 'running':
      return { state: 'running', transitional: false };
    case 'restarting':
      return { state: 'running', transitional: true };
    case 'paused':
      return { state: 'suspended', transitional: false };
    case 'removing':
      return { state: 'stopped', transitional: true };
    case 'created':
    case 'exited':
    case 'dead':
      return { state: 'stopped', transitional: false };
    default:
      return { state: 'stopped', transitional: true };
  }
}
