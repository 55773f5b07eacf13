import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { AuditEntryEntity, AuditRepository } from '@hyperplane/db';
import { NAME_PATTERN } from '@hyperplane/domain';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { problems } from '../common/problem';
import { ProjectScope } from '../projects/project-scope.service';

export class AuditQuery {
  @ApiPropertyOptional({ description: 'Project name' }) @IsOptional() @Matches(NAME_PATTERN, { message: 'project must be a project name' }) project?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID(undefined, { message: 'tokenId must be a UUID' }) tokenId?: string;
  @ApiPropertyOptional({ example: 'POST /v1/instances' }) @IsOptional() @IsString() @MaxLength(128) action?: string;
  @ApiPropertyOptional({ description: 'Entries whose target starts with this, e.g. /v1/hosts' }) @IsOptional() @IsString() @MaxLength(500) target?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @Type(() => Date) @IsDate({ message: 'from must be a date-time' }) from?: Date;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @Type(() => Date) @IsDate({ message: 'to must be a date-time' }) to?: Date;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' }) @IsOptional() @Matches(/^\d{1,19}$/, { message: 'cursor must be a cursor this API gave out' }) cursor?: string;
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(500) limit?: number;
}

export class AuditEntryDto {
  @ApiProperty() id!: string;
  @ApiProperty() at!: string;
  @ApiPropertyOptional({ nullable: true, format: 'uuid' }) tokenId!: string | null;
  @ApiPropertyOptional({ nullable: true }) tokenName!: string | null;
  @ApiPropertyOptional({ nullable: true }) role!: string | null;
  @ApiPropertyOptional({ nullable: true, format: 'uuid' }) projectId!: string | null;
  @ApiProperty({ example: 'POST /v1/instances' }) action!: string;
  @ApiProperty({ example: '/v1/instances' }) target!: string;
  @ApiProperty({ description: 'The caller\'s address, or "queue"' }) source!: string;
  @ApiPropertyOptional({ nullable: true }) requestId!: string | null;
  @ApiProperty({ description: 'The HTTP status the request ended with' }) status!: number;

  static from(e: AuditEntryEntity): AuditEntryDto {
    return {
      id: String(e.id),
      at: new Date(e.createdAt).toISOString(),
      tokenId: e.tokenId,
      tokenName: e.tokenName,
      role: e.role,
      projectId: e.projectId,
      action: e.action,
      target: e.target,
      source: e.source,
      requestId: e.requestId,
      status: e.status,
    };
  }
}

/** Who changed what: fleet admins see everything, a project's operator that project's entries. */
@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(
    private readonly audit: AuditRepository,
    private readonly scope: ProjectScope,
  ) {}

  @Get()
  @Roles('admin', 'operator')
  @ApiOkResponse({ type: [AuditEntryDto], description: 'Newest first' })
  async list(@CurrentPrincipal() principal: Principal, @Query() q: AuditQuery): Promise<{ items: AuditEntryDto[]; nextCursor: string | null }> {
    // Admin tokens are fleet-wide; a project's highest token is its operator, which stands in
    // as the project's administrator here. A fleet-wide operator is not an auditor.
    if (principal.role === 'operator' && principal.projectIds === null) throw problems.forbidden('the audit trail needs an admin token, or a project token');
    if (q.from && q.to && q.from > q.to) throw problems.badField('to', 'must not be before from');
    const projectIds = await this.scope.forRead(principal, q.project);
    const limit = q.limit ?? 100;
    const rows = await this.audit.list({ projectIds, tokenId: q.tokenId, action: q.action, targetPrefix: q.target, from: q.from, to: q.to, beforeId: q.cursor, limit: limit + 1 });
    const items = rows.slice(0, limit).map(AuditEntryDto.from);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  }
}
