import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '@hyperplane/config';
import { hostSnapshot, HostRepository, placementRequest, ProjectRepository, toTemplateSpec } from '@hyperplane/db';
import { decisionForProject, mergePolicy, place, PlacementDecision, PlacementPolicy, policyFromSettings, ProjectDecision } from '@hyperplane/scheduler';
import { isFleetWide, Principal } from '../auth/principal';
import { InstanceSpecDto } from '../instances/create-instance.dto';
import { InstanceService } from '../instances/instance.service';
import { ProjectScope } from '../projects/project-scope.service';

/**
 * What the scheduler would decide for a create, now, with the explanation — from the same
 * snapshot of ready hosts, group members and policy the controller uses. Writes nothing.
 */
@Injectable()
export class PreviewService {
  private readonly base: PlacementPolicy;

  constructor(
    config: AppConfig,
    private readonly hosts: HostRepository,
    private readonly instances: InstanceService,
    private readonly scope: ProjectScope,
    private readonly projects: ProjectRepository,
  ) {
    this.base = policyFromSettings(config);
  }

  /** A project's token gets the decision without the rest of the fleet (see decisionForProject). */
  async preview(principal: Principal, dto: InstanceSpecDto): Promise<PlacementDecision | ProjectDecision> {
    const project = await this.scope.resolve(principal, dto.project);
    const { template, group } = await this.instances.checkSpec(principal, dto, project.id);
    const subject = this.instances.newInstance(randomUUID(), project.id, 'preview', dto, principal, group);
    const request = placementRequest(subject as Parameters<typeof placementRequest>[0], toTemplateSpec(template), group);
    // The policy as it is now, not as the project scope's cache last saw it: a preview decides
    // under what the next create would (the controller drops its cached policies at NOTIFY hp_policy).
    const [rows, groups, current] = await Promise.all([this.hosts.schedulable(), this.hosts.groupCounts(), this.projects.get(project.id)]);
    const decision = place(request, rows.map((h) => hostSnapshot(h, groups.get(h.id) ?? {})), this.policyOf(current?.policy ?? null));
    return isFleetWide(principal) ? decision : decisionForProject(decision);
  }

  policyOf(override: Record<string, unknown> | null): PlacementPolicy {
    return mergePolicy(this.base, override);
  }
}
