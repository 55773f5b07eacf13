import { explanationForProject } from '@hyperplane/scheduler';

/**
 * What a project's token may see of the scheduler's reasons. Project tokens do not see hosts,
 * so they get why a request does not fit, never the rest of the fleet: no other host's name,
 * no counts of hosts (see explanationForProject). Fleet-wide tokens see everything.
 */

/** Where a stored text holds no structured explanation to rebuild the reasons from. */
export const NO_HOST_FITS = "no host fits now (the instance's placementExplanation says why)";

// The controller says where an operation runs in its step ("provisioning on sim-linux-04").
const STEP_ON_HOST = /^(\w+) on \S+$/;
// What a driver's details may name of its host (the simulator reports its host key).
const HOST_DETAILS = new Set(['host', 'hostName', 'hostname']);

/** An operation's step as a project's token sees it: what it does, not on which host. */
export function stepForProject(step: string): string {
  return step.replace(STEP_ON_HOST, '$1');
}

/** An operation's error and result as a project's token sees them. */
export function operationForProject(
  error: { code: string; message: string } | null,
  result: Record<string, unknown> | null,
): { error: { code: string; message: string } | null; result: Record<string, unknown> | null } {
  const explanation = result?.explanation as Record<string, unknown> | undefined;
  const forProject = explanation ? explanationForProject(explanation, null) : null;
  let shown = forProject ? { ...result, explanation: forProject } : result;
  const details = shown?.details;
  if (details && typeof details === 'object' && !Array.isArray(details) && Object.keys(details).some((k) => HOST_DETAILS.has(k))) {
    shown = { ...shown, details: Object.fromEntries(Object.entries(details).filter(([k]) => !HOST_DETAILS.has(k))) };
  }
  return {
    error: error?.code === 'unschedulable' ? { code: error.code, message: forProject?.summary ?? NO_HOST_FITS } : error,
    result: shown,
  };
}

/** An event's data as a project's token sees it: an unschedulable reason or a step names no hosts. */
export function eventDataForProject(type: string, data: Record<string, unknown>): Record<string, unknown> {
  if (type === 'instance.state' && data.state === 'unschedulable') return { ...data, reason: NO_HOST_FITS };
  if (type !== 'operation.status') return data;
  let shown = data;
  if (typeof data.step === 'string' && STEP_ON_HOST.test(data.step)) shown = { ...shown, step: stepForProject(data.step) };
  const error = data.error as { code?: string } | null | undefined;
  if (error?.code === 'unschedulable') shown = { ...shown, error: { ...error, message: NO_HOST_FITS } };
  return shown;
}
