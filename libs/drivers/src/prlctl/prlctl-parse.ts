import { DriverError } from '../driver.exception';

// Readers for what prlctl and prlsrvctl print. The tools put warnings and progress text around
// their JSON (Vagrant's GH-204/GH-219), print sizes as strings with units ("512Mb") and keep
// braces around UUIDs in text but not in JSON: every reader here expects all of that.

/** Control characters JSON.parse chokes on, outside of `\n`, `\r` and `\t`. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/**
 * The first complete JSON value (object or array) in `text`, with whatever surrounds it
 * ignored: "WARNING: deprecated …\n[{…}]\nsome trailer". Throws `Fatal` when there is none.
 */
export function extractJson(text: string, what = 'prlctl output'): unknown {
  const clean = text.replace(CONTROL, '');
  for (let start = 0; start < clean.length; start++) {
    const open = clean[start];
    if (open !== '{' && open !== '[') continue;
    const end = matchingClose(clean, start);
    if (end < 0) continue;
    try {
      return JSON.parse(clean.slice(start, end + 1));
    } catch {
      // "[WARNING]" or a brace in a message: look further.
    }
  }
  throw new DriverError('Fatal', `${what} holds no JSON: ${JSON.stringify(text.slice(0, 200))}`);
}

/** Index of the bracket closing the one at `start`, strings respected; -1 when unbalanced. */
function matchingClose(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') stack.push('}');
    else if (c === '[') stack.push(']');
    else if (c === '}' || c === ']') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1 / (1024 * 1024), k: 1 / 1024, kb: 1 / 1024, m: 1, mb: 1, g: 1024, gb: 1024, t: 1024 * 1024, tb: 1024 * 1024 };

/**
 * A size in MiB from what prlctl prints: "512Mb", "2048MB", "4Gb", "1.5 GB", 512 (a bare
 * number is MiB, as `--memsize` takes it). Null when it cannot be read.
 */
export function parseSizeMiB(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : null;
  if (typeof value !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (!m) return null;
  const unit = (m[2] ?? '').toLowerCase().replace(/ib$/, 'b');
  const factor = unit === '' ? 1 : SIZE_UNITS[unit];
  return factor === undefined ? null : Math.round(Number(m[1]) * factor);
}

/** A whole number from a number or a numeric string; null otherwise. */
export function parseCount(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : null;
}

/** A UUID without braces, lower-case: prlctl prints `{…}` in text and bare ids in JSON. */
export function normalizeUuid(value: string): string {
  return value.trim().replace(/^\{/, '').replace(/\}$/, '').toLowerCase();
}

/** "prlctl version 14.0.1 (45154)" → "14.0.1 (45154)". */
export function parseVersion(stdout: string): string | null {
  const m = /version\s+([\d.]+(?:[-.\w]*)?(?:\s+\(\d+\))?)/i.exec(stdout);
  return m?.[1] ?? null;
}

/** The id in "The snapshot with ID {0a1b…} has been successfully created." (Desktop and Virtuozzo). */
export function parseSnapshotCreated(stdout: string): string {
  const m = /snapshot with id\s+\{([0-9a-f-]+)\}/i.exec(stdout) ?? /\{([0-9a-f]{8}-[0-9a-f-]{27,})\}/i.exec(stdout);
  if (!m?.[1]) throw new DriverError('Fatal', `prlctl snapshot printed no snapshot id: ${JSON.stringify(stdout.slice(0, 300))}`);
  return m[1].toLowerCase();
}

export interface SnapshotEntry {
  id: string;
  name: string;
  /** As printed, e.g. "2024-01-02 10:11:12"; empty when the list gives none. */
  date: string;
  parent: string;
  current: boolean;
}

/**
 * Virtuozzo's `snapshot-list` text (no JSON there): a header, then `%38s %c%38s` rows of
 * parent id, `*` for the current one, and id, ids in braces. Names come from `-i <id>`.
 */
export function parseSnapshotListText(stdout: string): Omit<SnapshotEntry, 'name' | 'date'>[] {
  const out: Omit<SnapshotEntry, 'name' | 'date'>[] = [];
  for (const line of stdout.split('\n')) {
    const ids = [...line.matchAll(/\{([0-9a-f-]+)\}/gi)].map((m) => m[1]!.toLowerCase());
    if (ids.length === 0) continue;
    const id = ids[ids.length - 1]!;
    const parent = ids.length > 1 ? ids[0]! : '';
    out.push({ id, parent, current: /\*\s*\{[0-9a-f-]+\}\s*$/i.test(line) });
  }
  return out;
}

/** `snapshot-list <vm> -i <id>`: "ID: {…}\nName: clean\nDate: …\nCurrent: yes\nState: …". */
export function parseSnapshotInfoText(stdout: string): SnapshotEntry | null {
  const field = (name: string): string | undefined => new RegExp(`^\\s*${name}:[ \\t]*(.*)$`, 'mi').exec(stdout)?.[1]?.trim();
  const id = field('ID');
  if (!id) return null;
  return { id: normalizeUuid(id), name: field('Name') ?? '', date: field('Date') ?? '', parent: '', current: field('Current') === 'yes' };
}

/** Desktop's `snapshot-list <vm> --json`: an object keyed by `{snapshot-uuid}`. */
export function parseSnapshotListJson(stdout: string): SnapshotEntry[] {
  const data = extractJson(stdout, 'prlctl snapshot-list');
  if (Array.isArray(data)) return [];
  if (!data || typeof data !== 'object') return [];
  return Object.entries(data as Record<string, unknown>).map(([key, raw]) => {
    const v = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    return {
      id: normalizeUuid(key),
      name: typeof v.name === 'string' ? v.name : '',
      date: typeof v.date === 'string' ? v.date : '',
      parent: typeof v.parent === 'string' && v.parent ? normalizeUuid(v.parent) : '',
      current: v.current === true || v.current === 'yes',
    };
  });
}

/** "2024-01-02 10:11:12" (host local time, as the tool prints it) → ISO; now when unreadable. */
export function snapshotDateIso(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(date.trim());
  if (!m) return new Date().toISOString();
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(d.getTime()) ? new Date().toISOString() : d.toISOString();
}

/** One row of `prlctl list -a -j -o uuid,status,type,name`. */
export interface PrlListEntry {
  uuid: string;
  name: string;
  status: string;
  /** "VM" or "CT"; Desktop prints no type for plain VMs. */
  type: 'VM' | 'CT';
}

/** Rows of `prlctl list --json`; rows without a uuid are dropped. */
export function parseList(stdout: string): PrlListEntry[] {
  const data = extractJson(stdout, 'prlctl list');
  const rows = Array.isArray(data) ? data : [data];
  const out: PrlListEntry[] = [];
  for (const row of rows) {
    if (!row || typeof row !== 'object') continue;
    const r = lowerKeys(row as Record<string, unknown>);
    const uuid = typeof r.uuid === 'string' ? r.uuid : typeof r.id === 'string' ? r.id : undefined;
    if (!uuid) continue;
    out.push({
      uuid: normalizeUuid(uuid),
      name: typeof r.name === 'string' ? r.name : '',
      status: typeof r.status === 'string' ? r.status : typeof r.state === 'string' ? r.state : 'unknown',
      type: typeof r.type === 'string' && r.type.toUpperCase() === 'CT' ? 'CT' : 'VM',
    });
  }
  return out;
}

/** What the driver reads from `prlctl list -i -j <uuid>`. */
export interface PrlVmInfo {
  uuid: string;
  name: string;
  state: string;
  type: 'VM' | 'CT';
  /** Desktop's macOS guests say `APPLE_VZ_VM` / `macvm` here. */
  rawType: string;
  os: string;
  cpus: number | null;
  memoryMiB: number | null;
  home: string;
  template: boolean;
}

/** The first object of `prlctl list -i -j`: keys as the tool prints them ("ID", "State", "Hardware"). */
export function parseInfo(stdout: string): PrlVmInfo {
  const data = extractJson(stdout, 'prlctl list --info');
  const first: unknown = Array.isArray(data) ? data[0] : data;
  if (!first || typeof first !== 'object') throw new DriverError('Fatal', 'prlctl list --info printed no VM');
  const r = lowerKeys(first as Record<string, unknown>);
  const hw = lowerKeys(asObject(r.hardware));
  const cpu = lowerKeys(asObject(hw.cpu));
  const memory = lowerKeys(asObject(hw.memory));
  const id = typeof r.id === 'string' ? r.id : typeof r.uuid === 'string' ? r.uuid : '';
  const rawType = typeof r.type === 'string' ? r.type : '';
  return {
    uuid: normalizeUuid(id),
    name: typeof r.name === 'string' ? r.name : '',
    state: typeof r.state === 'string' ? r.state : 'unknown',
    type: rawType.toUpperCase() === 'CT' ? 'CT' : 'VM',
    rawType,
    os: typeof r.os === 'string' ? r.os : '',
    cpus: parseCount(cpu.cpus),
    memoryMiB: parseSizeMiB(memory.size),
    home: typeof r.home === 'string' ? r.home : '',
    template: r.template === 'yes' || r.template === true,
  };
}

export interface PrlServerInfo {
  /** "Desktop 19.1.0-54729" or "Server 7.0.13-…" (Virtuozzo prints "Server"). */
  version: string;
  os: string;
  hostname: string;
}

export function parseServerInfo(stdout: string): PrlServerInfo {
  const r = lowerKeys(asObject(extractJson(stdout, 'prlsrvctl info')));
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return { version: str(r.version), os: str(r.os), hostname: str(r.hostname) };
}

/** `prlsrvctl info --license --json` → the edition, lower-case ("pro", "business", "standard"…). */
export function parseLicenseEdition(stdout: string): string | null {
  const r = lowerKeys(asObject(extractJson(stdout, 'prlsrvctl info --license')));
  const edition = r.edition ?? lowerKeys(asObject(r.license)).edition;
  return typeof edition === 'string' && edition.trim() ? edition.trim().toLowerCase() : null;
}

export interface CtTemplate {
  name: string;
  type: string;
  arch: string;
  cached: boolean;
}

/** `prlsrvctl cttemplate list -j`: OS and application templates with their arch. */
export function parseCtTemplates(stdout: string): CtTemplate[] {
  const data = extractJson(stdout, 'prlsrvctl cttemplate list');
  const rows = Array.isArray(data) ? data : [];
  return rows
    .filter((row): row is Record<string, unknown> => !!row && typeof row === 'object')
    .map((row) => lowerKeys(row))
    .filter((r) => typeof r.name === 'string')
    .map((r) => ({
      name: String(r.name).replace(/~$/, '').trim(),
      type: typeof r.type === 'string' ? r.type.trim() : '',
      arch: typeof r.arch === 'string' ? r.arch.trim() : '',
      cached: r.cached === 'yes' || r.cached === true,
    }));
}

function asObject(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function lowerKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]));
}
