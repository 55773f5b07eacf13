import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ARCHES, OS_FAMILIES, TECHNOLOGIES } from '@hyperplane/domain';
import { TemplateEntity, TemplateRepository } from '@hyperplane/db';
import { problems } from '../common/problem';

export class TemplateDto {
  @ApiProperty({ example: 'debian-12' }) name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ enum: OS_FAMILIES }) osFamily!: string;
  @ApiProperty({ example: 'debian' }) distribution!: string;
  @ApiProperty({ example: '12' }) version!: string;
  @ApiProperty({ enum: ARCHES, isArray: true }) archs!: string[];
  @ApiProperty({ enum: TECHNOLOGIES, isArray: true, description: 'What it can be created as' }) technologies!: string[];
  @ApiPropertyOptional({ nullable: true, description: 'Least host kernel a container needs' }) minKernel!: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'Host build a Windows container needs' }) windowsBuild!: string | null;
  @ApiPropertyOptional({ nullable: true, isArray: true, type: String }) drivers!: string[] | null;
  @ApiProperty() builtin!: boolean;

  static from(t: TemplateEntity): TemplateDto {
    return {
      name: t.name,
      description: t.description,
      osFamily: t.osFamily,
      distribution: t.distribution,
      version: t.version,
      archs: t.archs,
      technologies: t.technologies,
      minKernel: t.minKernel,
      windowsBuild: t.windowsBuild,
      drivers: t.drivers,
      builtin: t.builtin,
    };
  }
}

@ApiTags('templates')
@ApiBearerAuth()
@Controller('v1/templates')
export class TemplateController {
  constructor(private readonly templates: TemplateRepository) {}

  @Get()
  @ApiOkResponse({ type: [TemplateDto], description: 'What can be created' })
  async list(): Promise<{ items: TemplateDto[] }> {
    return { items: (await this.templates.list()).map(TemplateDto.from) };
  }

  @Get(':name')
  @ApiOkResponse({ type: TemplateDto })
  @ApiNotFoundResponse()
  async get(@Param('name') name: string): Promise<TemplateDto> {
    const t = /^[a-z0-9][a-z0-9.-]{0,62}$/.test(name) ? await this.templates.get(name) : null;
    if (!t) throw problems.notFound('template', name);
    return TemplateDto.from(t);
  }
}
