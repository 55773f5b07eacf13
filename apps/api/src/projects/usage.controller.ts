import { Body, Controller, Get, Header, Param, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, Matches } from 'class-validator';
import type { Response } from 'express';
import { NAME_PATTERN, NAME_RULE } from '@hyperplane/domain';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { problems } from '../common/problem';
import { QuotaDto } from './quota.dto';
import { UsageService } from './usage.service';

export class UsageQuery {
  @ApiPropertyOptional() @IsOptional() @Matches(NAME_PATTERN, { message: `project must be ${NAME_RULE}` }) project?: string;
  @ApiPropertyOptional({ description: 'ISO 8601; the start of this month (UTC) when absent' }) @IsOptional() @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 date-time' }) from?: string;
  @ApiPropertyOptional({ description: 'ISO 8601, exclusive; now when absent' }) @IsOptional() @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 date-time' }) to?: string;
  @ApiPropertyOptional({ enum: ['json', 'csv'] }) @IsOptional() @IsIn(['json', 'csv'], { message: 'format must be json or csv' }) format?: 'json' | 'csv';
}

/**
 * Quotas (set by admins; read by anyone who can see the project) and metered usage for
 * billing. A project token sees only its own projects; another's is a 404.
 */
@ApiTags('usage')
@ApiBearerAuth()
@Controller('v1')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Put('projects/:name/quota')
  @Roles('admin')
  @ApiOkResponse({ description: 'The quota is replaced ({} removes it); returned with current usage' })
  putQuota(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Body() dto: QuotaDto): Promise<unknown> {
    return this.usage.setQuota(principal, name, JSON.parse(JSON.stringify(dto)) as Record<string, unknown>);
  }

  @Get('projects/:name/quota')
  @ApiOkResponse({ description: 'The quota and what the project holds against it' })
  getQuota(@CurrentPrincipal() principal: Principal, @Param('name') name: string): Promise<unknown> {
    return this.usage.quotaView(principal, name);
  }

  @Get('projects/:name/usage')
  @ApiOkResponse({ description: 'The same as …/quota: the quota with current usage' })
  getProjectUsage(@CurrentPrincipal() principal: Principal, @Param('name') name: string): Promise<unknown> {
    return this.usage.quotaView(principal, name);
  }

  @Get('usage')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ description: 'Instance-, vCPU-, memory GiB- and disk GiB-hours in [from, to), per project, technology, state and instance' })
  async report(@CurrentPrincipal() principal: Principal, @Query() q: UsageQuery, @Res({ passthrough: true }) res: Response): Promise<unknown> {
    const now = new Date();
    const from = q.from ? new Date(q.from) : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const to = q.to ? new Date(q.to) : now;
    if (!(from < to)) throw problems.badField('from', 'from must be before to');
    const report = await this.usage.report(principal, q.project, from, to);
    if (q.format === 'csv') {
      res.type('text/csv');
      return this.usage.toCsv(report);
    }
    return report;
  }
}
