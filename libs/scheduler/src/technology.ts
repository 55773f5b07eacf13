import { IsolationNeeds, Technology, needsHypervIsolation } from '@hyperplane/domain';
import { OS_NAMES, containerBlocker } from './compatibility';
import { FilterCode } from './filter-codes';
import { PlacementRequest, Rejection } from './placement.types';

/** How a request's technology is settled before any host is looked at. */
export type TechnologyPlan =
  /** No host can serve: the request-level filter `code` rejects the whole fleet. */
  | { kind: 'reject'; technology: Technology; code: FilterCode; blocker?: string; reason: string }
  /** One technology to try. */
  | { kind: 'fixed'; technology: Technology; reason: string }
  /** `auto` where a container is possible: try it first, then a VM when `vmPossible`. */
  | {
      kind: 'auto';
      vmPossible: boolean;
      containerReason: (fitting: number, sampled: boolean) => string;
      vmReason: (containerRejections: readonly Rejection[]) => string;
    };

/**
 * `container` and `vm` are honoured as asked, except that a container whose isolation needs a
 * dedicated kernel is refused. `auto` takes a container when the isolation needs allow sharing
 * the host kernel (kernel not `dedicated`, security not `strict`, no need in
 * NEEDS_DEDICATED_KERNEL), the template offers one and a host fits it — density and speed — and
 * a VM otherwise. Every outcome carries a reason in plain words.
 */
export function planTechnology(request: PlacementRequest): TechnologyPlan {
  const { template } = request;
  const blocker = containerBlocker(request.isolation, template.osFamily);
  // A Windows container with its own kernel: Hyper-V isolation, between a container and a VM.
  const hyperv = template.osFamily === 'windows' && needsHypervIsolation(request.isolation) ? hypervWhy(request.isolation) : null;
  const offersContainer = template.technologies.includes('container');
  const offersVm = template.technologies.includes('vm');
  // A VM has whole vCPUs: a fractional size can only be a container (the API refuses an
  // explicit fractional VM; `auto` never turns one into a VM).
  const wholeVcpus = Number.isInteger(request.resources.vcpus);
  switch (request.technology) {
    case 'vm':
      return { kind: 'fixed', technology: 'vm', reason: 'a VM: requested explicitly' };
    case 'container':
      return blocker
        ? {
            kind: 'reject',
            technology: 'container',
            code: 'isolation',
            blocker,
            reason: `a container was requested, but ${blocker}; ask for a VM`,
          }
        : {
            kind: 'fixed',
            technology: 'container',
            reason: hyperv
              ? `a container with Hyper-V isolation: requested explicitly, and the request ${hyperv}, which a Windows container gets from a utility VM with its own kernel`
              : 'a container: requested explicitly',
          };
    case 'auto':
      break;
  }
  if (blocker || !offersContainer) {
    const why = blocker ?? `${template.name} is not offered as a container`;
    if (offersVm && wholeVcpus) return { kind: 'fixed', technology: 'vm', reason: `a VM: ${why}` };
    if (offersVm) {
      return {
        kind: 'reject',
        technology: 'vm',
        code: 'template-technology',
        reason: `a VM would be needed (${why}), but a VM has whole vCPUs and ${request.resources.vcpus} vCPU is a container size`,
      };
    }
    return blocker
      ? {
          kind: 'reject',
          technology: 'container',
          code: 'isolation',
          blocker,
          reason: `${template.name} is offered only as a container, but ${blocker}`,
        }
      : { kind: 'reject', technology: 'vm', code: 'template-technology', reason: `${template.name} offers no technology` };
  }
  const hostOs = OS_NAMES[template.osFamily];
  if (hyperv) {
    return {
      kind: 'auto',
      vmPossible: offersVm && wholeVcpus,
      containerReason: (fitting, sampled) =>
        fitting > 0
          ? `a container with Hyper-V isolation: the request ${hyperv}, which a Windows container gets from a utility VM with its own kernel (a middle point between a container and a VM), and ${
              sampled ? 'at least ' : ''
            }${fitting} Windows ${fitting === 1 ? 'host' : 'hosts'} can run ${template.name} containers that way`
          : `a container with Hyper-V isolation: the request ${hyperv} and ${template.name} is offered only as a container, but no host can take it`,
      vmReason: (rejections) => {
        const top = rejections.slice(0, 2).map((r) => `${r.count} ${r.message}`);
        const detail = top.length > 0 ? `: ${top.join('; ')}` : '';
        return `a VM: the request ${hyperv}, and no host can take a ${template.name} container with Hyper-V isolation${detail}`;
      },
    };
  }
  return {
    kind: 'auto',
    vmPossible: offersVm && wholeVcpus,
    containerReason: (fitting, sampled) =>
      fitting > 0
        ? `a container: the workload can share the host kernel and ${sampled ? 'at least ' : ''}${fitting} ${hostOs} ${
            fitting === 1 ? 'host' : 'hosts'
          } can run ${template.name} containers`
        : `a container: the workload can share the host kernel and ${template.name} is offered only as a container, but no host can take it`,
    vmReason: (rejections) => {
      const top = rejections.slice(0, 2).map((r) => `${r.count} ${r.message}`);
      const detail = top.length > 0 ? `: ${top.join('; ')}` : '';
      return `a VM: the workload could share the host kernel, but no host can take a ${template.name} container${detail}`;
    },
  };
}

/** What in the isolation needs calls for Hyper-V isolation, as it reads after "the request". */
function hypervWhy(isolation: IsolationNeeds | undefined): string {
  return isolation?.security === 'strict' ? 'asks for strict security isolation' : 'asks for a dedicated kernel';
}
