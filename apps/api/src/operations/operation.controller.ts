import { Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { IsOptional, Matches } from 'class-validator';
import { NAME_PATTERN } from '@hyperplane/domain';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { Page } from '../common/pagination';
import { uuid } from '../common/params';
import { ListOperationsQuery, WaitQuery } from './list-operations.query';
import { OperationDto } from './operation.dto';
import { OperationService } from './operation.service';

class ListOperationsWithProjectQuery extends ListOperationsQuery {
  @ApiPropertyOptional({ description: 'Project name' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: 'project must be a project name' })
  project?: string;
}

@ApiTags('operations')
@ApiBearerAuth()
@Controller('v1/operations')
export class OperationController {
  constructor(private readonly operations: OperationService) {}

  @Get()
  @ApiOkResponse({ description: 'A page of operations, newest first' })
  list(@CurrentPrincipal() principal: Principal, @Query() q: ListOperationsWithProjectQuery): Promise<Page<OperationDto>> {
    return this.operations.list(principal, q);
  }

  @Get(':id')
  @ApiOkResponse({ type: OperationDto })
  @ApiNotFoundResponse()
  get(@CurrentPrincipal() principal: Principal, @Param('id', uuid('operation')) id: string): Promise<OperationDto> {
    return this.operations.get(principal, id);
  }

  @Get(':id/wait')
  @ApiOkResponse({ type: OperationDto, description: 'The operation when it ended, or as it is when the time ran out' })
  wait(@CurrentPrincipal() principal: Principal, @Param('id', uuid('operation')) id: string, @Query() q: WaitQuery): Promise<OperationDto> {
    return this.operations.wait(principal, id, q.timeoutS ?? 30);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOkResponse({ type: OperationDto, description: 'A queued operation, cancelled (its instance left as it was)' })
  @ApiAcceptedResponse({ type: OperationDto, description: 'A running operation: the controller ends it `cancelled` and aborts its host work; poll or wait on it' })
  @ApiConflictResponse({ description: 'The operation has ended' })
  async cancel(@CurrentPrincipal() principal: Principal, @Param('id', uuid('operation')) id: string, @Res({ passthrough: true }) res: Response): Promise<OperationDto> {
    const { op, accepted } = await this.operations.cancel(principal, id);
    if (accepted) res.status(202);
    return op;
  }
}
