import { Technology, TECHNOLOGIES } from '@hyperplane/domain';
import { DEFAULT_POLICY } from './placement-policy';
import { AllocationRatios, PlacementPolicy, Strategy } from './placement.types';

/** What a project may change of the global policy. */
export interface PolicyOverride {
  strategy?: Strategy;
  ratios?: Partial<Record<Technology, Partial<AllocationRatios>>>;
  maxInstancesPerHost?: number;
}

const RATIO_KEYS = ['vcpus', 'memoryMiB', 'diskGiB'] as const;

/** "vcpus=4,memoryMiB=1,diskGiB=1" → ratios; missing keys keep `base`'s. */
export function parseRatios(text: string, base: AllocationRatios): AllocationRatios {
  const out = { ...base };
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(vcpus|memoryMiB|diskGiB)=(\d+(\.\d+)?)$/.exec(part);
    if (!m || Number(m[2]) <= 0) throw new Error(`bad allocation ratio "${part}" (e.g. vcpus=4,memoryMiB=1.5)`);
    out[m[1] as keyof AllocationRatios] = Number(m[2]);
  }
  return out;
}

/** The global policy from settings (environment), on top of DEFAULT_POLICY. */
export function policyFromSettings(s: {
  HYPERPLANE_PLACEMENT_STRATEGY: Strategy;
  HYPERPLANE_RATIOS_VM: string;
  HYPERPLANE_RATIOS_CONTAINER: string;
  HYPERPLANE_MAX_INSTANCES_PER_HOST: number;
  HYPERPLANE_PLACEMENT_SAMPLE_SIZE?: number;
}): PlacementPolicy {
  return {
    ...DEFAULT_POLICY,
    strategy: s.HYPERPLANE_PLACEMENT_STRATEGY,
    ratios: {
      vm: parseRatios(s.HYPERPLANE_RATIOS_VM, DEFAULT_POLICY.ratios.vm),
      container: parseRatios(s.HYPERPLANE_RATIOS_CONTAINER, DEFAULT_POLICY.ratios.container),
    },
    maxInstancesPerHost: s.HYPERPLANE_MAX_INSTANCES_PER_HOST,
    ...(s.HYPERPLANE_PLACEMENT_SAMPLE_SIZE ? { sampleSize: s.HYPERPLANE_PLACEMENT_SAMPLE_SIZE } : {}),
  };
}

/** A project's policy: the global one with the project's overrides applied. */
export function mergePolicy(base: PlacementPolicy, override: PolicyOverride | null | undefined): PlacementPolicy {
  if (!override) return base;
  const ratios = { ...base.ratios };
  for (const t of TECHNOLOGIES) {
    const r = override.ratios?.[t];
    if (r) ratios[t] = { ...base.ratios[t], ...Object.fromEntries(RATIO_KEYS.filter((k) => r[k] !== undefined).map((k) => [k, r[k]])) };
  }
  return {
    ...base,
    strategy: override.strategy ?? base.strategy,
    ratios,
    maxInstancesPerHost: override.maxInstancesPerHost ?? base.maxInstancesPerHost,
  };
}

/** A stable key for a policy, so equal policies share one scheduler. */
export function policyKey(policy: PlacementPolicy): string {
  return JSON.stringify([policy.strategy, policy.ratios.vm, policy.ratios.container, policy.reserved, policy.maxInstancesPerHost, policy.sampleSize ?? 0]);
}
