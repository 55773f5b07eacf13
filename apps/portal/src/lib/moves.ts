import type { Operation } from './types';

/** Where a migrate operation moves its instance from and to, and how, as far as it is known yet. */
export interface Move {
  from: string | null;
  to: string | null;
  /** The hosts' names as the operation recorded them (a host removed since keeps its name here). */
  fromName: string | null;
  toName: string | null;
  mode: 'live' | 'offline' | null;
}

function id(v: unknown): string | null {
  return typeof v === 'string' && v ? v : null;
}

/**
 * Reads a migrate operation's hosts: the DTO's `fromHostId`/`toHostId` (and `fromHostName`/
 * `toHostName`) where the API sends them, else the result's `from`/`to` (set when it
 * succeeded). The mode: `live` (boolean) or `mode` on the DTO, else the result's `mode`.
 * Anything missing is null.
 */
export function moveOf(o: Operation): Move {
  const r = o.result ?? {};
  const mode = typeof o.live === 'boolean' ? (o.live ? 'live' : 'offline') : (o.mode ?? r.mode);
  return {
    from: id(o.fromHostId) ?? id(r.from),
    to: id(o.toHostId) ?? id(r.to),
    fromName: id(o.fromHostName),
    toName: id(o.toHostName),
    mode: mode === 'live' || mode === 'offline' ? mode : null,
  };
}

/** "moved from A to B" in words, with host names where known (else an id's first 8 characters). */
export function moveText(m: Move, name: (hostId: string) => string | undefined, done: boolean): string {
  const n = (h: string | null, recorded: string | null): string => (h ? (name(h) ?? recorded ?? h.slice(0, 8)) : 'a host the scheduler picks');
  const how = m.mode ? ` (${m.mode})` : '';
  return `${done ? 'moved' : 'moving'} from ${n(m.from, m.fromName)} to ${n(m.to, m.toName)}${how}`;
}

/** A drain's deadline as the dialog sets it: none, in N minutes, or at a local date and time. */
export type DeadlineChoice = { kind: 'none' } | { kind: 'in'; minutes: string } | { kind: 'at'; local: string };

/**
 * The body of POST /v1/hosts/{id}/actions/drain. "In N minutes" goes as `deadlineS` (the
 * server's clock counts), "at" as an ISO `deadline` from the browser's local time. A value that
 * does not parse is sent as typed, so that the API's 400 names the field and the dialog shows it.
 */
export function drainBody(reason: string, d: DeadlineChoice): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (reason.trim()) body.reason = reason.trim();
  if (d.kind === 'in') {
    const n = Number(d.minutes.trim());
    body.deadlineS = d.minutes.trim() !== '' && Number.isFinite(n) ? Math.round(n * 60) : d.minutes;
  } else if (d.kind === 'at') {
    const t = new Date(d.local);
    body.deadline = d.local && !Number.isNaN(t.getTime()) ? t.toISOString() : d.local;
  }
  return body;
}

/** How far a deadline is: "in 12 min", "in 1 h 05 min", "in 40 s", or "passed 3 min ago". */
export function untilText(iso: string, now: number = Date.now()): string {
  const ms = new Date(iso).getTime() - now;
  if (Number.isNaN(ms)) return '';
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86_400 ? `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min` : `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
  return ms >= 0 ? `in ${text}` : `passed ${text} ago`;
}

/** An <input type="datetime-local"> value for a moment (local time, minutes). */
export function localInputValue(t: number): string {
  const d = new Date(t);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
