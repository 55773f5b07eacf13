import type { Instance } from './types';

/** The instances table's filters, as they appear in the URL (?state=running&q=web). */
export interface InstanceFilter {
  q: string;
  state: string;
  technology: string;
  os: string;
  host: string;
  project: string;
  template: string;
}

export const FILTER_KEYS = ['q', 'state', 'technology', 'os', 'host', 'project', 'template'] as const;

export function filterFromSearch(search: string): InstanceFilter {
  const p = new URLSearchParams(search);
  const f = {} as InstanceFilter;
  for (const k of FILTER_KEYS) f[k] = p.get(k) ?? '';
  return f;
}

export function searchFromFilter(f: Partial<InstanceFilter>): string {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k]) p.set(k, f[k]);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface FilterContext {
  /** host id → its OS and name */
  hosts: ReadonlyMap<string, { os: string; name: string }>;
  /** project id → name */
  projects: ReadonlyMap<string, string>;
  /** template name → its OS family */
  templateOs: ReadonlyMap<string, string>;
}

/** The rows that pass every filter; the search matches name, id, template, host and project. */
export function applyFilter(rows: readonly Instance[], f: InstanceFilter, ctx: FilterContext): Instance[] {
  const q = f.q.trim().toLowerCase();
  return rows.filter((i) => {
    if (f.state && i.state !== f.state) return false;
    if (f.technology && (i.technology ?? i.requestedTechnology) !== f.technology) return false;
    if (f.template && i.template !== f.template) return false;
    if (f.host && i.hostId !== f.host && ctx.hosts.get(i.hostId ?? '')?.name !== f.host) return false;
    if (f.project && i.projectId !== f.project && ctx.projects.get(i.projectId) !== f.project) return false;
    if (f.os) {
      const os = (i.hostId ? ctx.hosts.get(i.hostId)?.os : undefined) ?? ctx.templateOs.get(i.template);
      if (os !== f.os) return false;
    }
    if (q) {
      const hay = `${i.name} ${i.id} ${i.template} ${ctx.hosts.get(i.hostId ?? '')?.name ?? ''} ${ctx.projects.get(i.projectId) ?? ''}`.toLowerCase();
      if (!hay.includes(q)) return false;
    }
    return true;
  });
}
