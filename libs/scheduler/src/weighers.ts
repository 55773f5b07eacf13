import { HostState } from './host-state';
import { PlacementGroupSpec, PlacementPolicy, PlacementRequest, Strategy } from './placement.types';

/**
 * How much each weigher counts. A host's score is the weighted mean of the weighers that apply
 * to the request, each in [0, 1], so the score is in [0, 1] too; higher is better. A host with
 * recent create failures loses one per failure (like Nova's build-failure weigher): it ranks
 * below every host without, and is still used when nothing else fits.
 */
export const WEIGHTS = Object.freeze({ strategy: 1, group: 1, preferredLabels: 0.5, locality: 0.25 });

/** What the weighers read from a request, prepared once per decision. */
export interface WeighContext {
  strategy: Strategy;
  /** Only a soft group is weighed; a hard one is a filter. */
  softGroup: PlacementGroupSpec | null;
  preferredLabels: readonly (readonly [string, string])[];
  templateName: string;
  totalWeight: number;
}

export function weighContext(request: PlacementRequest, policy: PlacementPolicy): WeighContext {
  const softGroup = request.group && !request.group.strict ? request.group : null;
  const preferredLabels = Object.entries(request.preferredLabels ?? {});
  return {
    strategy: request.strategy ?? policy.strategy,
    softGroup,
    preferredLabels,
    templateName: request.template.name,
    totalWeight:
      WEIGHTS.strategy +
      WEIGHTS.locality +
      (softGroup ? WEIGHTS.group : 0) +
      (preferredLabels.length > 0 ? WEIGHTS.preferredLabels : 0),
  };
}

/*
 * The weighers, each in [0, 1]; evaluateDynamic applies them inline in its hot loop:
 * - binpack: how full the host is after placement, by its most constrained resource (prefer full);
 *   spread: one minus that (prefer empty).
 * - locality: 1 when the template is already cached on the host.
 * - soft affinity / anti-affinity: softGroupScore.
 * - preferred labels: labelScore.
 */

/** Soft affinity: 1 on a host with a member of the group, else 0. Soft anti-affinity: 1/(1+members). */
export function softGroupScore(group: PlacementGroupSpec, members: number): number {
  return group.policy === 'affinity' ? (members > 0 ? 1 : 0) : 1 / (1 + members);
}

/** The share of the preferred labels the host has. */
export function labelScore(host: HostState, preferred: readonly (readonly [string, string])[]): number {
  const labels = host.snapshot.labels;
  let matched = 0;
  for (const [key, value] of preferred) {
    if (Object.hasOwn(labels, key) && labels[key] === value) matched++;
  }
  return matched / preferred.length;
}
