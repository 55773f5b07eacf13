import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { WebhookDeliveryEntity, WebhookEntity, WebhookRepository } from '@hyperplane/db';
import { DestinationRefused, newWebhookSecret, WebhookDestinations } from '@hyperplane/queue';
import { canChange, canSeeProject, isFleetWide, Principal } from '../auth/principal';
import { problems } from '../common/problem';
import { ProjectScope } from '../projects/project-scope.service';
import { CreateWebhookDto } from './webhook.dto';

export const API_WEBHOOK_DESTINATIONS = Symbol('API_WEBHOOK_DESTINATIONS');

/** Subscriptions: who may make, see and remove them. Deliveries are the controller's. */
@Injectable()
export class WebhookService {
  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly scope: ProjectScope,
    @Inject(API_WEBHOOK_DESTINATIONS) private readonly destinations: WebhookDestinations,
  ) {}

  async create(principal: Principal, dto: CreateWebhookDto): Promise<WebhookEntity> {
    let projectId: string | null;
    if (dto.project === undefined && isFleetWide(principal)) {
      // Every project's events and the hosts': a fleet administrator's subscription.
      if (principal.role !== 'admin') throw problems.forbidden('a fleet-wide webhook needs an admin token; name a project');
      projectId = null;
    } else {
      projectId = (await this.scope.forChange(principal, dto.project)).id;
    }
    // Checked here for a quick answer and again at every delivery (DNS may change).
    try {
      await this.destinations.resolve(new URL(dto.url));
    } catch (e) {
      if (e instanceof DestinationRefused) throw problems.badField('url', e.message);
      throw e;
    }
    return this.webhooks.insert({ id: randomUUID(), url: dto.url, events: dto.events, projectId, secret: newWebhookSecret(), createdBy: principal.tokenId });
  }

  list(principal: Principal, projectIds: string[] | null): Promise<WebhookEntity[]> {
    return this.webhooks.list(projectIds ?? principal.projectIds);
  }

  /** A webhook the token can see; others are reported as missing. */
  async visible(principal: Principal, id: string): Promise<WebhookEntity> {
    const hook = await this.webhooks.get(id);
    const seen = hook && (hook.projectId === null ? isFleetWide(principal) : canSeeProject(principal, hook.projectId));
    if (!hook || !seen) throw problems.notFound('webhook', id);
    return hook;
  }

  async changeable(principal: Principal, id: string): Promise<WebhookEntity> {
    const hook = await this.visible(principal, id);
    const may = hook.projectId === null ? principal.role === 'admin' : canChange(principal, hook.projectId);
    if (!may) throw problems.forbidden(`the token (${principal.role}) may not change webhooks`);
    return hook;
  }

  async remove(principal: Principal, id: string): Promise<void> {
    await this.changeable(principal, id);
    await this.webhooks.delete(id);
  }

  async deliveries(principal: Principal, id: string, limit: number, before?: { createdAt: string; id: string }): Promise<WebhookDeliveryEntity[]> {
    await this.visible(principal, id);
    return this.webhooks.deliveries(id, limit, before ? { createdAt: new Date(before.createdAt), id: before.id } : undefined);
  }

  async redeliver(principal: Principal, id: string, deliveryId: string): Promise<void> {
    await this.changeable(principal, id);
    const delivery = await this.webhooks.delivery(deliveryId);
    if (!delivery || delivery.webhookId !== id) throw problems.notFound('delivery', deliveryId);
    if (delivery.status === 'pending') throw problems.conflict(`delivery ${deliveryId} is still being sent`);
    await this.webhooks.redeliver(deliveryId);
  }
}
