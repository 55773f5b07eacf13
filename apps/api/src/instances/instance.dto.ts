import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { INSTANCE_STATES, InstanceState, REQUESTED_TECHNOLOGIES, TECHNOLOGIES } from '@hyperplane/domain';
import { InstanceEntity } from '@hyperplane/db';
import { explanationForProject } from '@hyperplane/scheduler';
import { HaDto, ResourcesDto } from './create-instance.dto';

/** An instance as the API shows it (never the entity itself). */
export class InstanceDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ format: 'uuid' }) projectId!: string;
  @ApiProperty() template!: string;
  @ApiProperty({ enum: REQUESTED_TECHNOLOGIES }) requestedTechnology!: string;
  @ApiPropertyOptional({ enum: TECHNOLOGIES, nullable: true }) technology!: string | null;
  @ApiPropertyOptional({ nullable: true }) driver!: string | null;
  @ApiPropertyOptional({ nullable: true }) arch!: string | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) hostId!: string | null;
  @ApiProperty({ enum: INSTANCE_STATES }) state!: InstanceState;
  @ApiProperty({ enum: INSTANCE_STATES }) desiredState!: InstanceState;
  @ApiPropertyOptional({ nullable: true, description: 'Why the instance is in its state (errors, unschedulable)' }) stateReason!: string | null;
  @ApiProperty({ type: ResourcesDto }) resources!: ResourcesDto;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true }) limits!: Record<string, number> | null;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true }) isolation!: Record<string, unknown> | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) placement!: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, description: 'The scheduler\'s explanation' })
  placementExplanation!: Record<string, unknown> | null;
  @ApiPropertyOptional({ type: HaDto, nullable: true, description: 'High availability in effect (the instance\'s own, else its project\'s default at creation)' })
  ha!: HaDto | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  /**
   * `fleetWide`: the caller's token sees hosts. A project's token gets the scheduler's
   * explanation without the rest of the fleet (see explanationForProject), also as the reason
   * of an unschedulable instance.
   */
  static from(i: InstanceEntity, fleetWide: boolean): InstanceDto {
    let { stateReason, placementExplanation } = i;
    if (!fleetWide && placementExplanation) {
      const placed = i.state !== 'unschedulable' && i.technology ? { technology: i.technology, driver: i.driver } : null;
      const forProject = explanationForProject(placementExplanation, placed);
      placementExplanation = forProject as unknown as Record<string, unknown>;
      if (i.state === 'unschedulable') stateReason = forProject.summary;
    }
    return {
      id: i.id,
      name: i.name,
      projectId: i.projectId,
      template: i.template,
      requestedTechnology: i.requestedTechnology,
      technology: i.technology,
      driver: i.driver,
      arch: i.arch,
      hostId: i.hostId,
      state: i.state,
      desiredState: i.desiredState,
      stateReason,
      resources: { vcpus: i.vcpus, memoryMiB: i.memoryMib, diskGiB: i.diskGib },
      limits: i.limits,
      isolation: i.isolation as Record<string, unknown> | null,
      placement: i.placement as Record<string, unknown>,
      placementExplanation,
      ha: i.ha ? { restart: i.ha.restart, priority: i.ha.priority } : null,
      createdAt: new Date(i.createdAt).toISOString(),
      updatedAt: new Date(i.updatedAt).toISOString(),
    };
  }
}
