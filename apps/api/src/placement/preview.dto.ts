import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { NAME_PATTERN, NAME_RULE } from '@hyperplane/domain';
import { InstanceSpecDto } from '../instances/create-instance.dto';

/** The body of a create; the name is accepted and ignored, so a create body can be sent as it is. */
export class PreviewDto extends InstanceSpecDto {
  @ApiPropertyOptional({ example: 'web-1' })
  @IsOptional()
  @IsString()
  @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` })
  name?: string;
}
