import { DynamicModule, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Redis } from 'ioredis';
import { AppConfig, preparedStatements, sessionDatabaseUrl } from '@hyperplane/config';
import { Database, DbModule, OperationRepository, OverviewRepository, PgListener } from '@hyperplane/db';
import { createRedis, HeartbeatStore, JobQueue, LeaseStore, RedisSettings, WebhookDestinations } from '@hyperplane/queue';
import { readFileSync } from 'node:fs';
import { AdminController } from './admin/admin.controller';
import { AgentController } from './agents/agent.controller';
import { AgentService } from './agents/agent.service';
import { AgentRedisService, API_REDIS } from './agents/agent-redis.service';
import { AuthGuard } from './auth/auth.guard';
import { TOKENS_LISTENER, TokenService } from './auth/token.service';
import { EventController } from './events/event.controller';
import { EVENTS_LISTENER, EventHub } from './events/event-hub.service';
import { EventStreams } from './events/event-stream.service';
import { HealthController, REDIS_PING } from './health/health.controller';
import { HostController } from './hosts/host.controller';
import { MetricsController } from './observability/metrics.controller';
import { HostService } from './hosts/host.service';
import { InstanceController } from './instances/instance.controller';
import { InstanceService } from './instances/instance.service';
import { API_READ_QUEUE, InstanceConsoleService } from './instances/instance-console.service';
import { InstanceChangeController } from './instances/instance-change.controller';
import { InstanceChangeService } from './instances/instance-change.service';
import { OperationController } from './operations/operation.controller';
import { OperationService } from './operations/operation.service';
import { OperationSubmitter } from './operations/operation-submitter.service';
import { OperationWaiters } from './operations/operation-waiters';
import { ProjectScope } from './projects/project-scope.service';
import { TemplateController } from './templates/template.controller';
import { PlacementGroupController } from './placement/placement-group.controller';
import { PlacementController } from './placement/placement.controller';
import { UsageController } from './projects/usage.controller';
import { UsageService } from './projects/usage.service';
import { RateLimiter } from './auth/rate-limiter';
import { PreviewService } from './placement/preview.service';
import { AuditController } from './audit/audit.controller';
import { AuditService } from './audit/audit.service';
import { RequestQueueConsumer } from './integrations/request-queue.consumer';
import { WebhookController } from './webhooks/webhook.controller';
import { API_WEBHOOK_DESTINATIONS, WebhookService } from './webhooks/webhook.service';
import { PortalController } from './portal/portal.controller';

export { API_REDIS };

/** REDIS_URL, with the CA to trust when it is rediss:// behind a private CA. */
export function apiRedisSettings(config: AppConfig & { REDIS_URL: string }): RedisSettings {
  return {
    url: config.REDIS_URL,
    prefix: config.HYPERPLANE_REDIS_PREFIX,
    ...(config.HYPERPLANE_TLS_CA_FILE ? { tlsCa: readFileSync(config.HYPERPLANE_TLS_CA_FILE, 'utf8') } : {}),
  };
}

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(
    @Inject(API_REDIS) private readonly redis: Redis,
    @Inject(API_READ_QUEUE) private readonly reads: JobQueue,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.reads.close().catch(() => undefined);
    await this.redis.quit().catch(() => undefined);
  }
}

/** HTTP only: validates, authorizes, writes PostgreSQL in one transaction; never talks to a host. */
@Module({})
export class ApiModule {
  static forRoot(config: AppConfig & { DATABASE_URL: string; REDIS_URL: string }): DynamicModule {
    return {
      module: ApiModule,
      imports: [DbModule.forRoot({ url: config.DATABASE_URL, applicationName: 'hyperplane-api', poolSize: 20, preparedStatements: preparedStatements(config) })],
      controllers: [
        HealthController,
        MetricsController,
        InstanceController,
        InstanceChangeController,
        OperationController,
        HostController,
        TemplateController,
        EventController,
        AgentController,
        AdminController,
        PlacementGroupController,
        PlacementController,
        UsageController,
        WebhookController,
        AuditController,
        PortalController,
      ],
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: API_REDIS, useFactory: () => createRedis(apiRedisSettings(config), 'api', { maxRetriesPerRequest: 1 }) },
        { provide: HeartbeatStore, useFactory: (redis: Redis) => new HeartbeatStore(redis, config.HYPERPLANE_REDIS_PREFIX), inject: [API_REDIS] },
        // HA: a lost host with HA instances is removed only once its lease has run out (hosts/host.service.ts).
        { provide: LeaseStore, useFactory: (redis: Redis) => new LeaseStore(redis, config.HYPERPLANE_REDIS_PREFIX), inject: [API_REDIS] },
        { provide: REDIS_PING, useFactory: (redis: Redis) => () => redis.ping(), inject: [API_REDIS] },
        { provide: EVENTS_LISTENER, useFactory: () => new PgListener(sessionDatabaseUrl(config)) },
        { provide: TOKENS_LISTENER, useFactory: () => new PgListener(sessionDatabaseUrl(config)) },
        { provide: RateLimiter, useFactory: (redis: Redis) => new RateLimiter(redis, config.HYPERPLANE_REDIS_PREFIX, config.HYPERPLANE_RATE_LIMIT_PER_MINUTE), inject: [API_REDIS] },
        { provide: APP_GUARD, useClass: AuthGuard },
        // Reads answered by agents (console logs): a job on the host's queue, never a call to the host.
        { provide: API_READ_QUEUE, useFactory: () => new JobQueue(apiRedisSettings(config), 'api-reads') },
        InstanceConsoleService,
        RedisCloser,
        TokenService,
        EventHub,
        EventStreams,
        ProjectScope,
        OperationSubmitter,
        InstanceService,
        InstanceChangeService,
        OperationService,
        OperationWaiters,
        AgentService,
        AgentRedisService,
        PreviewService,
        HostService,
        UsageService,
        { provide: API_WEBHOOK_DESTINATIONS, useFactory: () => new WebhookDestinations(config.HYPERPLANE_WEBHOOK_ALLOWED_NETWORKS) },
        WebhookService,
        AuditService,
        {
          provide: RequestQueueConsumer,
          useFactory: (t: TokenService, i: InstanceService, c: InstanceChangeService, o: OperationRepository, w: OperationWaiters, a: AuditService) => new RequestQueueConsumer(config, t, i, c, o, w, a),
          inject: [TokenService, InstanceService, InstanceChangeService, OperationRepository, OperationWaiters, AuditService],
        },
        { provide: OverviewRepository, useFactory: (db: Database) => new OverviewRepository(db), inject: [Database] },
      ],
    };
  }
}
