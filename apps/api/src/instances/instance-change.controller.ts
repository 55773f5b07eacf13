import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiConflictResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { Idempotency, IdempotencyContext } from '../common/idempotency';
import { uuid } from '../common/params';
import { accepted, IDEMPOTENCY_HEADER } from '../operations/accepted';
import { OperationDto } from '../operations/operation.dto';
import { CloneInstanceDto, CreateSnapshotDto, MigrateInstanceDto, ResizeInstanceDto, SnapshotDto } from './instance-change.dto';
import { InstanceChangeService } from './instance-change.service';

/** Snapshots, clones and resizes: operations that need a driver capability. */
@ApiTags('instances')
@ApiBearerAuth()
@Controller('v1/instances/:id')
export class InstanceChangeController {
  constructor(private readonly changes: InstanceChangeService) {}

  @Get('snapshots')
  @ApiOkResponse({ type: [SnapshotDto] })
  snapshots(@CurrentPrincipal() principal: Principal, @Param('id', uuid('instance')) id: string): Promise<{ items: SnapshotDto[] }> {
    return this.changes.listSnapshots(principal, id);
  }

  @Post('snapshots')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto })
  @ApiConflictResponse({ description: 'The name is taken, the driver cannot snapshot, or another operation is active' })
  async snapshot(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('instance')) id: string,
    @Body() dto: CreateSnapshotDto,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.changes.snapshot(principal, id, dto, idem));
  }

  @Post('snapshots/:name/restore')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto })
  async restore(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('instance')) id: string,
    @Param('name') name: string,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.changes.restore(principal, id, name, idem));
  }

  @Delete('snapshots/:name')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto })
  async deleteSnapshot(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('instance')) id: string,
    @Param('name') name: string,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.changes.deleteSnapshot(principal, id, name, idem));
  }

  @Post('clone')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto, description: 'The new instance\'s id is in the operation\'s request (cloneId) and, once done, its result' })
  async clone(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('instance')) id: string,
    @Body() dto: CloneInstanceDto,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.changes.clone(principal, id, dto, idem));
  }

  @Post('resize')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto })
  @ApiConflictResponse({ description: 'Running, and the driver cannot resize live; or no room on the host' })
  async resize(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('instance')) id: string,
    @Body() dto: ResizeInstanceDto,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.changes.resize(principal, id, dto, idem));
  }

  @Post('migrate')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto, description: 'Once done, the result names the hosts (from, to), the mode and what the move cost' })
  @ApiConflictResponse({ description: 'Another operation is active, the instance is not running or stopped, or the driver cannot migrate it (live)' })
  async migrate(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('instance')) id: string,
    @Body() dto: MigrateInstanceDto,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.changes.migrate(principal, id, dto, idem));
  }
}
