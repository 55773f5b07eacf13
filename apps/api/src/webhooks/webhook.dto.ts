import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsOptional, IsString, IsUrl, Matches, MaxLength } from 'class-validator';
import { NAME_PATTERN, NAME_RULE, WEBHOOK_EVENT_TYPES } from '@hyperplane/domain';
import { DeliveryAttempt, WebhookDeliveryEntity, WebhookEntity } from '@hyperplane/db';

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://billing.example.com/hyperplane' })
  @IsString()
  @MaxLength(2000)
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'url must be an http or https URL' })
  url!: string;

  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(WEBHOOK_EVENT_TYPES, { each: true, message: `each of events must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` })
  events!: string[];

  @ApiPropertyOptional({ description: "Project name; a project token's own project when absent. A fleet-wide admin token without it subscribes to every project and to host events." })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: `project must be ${NAME_RULE}` })
  project?: string;
}

export class WebhookDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true }) events!: string[];
  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'null: fleet-wide' }) projectId!: string | null;
  @ApiProperty() enabled!: boolean;
  @ApiPropertyOptional({ nullable: true }) disabledReason!: string | null;
  @ApiProperty() createdAt!: string;

  static from(w: WebhookEntity): WebhookDto {
    return { id: w.id, url: w.url, events: w.events, projectId: w.projectId, enabled: w.enabled, disabledReason: w.disabledReason, createdAt: new Date(w.createdAt).toISOString() };
  }
}

export class CreatedWebhookDto extends WebhookDto {
  @ApiProperty({ description: 'The signing secret (`whsec_…`), shown only in this answer' }) secret!: string;
}

export class DeliveryAttemptDto {
  @ApiProperty() at!: string;
  @ApiPropertyOptional({ nullable: true }) statusCode!: number | null;
  @ApiProperty() durationMs!: number;
  @ApiPropertyOptional({ nullable: true }) error!: string | null;
}

export class WebhookDeliveryDto {
  @ApiProperty({ format: 'uuid', description: 'Also the webhook-id header' }) id!: string;
  @ApiProperty() type!: string;
  @ApiProperty({ enum: ['pending', 'succeeded', 'failed'] }) status!: string;
  @ApiProperty({ type: [DeliveryAttemptDto] }) attempts!: DeliveryAttempt[];
  @ApiProperty({ type: Object }) payload!: Record<string, unknown>;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({ nullable: true }) finishedAt!: string | null;

  static from(d: WebhookDeliveryEntity): WebhookDeliveryDto {
    return {
      id: d.id,
      type: d.type,
      status: d.status,
      attempts: d.attempts,
      payload: d.payload,
      createdAt: new Date(d.createdAt).toISOString(),
      finishedAt: d.finishedAt ? new Date(d.finishedAt).toISOString() : null,
    };
  }
}
