import { INestApplicationContext, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { sessionDatabaseUrl } from '@hyperplane/config';
import { migrateDatabase } from '@hyperplane/db';
import { createAppLogger } from '@hyperplane/observability';
import { ControllerConfig, ControllerModule } from './controller.module';
import { ControllerWorkers } from './controller.workers';
import { ControllerMetrics } from './observability/controller-metrics';
import { OutboxRelay } from './outbox/outbox.relay';
import { Reconciler } from './reconcile/reconciler';
import { OperationInterrupts } from './operations/operation-interrupts';
import { WebhookDeliverer } from './webhooks/webhook-deliverer';

/** Starts a controller replica: relay first, then the rebuild of lost work, then the workers. */
export async function startController(config: ControllerConfig): Promise<INestApplicationContext> {
  if (config.HYPERPLANE_MIGRATE) await migrateDatabase(sessionDatabaseUrl(config));
  const app = await NestFactory.createApplicationContext(ControllerModule.forRoot(config), { logger: createAppLogger(config) });
  app.enableShutdownHooks();
  await app.init();
  await app.get(OutboxRelay).flush();
  await app.get(Reconciler).start();
  await app.get(ControllerWorkers).start();
  app.get(OperationInterrupts).start();
  app.get(WebhookDeliverer).start();
  app.get(ControllerMetrics).started = true;
  new Logger('controller').log('controller started');
  return app;
}
