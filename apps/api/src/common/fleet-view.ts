import { explanationForProject } from '@hyperplane/scheduler';

/**
 * What a project's token may see of the scheduler's reasons. Project tokens do not see hosts,
 * so they get why a request does not fit, never the rest of the fleet: no other host's name,
 * no counts of hosts (see explanationForProject). Fleet-wide tokens see everything.
 */

/** Where a stored text holds no structured explanation to rebuild the reasons from. */
export const NO_HOST_FITS = "no host fits now (the instance's placementExplanation says why)";

/** An operation's error and result as a project's token sees them. */
export function operationForProject(
  error: { code: string; message: string } | null,
  result: Record<string, unknown> | null,
): { error: { code: string; message: string } | null; result: Record<string, unknown> | null } {
  const explanation = result?.explanation as Record<string, unknown> | undefined;
  const forProject = explanation ? explanationForProject(explanation, null) : null;
  return {
    error: error?.code === 'unschedulable' ? { code: error.code, message: forProject?.summary ?? NO_HOST_FITS } : error,
    result: forProject ? { ...result, explanation: forProject } : result,
  };
}

/** An event's data as a project's token sees it: an unschedulable reason names no hosts. */
export function eventDataForProject(type: string, data: Record<string, unknown>): Record<string, unknown> {
  if (type === 'instance.state' && data.state === 'unschedulable') return { ...data, reason: NO_HOST_FITS };
  const error = data.error as { code?: string } | null | undefined;
  if (type === 'operation.status' && error?.code === 'unschedulable') return { ...data, error: { ...error, message: NO_HOST_FITS } };
  return data;
}
