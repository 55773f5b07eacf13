import { Arch, HOST_STATUSES, HostStatus, Technology } from '@hyperplane/domain';
import { MAX_MACOS_GUESTS, OS_NAMES } from './compatibility';
import { FILTER_ORDER, FilterCode } from './filter-codes';
import { Candidate, Explanation, PlacementDecision, PlacementRequest, PlacementSuccess, Rejection } from './placement.types';

/** What the rejection messages need to know beyond the counts. */
export interface MessageContext {
  request: PlacementRequest;
  technology: Technology;
  wantedArchs: readonly Arch[];
  /** Hosts counted under `status`, by status. */
  statusCounts: ReadonlyMap<HostStatus, number>;
  /** Per capacity filter: did a driver overhead add to the amount the hosts lack? */
  overhead: { vcpus: boolean; memory: boolean; disk: boolean };
  /** Why a container cannot meet the isolation needs (`isolation`). */
  blocker?: string;
  /** Names of the hosts counted under `macos-guests` (the first few). */
  macosFull?: readonly string[];
}

export function technologyName(technology: Technology): string {
  return technology === 'vm' ? 'VM' : 'container';
}

/** The rejections with a count, most hosts first (filter order among equals). */
export function rejectionsFrom(counts: Int32Array, ctx: MessageContext): Rejection[] {
  const rejections: Rejection[] = [];
  FILTER_ORDER.forEach((code, i) => {
    const count = counts[i] ?? 0;
    if (count > 0) rejections.push({ code, count, message: rejectionMessage(code, count, ctx) });
  });
  return rejections.sort((a, b) => b.count - a.count);
}

/** A fragment that reads after its count: "7012 have no container driver for windows-server-2022". */
export function rejectionMessage(code: FilterCode, count: number, ctx: MessageContext): string {
  const one = count === 1;
  const verb = (singular: string, plural: string): string => (one ? singular : plural);
  const { request, technology } = ctx;
  const { template } = request;
  const tech = technologyName(technology);
  const plusOverhead = (blamed: boolean): string => (blamed ? ' plus driver overhead' : '');
  switch (code) {
    case 'isolation':
      return `cannot run it as a container: ${ctx.blocker ?? 'the isolation needs rule it out'}`;
    case 'template-technology':
      return `cannot run ${template.name} as a ${tech}: the template does not offer it`;
    case 'template-arch':
      return request.arch
        ? `cannot run ${template.name} on ${request.arch}: the template has no ${request.arch} image`
        : `cannot run ${template.name}: the template names no architecture`;
    case 'pinned':
      return `${verb('is', 'are')} not the pinned host ${request.hostId ?? ''}`;
    case 'os':
      if (technology === 'container') {
        return template.osFamily === 'macos'
          ? 'cannot run macOS containers: macOS hosts take no containers'
          : `${verb('does', 'do')} not run ${OS_NAMES[template.osFamily]} (a ${template.name} container shares the host kernel)`;
      }
      return `${verb('does', 'do')} not run macOS (a macOS guest runs only on a macOS host)`;
    case 'driver':
      return `${verb('has', 'have')} no installed ${tech} driver`;
    case 'template-drivers':
      return `${verb('has', 'have')} no driver that ${template.name} allows (${(template.drivers ?? []).join(', ')})`;
    case 'arch':
      return technology === 'container'
        ? `${verb('has', 'have')} no ${ctx.wantedArchs.join(' or ')} CPU (a container runs on the host CPU)`
        : `cannot run ${ctx.wantedArchs.join(' or ')} guests (another CPU and no emulation)`;
    case 'guest':
      return `${verb('has', 'have')} no ${tech} driver for ${template.name}`;
    case 'kernel':
      return `${verb('runs', 'run')} a kernel older than ${template.minKernel ?? '?'}, which ${template.name} containers need`;
    case 'windows-build':
      return `${verb('is', 'are')} not Windows build ${template.windowsBuild ?? '?'}, which ${template.name} containers need`;
    case 'capabilities':
      return `${verb('has', 'have')} no ${tech} driver with ${(request.capabilities ?? []).join(', ')}`;
    case 'status':
      return `${verb('is', 'are')} not ready (${statusBreakdown(ctx.statusCounts, one)})`;
    case 'zone':
      return `${verb('is', 'are')} not in zone ${request.zone ?? ''}`;
    case 'labels':
      return `${verb('lacks', 'lack')} the labels ${labelList(request.requiredLabels)}`;
    case 'excluded':
      return `already failed to create this instance`;
    case 'anti-affinity':
      return `already ${verb('runs', 'run')} a member of group ${request.group?.name ?? ''} (hard anti-affinity)`;
    case 'affinity':
      return `${verb('runs', 'run')} no member of group ${request.group?.name ?? ''} (hard affinity)`;
    case 'group-max': {
      const max = request.group?.maxPerHost ?? 0;
      return `already ${verb('runs', 'run')} ${max} or more members of group ${request.group?.name ?? ''} (at most ${max} per host)`;
    }
    case 'macos-guests':
      return `${verb('is a Mac', 'are Macs')} at the macOS licence limit: ${macosFullText(ctx.macosFull ?? [], count)}`;
    case 'density':
      return `${verb('is', 'are')} at the instance limit`;
    case 'vcpus':
      return `${verb('lacks', 'lack')} ${request.resources.vcpus} free vCPUs${plusOverhead(ctx.overhead.vcpus)}`;
    case 'memory':
      return `${verb('lacks', 'lack')} ${request.resources.memoryMiB} MiB of free memory${plusOverhead(ctx.overhead.memory)}`;
    case 'disk':
      return `${verb('lacks', 'lack')} ${request.resources.diskGiB} GiB of free disk${plusOverhead(ctx.overhead.disk)}`;
  }
}

/** "host mac-1 already runs 2 macOS guests, the most macOS allows" (several: "hosts a, b and 3 more …"). */
function macosFullText(names: readonly string[], count: number): string {
  const most = `${MAX_MACOS_GUESTS} macOS guests`;
  if (count === 1 && names.length === 1) return `host ${names[0]} already runs ${most}, the most macOS allows`;
  // Unique: one walk of the fleet may meet a host twice where another meets it once.
  const listed = [...new Set(names)].sort().slice(0, 3);
  const rest = count - listed.length;
  const who = rest > 0 ? `${listed.join(', ')} and ${rest} more` : listed.length > 1 ? `${listed.slice(0, -1).join(', ')} and ${listed[listed.length - 1]}` : (listed[0] ?? '');
  return `hosts ${who} already run ${most} each, the most macOS allows`;
}

/** Messages for a project's token, where a message would name hosts it must not see. */
const PROJECT_MESSAGES: Partial<Record<string, (one: boolean) => string>> = {
  'macos-guests': (one) => `${one ? 'a Mac already runs' : 'Macs already run'} ${MAX_MACOS_GUESTS} macOS guests, the most macOS allows`,
};

function statusBreakdown(statusCounts: ReadonlyMap<HostStatus, number>, one: boolean): string {
  const present = HOST_STATUSES.filter((s) => (statusCounts.get(s) ?? 0) > 0);
  if (one) return present[0] ?? 'unknown';
  return present
    .map((s) => [s, statusCounts.get(s) ?? 0] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
}

function labelList(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** "0 of 10000 hosts fit: 7012 have no …; 2988 lack 16384 MiB of free memory" */
export function failureSummary(hostsConsidered: number, rejections: readonly Rejection[]): string {
  if (hostsConsidered === 0) return '0 of 0 hosts fit: there are no hosts';
  return `0 of ${hostsConsidered} hosts fit: ${rejections.map((r) => `${r.count} ${r.message}`).join('; ')}`;
}

/** "A container on host-17 (score 0.912): the best of 5123 fitting hosts out of 10000; next best: …" */
export function successSummary(
  chosen: Candidate,
  alternatives: readonly Candidate[],
  fitting: number,
  hostsConsidered: number,
  sampled: { size: number; skipped: number } | undefined,
): string {
  const what = chosen.technology === 'vm' ? 'A VM' : 'A container';
  const pool = sampled
    ? `the best of ${fitting} fitting hosts in a sample (${sampled.skipped} candidates not scanned) out of ${hostsConsidered}`
    : `the best of ${fitting} fitting ${fitting === 1 ? 'host' : 'hosts'} out of ${hostsConsidered}`;
  const next =
    alternatives.length > 0
      ? `next best: ${alternatives.map((c) => `${c.hostName} (${c.score.toFixed(3)})`).join(', ')}`
      : 'no other host fits';
  return `${what} on ${chosen.hostName} (score ${chosen.score.toFixed(3)}, ${chosen.driver}): ${pool}; ${next}`;
}

/**
 * What a project's token may see of an explanation: why, in the request's own terms, but not
 * the rest of the fleet (project tokens do not see hosts). Other hosts' names and scores, host
 * counts and sampling figures are left out; the chosen host is named only by the instance's
 * `hostId`. `stored` is an explanation as decided or as stored with an instance (a batch
 * stores its summary only).
 */
export interface ProjectExplanation {
  summary: string;
  technology?: { chosen: Technology; reason: string };
  rejections?: { code: string; message: string }[];
  otherTechnology?: { technology: Technology; summary: string; rejections: { code: string; message: string }[] };
}

/** The placed instance's facts that a project's summary may name. */
export interface PlacedFacts {
  technology: Technology | null;
  driver: string | null;
}

export function explanationForProject(stored: Partial<Explanation> | Record<string, unknown>, placed: PlacedFacts | null): ProjectExplanation {
  const e = stored as Partial<Explanation>;
  const out: ProjectExplanation = { summary: '' };
  if (e.technology) out.technology = { chosen: e.technology.chosen, reason: e.technology.reason };
  if (e.otherTechnology) {
    const rejections = reasonsOnly(e.otherTechnology.rejections);
    out.otherTechnology = { technology: e.otherTechnology.technology, summary: projectFailureSummary(rejections), rejections };
  }
  if (placed?.technology) {
    out.summary = `A ${technologyName(placed.technology)}${placed.driver ? ` with the ${placed.driver} driver` : ''}, on the best-scoring host that fits`;
  } else {
    out.rejections = reasonsOnly(e.rejections);
    out.summary = projectFailureSummary(out.rejections);
  }
  return out;
}

/** Each rejection's reason without its count ("hosts lack 16384 MiB of free memory"). */
function reasonsOnly(rejections: readonly Rejection[] | undefined): { code: string; message: string }[] {
  return (rejections ?? []).map((r) => {
    const generic = PROJECT_MESSAGES[r.code];
    return { code: r.code, message: generic ? generic(r.count === 1) : `${r.count === 1 ? 'a host' : 'hosts'} ${r.message}` };
  });
}

/** "no host fits: hosts have no …; hosts lack 16384 MiB of free memory" */
export function projectFailureSummary(reasons: readonly { message: string }[]): string {
  return reasons.length > 0 ? `no host fits: ${reasons.map((r) => r.message).join('; ')}` : 'no host fits: there are no hosts';
}

/** A decision as a project's token sees it (see explanationForProject): no host name, no fleet figures. */
export type ProjectDecision =
  | (Omit<PlacementSuccess, 'hostName' | 'explanation'> & { explanation: ProjectExplanation })
  | { ok: false; reason: string; explanation: ProjectExplanation };

export function decisionForProject(d: PlacementDecision): ProjectDecision {
  if (!d.ok) {
    const explanation = explanationForProject(d.explanation, null);
    return { ok: false, reason: explanation.summary, explanation };
  }
  const { hostName: _hidden, explanation, ...rest } = d;
  return { ...rest, explanation: explanationForProject(explanation, { technology: d.technology, driver: d.driver }) };
}
