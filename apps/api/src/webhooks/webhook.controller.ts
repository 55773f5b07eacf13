import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { NAME_PATTERN } from '@hyperplane/domain';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { decodeCursor, Page, PageQuery, toPage } from '../common/pagination';
import { uuid } from '../common/params';
import { ProjectScope } from '../projects/project-scope.service';
import { CreatedWebhookDto, CreateWebhookDto, WebhookDeliveryDto, WebhookDto } from './webhook.dto';
import { WebhookService } from './webhook.service';

export class ListWebhooksQuery {
  @ApiPropertyOptional({ description: 'Project name' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: 'project must be a project name' })
  project?: string;
}

/** Signed notifications of state changes (Standard Webhooks), delivered by the controller. */
@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
export class WebhookController {
  constructor(
    private readonly service: WebhookService,
    private readonly scope: ProjectScope,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiCreatedResponse({ type: CreatedWebhookDto, description: 'The secret is in this answer only' })
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateWebhookDto): Promise<CreatedWebhookDto> {
    const hook = await this.service.create(principal, dto);
    return { ...WebhookDto.from(hook), secret: hook.secret };
  }

  @Get()
  @ApiOkResponse({ type: [WebhookDto] })
  async list(@CurrentPrincipal() principal: Principal, @Query() q: ListWebhooksQuery): Promise<{ items: WebhookDto[] }> {
    const projectIds = q.project ? await this.scope.forRead(principal, q.project) : null;
    return { items: (await this.service.list(principal, projectIds)).map(WebhookDto.from) };
  }

  @Get(':id')
  @ApiOkResponse({ type: WebhookDto })
  async get(@CurrentPrincipal() principal: Principal, @Param('id', uuid('webhook')) id: string): Promise<WebhookDto> {
    return WebhookDto.from(await this.service.visible(principal, id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  async remove(@CurrentPrincipal() principal: Principal, @Param('id', uuid('webhook')) id: string): Promise<void> {
    await this.service.remove(principal, id);
  }

  @Get(':id/deliveries')
  @ApiOkResponse({ type: [WebhookDeliveryDto], description: 'Newest first, with every attempt (status code, duration, error)' })
  async deliveries(@CurrentPrincipal() principal: Principal, @Param('id', uuid('webhook')) id: string, @Query() q: PageQuery): Promise<Page<WebhookDeliveryDto>> {
    const limit = q.limit ?? 50;
    const rows = await this.service.deliveries(principal, id, limit + 1, decodeCursor(q.cursor));
    return toPage(rows, limit, WebhookDeliveryDto.from);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'The delivery is sent again, with the same webhook-id' })
  async redeliver(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('webhook')) id: string,
    @Param('deliveryId', uuid('delivery')) deliveryId: string,
  ): Promise<void> {
    await this.service.redeliver(principal, id, deliveryId);
  }
}
