/** 512 → "512 MiB", 3072 → "3 GiB", 1536 → "1.5 GiB". */
export function formatMiB(mib: number): string {
  if (!Number.isFinite(mib)) return '—';
  if (Math.abs(mib) >= 1024 * 1024) return `${trim(mib / 1024 / 1024)} TiB`;
  if (Math.abs(mib) >= 1024) return `${trim(mib / 1024)} GiB`;
  return `${Math.round(mib)} MiB`;
}

/**
 * vCPUs as the API gives them (decimals, whole milli-vCPUs): 0.25 → "0.25 vCPU", 1 → "1 vCPU",
 * 2 → "2 vCPUs", 31.75 → "31.75 vCPUs", 1/3 → "0.333 vCPU" (never a float's tail).
 */
export function formatVcpus(vcpus: number): string {
  if (!Number.isFinite(vcpus)) return '—';
  const text = String(Math.round(vcpus * 1000) / 1000);
  return `${text} ${Math.abs(vcpus) > 1 ? 'vCPUs' : 'vCPU'}`;
}

export function formatGiB(gib: number): string {
  if (Math.abs(gib) >= 1024) return `${trim(gib / 1024)} TiB`;
  return `${Math.round(gib)} GiB`;
}

function trim(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, '');
}

/** Share of used in total, 0–100, never NaN. */
export function percent(used: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.max(0, Math.min(100, Math.round((used / total) * 100)));
}

/** "just now", "42 s", "5 min", "3 h", "2 d" — how long ago `iso` was, at `now`. */
export function age(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** "5 min ago", or "just now". */
export function ago(iso: string | null | undefined, now: number = Date.now()): string {
  const a = age(iso, now);
  return a === 'just now' || a === '—' ? a : `${a} ago`;
}

/** How long an operation took (or has taken so far). */
export function duration(startIso: string | null, endIso: string | null, now: number = Date.now()): string {
  if (!startIso) return '—';
  const ms = (endIso ? Date.parse(endIso) : now) - Date.parse(startIso);
  if (ms < 1000) return `${Math.max(0, ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function technologyLabel(t: string | null | undefined): string {
  if (t === 'vm') return 'VM';
  if (t === 'container') return 'Container';
  if (t === 'auto') return 'Auto';
  return t ?? '—';
}

export function osLabel(os: string | null | undefined): string {
  switch (os) {
    case 'linux':
      return 'Linux';
    case 'windows':
      return 'Windows';
    case 'macos':
      return 'macOS';
    case null:
    case undefined:
      return '—';
    default:
      return os;
  }
}

/** A state's colour family, for badges. */
export function stateTone(state: string): 'ok' | 'busy' | 'idle' | 'bad' {
  switch (state) {
    case 'running':
    case 'ready':
    case 'succeeded':
      return 'ok';
    case 'pending':
    case 'creating':
    case 'starting':
    case 'stopping':
    case 'deleting':
    case 'queued':
    case 'enrolling':
    case 'restarting':
    case 'suspending':
    case 'resuming':
    case 'migrating':
    case 'draining':
      return 'busy';
    case 'failed':
    case 'error':
    case 'unschedulable':
    case 'refused':
    case 'down':
      return 'bad';
    default:
      return 'idle';
  }
}

/** Sums counts of rows by one key, in descending order. */
export function tally<T>(rows: readonly T[], key: (r: T) => string, count: (r: T) => number = () => 1): [string, number][] {
  const m = new Map<string, number>();
  for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + count(r));
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
