import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { CONSOLE_MAX_LINES } from '@hyperplane/queue';

export class ConsoleQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: CONSOLE_MAX_LINES, default: 200, description: 'Lines from the end of the log' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(CONSOLE_MAX_LINES)
  lines?: number;
}

export class ConsoleLogDto {
  @ApiProperty({ format: 'uuid' })
  instanceId!: string;

  @ApiProperty({ format: 'uuid' })
  hostId!: string;

  @ApiProperty()
  driver!: string;

  @ApiProperty({ type: [String], description: 'Oldest first; terminal escapes and carriage returns removed' })
  lines!: string[];
}
