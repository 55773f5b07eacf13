/** The project placement policy form: every field a string as typed, '' meaning "the global value". */
export interface PolicyForm {
  strategy: string;
  maxInstancesPerHost: string;
  ratios: Record<PolicyTechnology, Record<PolicyResource, string>>;
}

export const POLICY_TECHNOLOGIES = ['container', 'vm'] as const;
export type PolicyTechnology = (typeof POLICY_TECHNOLOGIES)[number];
export const POLICY_RESOURCES = ['vcpus', 'memoryMiB', 'diskGiB'] as const;
export type PolicyResource = (typeof POLICY_RESOURCES)[number];

function text(v: unknown): string {
  return typeof v === 'number' || typeof v === 'string' ? String(v) : '';
}

/** The form for a project's overrides (as GET /v1/projects/{name}/policy answers them). */
export function formFromOverrides(overrides: Record<string, unknown> | null | undefined): PolicyForm {
  const o = overrides ?? {};
  const ratios = (o.ratios ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const form: PolicyForm = { strategy: text(o.strategy), maxInstancesPerHost: text(o.maxInstancesPerHost), ratios: { container: { vcpus: '', memoryMiB: '', diskGiB: '' }, vm: { vcpus: '', memoryMiB: '', diskGiB: '' } } };
  for (const t of POLICY_TECHNOLOGIES) for (const r of POLICY_RESOURCES) form.ratios[t][r] = text(ratios[t]?.[r]);
  return form;
}

/**
 * The overrides to PUT: empty fields left out (the global value applies). A number that does
 * not parse is sent as typed, so that the API's 400 names the field and the form shows it there.
 */
export function overridesFromForm(form: PolicyForm): Record<string, unknown> {
  const num = (s: string): number | string => {
    const n = Number(s.trim());
    return s.trim() !== '' && Number.isFinite(n) ? n : s;
  };
  const out: Record<string, unknown> = {};
  if (form.strategy) out.strategy = form.strategy;
  if (form.maxInstancesPerHost.trim()) out.maxInstancesPerHost = num(form.maxInstancesPerHost);
  const ratios: Record<string, Record<string, number | string>> = {};
  for (const t of POLICY_TECHNOLOGIES) {
    for (const r of POLICY_RESOURCES) {
      const v = form.ratios[t][r];
      if (v.trim()) (ratios[t] ??= {})[r] = num(v);
    }
  }
  if (Object.keys(ratios).length) out.ratios = ratios;
  return out;
}
