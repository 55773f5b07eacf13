import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID, Matches } from 'class-validator';
import { INSTANCE_STATES, InstanceState, NAME_PATTERN, TECHNOLOGIES, Technology } from '@hyperplane/domain';
import { PageQuery } from '../common/pagination';

export class ListInstancesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: INSTANCE_STATES })
  @IsOptional()
  @IsIn(INSTANCE_STATES)
  state?: InstanceState;

  @ApiPropertyOptional({ format: 'uuid', description: 'Host id' })
  @IsOptional()
  @IsUUID()
  host?: string;

  @ApiPropertyOptional({ enum: TECHNOLOGIES })
  @IsOptional()
  @IsIn(TECHNOLOGIES)
  technology?: Technology;

  @ApiPropertyOptional({ description: 'Project name' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: 'project must be a project name' })
  project?: string;
}
