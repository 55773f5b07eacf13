import { AgentEntity } from './agent.entity';
import { ApiTokenEntity } from './api-token.entity';
import { EnrollmentTokenEntity } from './enrollment-token.entity';
import { EventEntity } from './event.entity';
import { HostEntity } from './host.entity';
import { InstanceEntity } from './instance.entity';
import { InstanceSnapshotEntity } from './instance-snapshot.entity';
import { OperationEntity } from './operation.entity';
import { OutboxEntity } from './outbox.entity';
import { PlacementGroupEntity } from './placement-group.entity';
import { ProjectEntity } from './project.entity';
import { TemplateEntity } from './template.entity';
import { UsageIntervalEntity } from './usage-interval.entity';

import { WebhookEntity } from './webhook.entity';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { AuditEntryEntity } from './audit-entry.entity';

export * from './agent.entity';
export * from './api-token.entity';
export * from './enrollment-token.entity';
export * from './event.entity';
export * from './host.entity';
export * from './instance.entity';
export * from './instance-snapshot.entity';
export * from './operation.entity';
export * from './outbox.entity';
export * from './placement-group.entity';
export * from './project.entity';
export * from './template.entity';
export * from './usage-interval.entity';

export * from './webhook.entity';
export * from './webhook-delivery.entity';
export * from './audit-entry.entity';

export const ENTITIES = [
  ProjectEntity,
  ApiTokenEntity,
  EnrollmentTokenEntity,
  AgentEntity,
  HostEntity,
  TemplateEntity,
  InstanceEntity,
  OperationEntity,
  OutboxEntity,
  EventEntity,
  PlacementGroupEntity,
  InstanceSnapshotEntity,
  UsageIntervalEntity,

  WebhookEntity,
  WebhookDeliveryEntity,
  AuditEntryEntity,
];
