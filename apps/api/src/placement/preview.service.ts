import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '@hyperplane/config';
import { hostSnapshot, HostRepository, placementRequest, toTemplateSpec } from '@hyperplane/db';
import { mergePolicy, place, PlacementDecision, PlacementPolicy, policyFromSettings } from '@hyperplane/scheduler';
import { Principal } from '../auth/principal';
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
  ) {
    this.base = policyFromSettings(config);
  }

  async preview(principal: Principal, dto: InstanceSpecDto): Promise<PlacementDecision> {
    const project = await this.scope.resolve(principal, dto.project);
    const { template, group } = await this.instances.checkSpec(principal, dto, project.id);
    const subject = this.instances.newInstance(randomUUID(), project.id, 'preview', dto, principal, group);
    const request = placementRequest(subject as Parameters<typeof placementRequest>[0], toTemplateSpec(template), group);
    const [rows, groups] = await Promise.all([this.hosts.schedulable(), this.hosts.groupCounts()]);
    return place(request, rows.map((h) => hostSnapshot(h, groups.get(h.id) ?? {})), this.policyOf(project.policy));
  }

  policyOf(override: Record<string, unknown> | null): PlacementPolicy {
    return mergePolicy(this.base, override);
  }
}
