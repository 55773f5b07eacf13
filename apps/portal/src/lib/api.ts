import type { Page } from './types';

const TOKEN_KEY = 'hyperplane.token';

// The token lives in sessionStorage only: it ends with the browser tab, and is never in a URL.
export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An application/problem+json answer; `fields` maps a field name to what is wrong with it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly fields: Record<string, string>,
    readonly body: unknown,
  ) {
    super(detail || title || `HTTP ${status}`);
  }
}

/** The fields a problem names, from its `errors` ([{ field, message }] or { field: [msg] }) or its detail. */
export function problemFields(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!body || typeof body !== 'object') return out;
  const b = body as Record<string, unknown>;
  const errors = b.errors ?? b.invalidParams ?? b.fields;
  if (Array.isArray(errors)) {
    for (const e of errors as Record<string, unknown>[]) {
      const name = str(e.field ?? e.name ?? e.property);
      const msg = str(e.message ?? e.reason);
      if (name) out[name] = out[name] ? `${out[name]}; ${msg}` : msg;
    }
  } else if (errors && typeof errors === 'object') {
    for (const [k, v] of Object.entries(errors as Record<string, unknown>)) out[k] = Array.isArray(v) ? v.join('; ') : String(v);
  }
  if (typeof b.field === 'string' && !out[b.field]) out[b.field] = str(b.detail ?? b.title);
  return out;
}

/** A string field of a problem, or '' (never "[object Object]"). */
function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

export type Unauthorized = () => void;
let onUnauthorized: Unauthorized = () => undefined;
export function setUnauthorizedHandler(fn: Unauthorized): void {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown, token: string | null = getToken()): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    if (res.status === 401 && token) onUnauthorized();
    const p = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
    throw new ApiError(res.status, str(p.title) || res.statusText, str(p.detail), problemFields(parsed), parsed);
  }
  return parsed as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown): Promise<T> => api<T>('POST', path, body ?? {});
export const put = <T>(path: string, body?: unknown): Promise<T> => api<T>('PUT', path, body ?? {});
export const del = <T>(path: string): Promise<T> => api<T>('DELETE', path);

/** Every page of a cursor-paged list, calling `onPage` as each arrives (a big fleet renders early). */
export async function getAll<T>(path: string, onPage?: (soFar: T[]) => void, limit = 500): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page: Page<T> = await get<Page<T>>(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    all.push(...page.items);
    cursor = page.nextCursor;
    if (cursor) onPage?.(all.slice());
  } while (cursor);
  return all;
}
