import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiConflictResponse, ApiGatewayTimeoutResponse, ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { INSTANCE_ACTIONS, InstanceAction } from '@hyperplane/domain';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { Idempotency, IdempotencyContext } from '../common/idempotency';
import { Page } from '../common/pagination';
import { uuid } from '../common/params';
import { problems } from '../common/problem';
import { OperationDto } from '../operations/operation.dto';
import { accepted, IDEMPOTENCY_HEADER } from '../operations/accepted';
import { BatchCreateDto } from './batch-create.dto';
import { BatchDeleteDto } from './batch-delete.dto';
import { CreateInstanceDto } from './create-instance.dto';
import { InstanceDto } from './instance.dto';
import { InstanceService } from './instance.service';
import { ListInstancesQuery } from './list-instances.query';
import { DeleteInstanceQuery, InstanceActionDto } from './instance-action.dto';
import { ConsoleLogDto, ConsoleQuery } from './instance-console.dto';
import { InstanceConsoleService } from './instance-console.service';

@ApiTags('instances')
@ApiBearerAuth()
@Controller('v1/instances')
export class InstanceController {
  constructor(
    private readonly instances: InstanceService,
    private readonly consoles: InstanceConsoleService,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto, description: 'Creation accepted; follow the operation' })
  @ApiConflictResponse({ description: 'Name taken, or Idempotency-Key reused with another body' })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateInstanceDto,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.instances.create(principal, dto, idem));
  }

  @Post('batch')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto, description: 'A parent operation (kind batch); its children: GET /v1/operations?parent=<id>' })
  @ApiConflictResponse({ description: 'A name is taken, or Idempotency-Key reused with another body' })
  async batch(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: BatchCreateDto,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.instances.createBatch(principal, dto, idem));
  }

  @Post('batch-delete')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto, description: 'A parent operation (kind batch, request.action delete); its children: GET /v1/operations?parent=<id>' })
  @ApiNotFoundResponse({ description: 'An id names no instance the token can see' })
  @ApiConflictResponse({ description: 'An instance has an active operation or cannot be deleted in its state (none is deleted), or Idempotency-Key reused with another body' })
  async batchDelete(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: BatchDeleteDto,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.instances.removeBatch(principal, dto, idem));
  }

  @Get()
  @ApiOkResponse({ description: 'A page of instances, newest first' })
  list(@CurrentPrincipal() principal: Principal, @Query() q: ListInstancesQuery): Promise<Page<InstanceDto>> {
    return this.instances.list(principal, q);
  }

  @Get(':id')
  @ApiOkResponse({ type: InstanceDto })
  @ApiNotFoundResponse()
  get(@CurrentPrincipal() principal: Principal, @Param('id', uuid('instance')) id: string): Promise<InstanceDto> {
    return this.instances.get(principal, id);
  }

  @Get(':id/console')
  @ApiOkResponse({ type: ConsoleLogDto, description: "The last lines of the instance's console log, read by its host's agent" })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: "The instance's driver offers no console log, or the instance is not on a host" })
  @ApiGatewayTimeoutResponse({ description: "The host's agent did not answer within 5 s" })
  console(@CurrentPrincipal() principal: Principal, @Param('id', uuid('instance')) id: string, @Query() q: ConsoleQuery): Promise<ConsoleLogDto> {
    return this.consoles.read(principal, id, q.lines ?? 200);
  }

  @Delete(':id')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto })
  @ApiConflictResponse({ description: 'Another operation is active on the instance' })
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('instance')) id: string,
    @Query() q: DeleteInstanceQuery,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.instances.remove(principal, id, idem, q.force === 'true'));
  }

  @Post(':id/actions/:action')
  @HttpCode(202)
  @ApiParam({ name: 'action', enum: INSTANCE_ACTIONS })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto })
  @ApiConflictResponse({ description: 'Another operation is active, or the instance is in the wrong state for the action' })
  async act(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('instance')) id: string,
    @Param('action') action: string,
    @Body() body: InstanceActionDto,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    if (!(INSTANCE_ACTIONS as readonly string[]).includes(action)) {
      throw problems.notFound('action', `${action} (one of ${INSTANCE_ACTIONS.join(', ')})`);
    }
    const options: { force?: boolean; timeoutS?: number } = {};
    if (body?.force !== undefined) options.force = body.force;
    if (body?.timeoutS !== undefined) options.timeoutS = body.timeoutS;
    for (const field of Object.keys(options)) {
      if (action !== 'stop') throw problems.badField(field, `only stop takes ${field}`);
    }
    if (options.force && options.timeoutS !== undefined) throw problems.badField('timeoutS', 'a forced stop has no graceful timeout');
    return accepted(res, await this.instances.act(principal, id, action as InstanceAction, idem, options));
  }
}
