import { DynamicModule, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, preparedStatements, sessionDatabaseUrl } from '@hyperplane/config';
import { DbModule, PgListener, WebhookRepository } from '@hyperplane/db';
import { readFileSync } from 'node:fs';
import { HeartbeatStore, JobQueue, LeaseStore, RedisSettings, WebhookDestinations } from '@hyperplane/queue';
import { HaRecovery } from './ha/ha-recovery';
import { HaWatcher } from './ha/ha.watcher';
import { LostHostDelete } from './operations/lost-host-delete';
import { HostAgents } from './hosts/host-agents';
import { AgentResultsConsumer } from './results/agent-results.consumer';
import { ControllerWorkers } from './controller.workers';
import { DriftService } from './hosts/drift.service';
import { HeartbeatWatcher } from './hosts/heartbeat.watcher';
import { DrainDeadlineWatcher } from './hosts/drain-deadline.watcher';
import { BatchDeleter } from './operations/batch.deleter';
import { BatchPlacer } from './operations/batch.placer';
import { BatchWatcher } from './operations/batch.watcher';
import { OperationRunner } from './operations/operation.runner';
import { OperationInterrupts } from './operations/operation-interrupts';
import { OperationOutcomes } from './operations/operation-outcomes';
import { HostCommandSender } from './operations/host-command.sender';
import { OPERATION_HANDLER_TYPES } from './operations/handlers';
import { CreateRetry } from './operations/handlers/create-retry';
import { OperationHandlers } from './operations/operation-handlers.registry';
import { OperationHandler } from './operations/operation-handler';
import { NOTIFY_LISTENER } from './notify-listener';
import { ControllerListener } from './observability/controller-listener';
import { ControllerMetrics } from './observability/controller-metrics';
import { OutboxRelay } from './outbox/outbox.relay';
import { PlacementService } from './placement/placement.service';
import { Reconciler } from './reconcile/reconciler';
import { Rescheduler } from './placement/rescheduler';
import { ResultApplier } from './results/result.applier';
import { ResultBatcher } from './results/result.batcher';
import { RetentionPruner } from './webhooks/retention.pruner';
import { WEBHOOK_DESTINATIONS, WebhookDeliverer } from './webhooks/webhook-deliverer';
import { WebhookRelay } from './webhooks/webhook.relay';

@Injectable()
class QueueCloser implements OnApplicationShutdown {
  constructor(@Inject(JobQueue) private readonly queue: JobQueue) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
  }
}

export type ControllerConfig = AppConfig & { DATABASE_URL: string; REDIS_URL: string };

/** REDIS_URL, with the CA to trust when it is rediss:// behind a private CA. */
function controllerRedis(config: ControllerConfig): RedisSettings {
  return {
    url: config.REDIS_URL,
    prefix: config.HYPERPLANE_REDIS_PREFIX,
    ...(config.HYPERPLANE_TLS_CA_FILE ? { tlsCa: readFileSync(config.HYPERPLANE_TLS_CA_FILE, 'utf8') } : {}),
  };
}

/** Relays the outbox, places, dispatches, ingests results, watches hosts, rebuilds lost work. */
@Module({})
export class ControllerModule {
  static forRoot(config: ControllerConfig): DynamicModule {
    return {
      module: ControllerModule,
      imports: [DbModule.forRoot({ url: config.DATABASE_URL, applicationName: 'hyperplane-controller', poolSize: 20, preparedStatements: preparedStatements(config) })],
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: JobQueue, useFactory: () => new JobQueue(controllerRedis(config), 'controller') },
        { provide: HeartbeatStore, useFactory: (q: JobQueue) => new HeartbeatStore(q.connection, config.HYPERPLANE_REDIS_PREFIX), inject: [JobQueue] },
        { provide: LeaseStore, useFactory: (q: JobQueue) => new LeaseStore(q.connection, config.HYPERPLANE_REDIS_PREFIX), inject: [JobQueue] },
        // HA: fencing, recovery of lost hosts' instances (apps/controller/src/ha).
        HaWatcher,
        HaRecovery,
        LostHostDelete,
        { provide: NOTIFY_LISTENER, useFactory: () => new PgListener(sessionDatabaseUrl(config)) },
        QueueCloser,
        ControllerMetrics,
        ControllerListener,
        OutboxRelay,
        PlacementService,
        OperationRunner,
        OperationInterrupts,
        OperationOutcomes,
        HostCommandSender,
        ...OPERATION_HANDLER_TYPES,
        // Checked here, at boot: a kind without a handler (or with two) stops the controller.
        { provide: OperationHandlers, useFactory: (...handlers: OperationHandler[]) => new OperationHandlers(handlers), inject: [...OPERATION_HANDLER_TYPES] },
        BatchPlacer,
        BatchDeleter,
        BatchWatcher,
        ResultApplier,
        CreateRetry,
        ResultBatcher,
        DriftService,
        HeartbeatWatcher,
        // Drain with a deadline: the evacuation when it passes (hosts/drain-deadline.watcher.ts).
        DrainDeadlineWatcher,
        Reconciler,
        Rescheduler,
        HostAgents,
        AgentResultsConsumer,
        { provide: WEBHOOK_DESTINATIONS, useFactory: () => new WebhookDestinations(config.HYPERPLANE_WEBHOOK_ALLOWED_NETWORKS) },
        { provide: WebhookDeliverer, useFactory: (w: WebhookRepository, d: WebhookDestinations) => new WebhookDeliverer(config, w, d), inject: [WebhookRepository, WEBHOOK_DESTINATIONS] },
        WebhookRelay,
        RetentionPruner,
        {
          provide: ControllerWorkers,
          useFactory: (r: OperationRunner, i: OperationInterrupts, c: AgentResultsConsumer) => new ControllerWorkers(config, controllerRedis(config), r, i, c),
          inject: [OperationRunner, OperationInterrupts, AgentResultsConsumer],
        },
      ],
    };
  }
}
