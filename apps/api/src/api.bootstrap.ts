import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppConfig, sessionDatabaseUrl } from '@hyperplane/config';
import { createAppLogger } from '@hyperplane/observability';
import { BUILTIN_TEMPLATES } from '@hyperplane/domain';
import { migrateDatabase, TemplateRepository } from '@hyperplane/db';
import { ApiModule } from './api.module';
import type { Application } from 'express';
import { AgentService } from './agents/agent.service';
import { AGENT_BODY_LIMIT } from './agents/host-inventory.dto';
import { BATCH_DELETE_BODY_LIMIT } from './instances/batch-delete.dto';
import { AuthThrottle } from './auth/auth-throttle';
import { authenticateFirst } from './auth/authenticate-first';
import { TokenService } from './auth/token.service';
import { bodyErrors, jsonBody, limitBytes } from './common/body-parsing';
import { pathEncodingCheck } from './common/path-encoding';
import { securityHeaders } from './common/security-headers';
import { portalStatic } from './portal/portal-static';
import { ProblemFilter } from './common/problem.filter';
import { createValidationPipe } from './common/validation';
import { requestObserver } from './observability/request-observer.middleware';
import { auditTrail } from './audit/audit.middleware';
import { AuditService } from './audit/audit.service';

export type ResolvedConfig = AppConfig & { DATABASE_URL: string; REDIS_URL: string };

export async function createApiApp(config: ResolvedConfig): Promise<INestApplication> {
  if (config.HYPERPLANE_MIGRATE) await migrateDatabase(sessionDatabaseUrl(config));
  const app = await NestFactory.create(ApiModule.forRoot(config), { bodyParser: false, logger: createAppLogger(config) });
  // First: every request gets its id and is timed, whatever happens to it next.
  app.use(requestObserver());
  const http = app.getHttpAdapter().getInstance() as Application;
  http.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(pathEncodingCheck(http));
  // The portal (dist/portal) at /, before auth: its files are public, its data comes from /v1.
  app.use(portalStatic());
  // Who is asking is settled from the headers before any body is read (or its size matters).
  // Before authentication and the body parser, so that their refusals are recorded too.
  app.use('/v1', auditTrail(app.get(AuditService)));
  const throttle = new AuthThrottle(config.HYPERPLANE_AUTH_FAILURES_PER_MINUTE);
  app.use('/v1', authenticateFirst(app.get(TokenService), app.get(AgentService), throttle));
  // Agents send inventories in pages of MAX_HOSTS_PER_AGENT_REQUEST hosts; users send far less.
  app.use('/v1/agents', jsonBody(AGENT_BODY_LIMIT), bodyErrors(AGENT_BODY_LIMIT));
  // A batch delete lists up to MAX_BATCH ids (about 390 kB).
  const batchDeleteLimit = limitBytes(config.HYPERPLANE_BODY_LIMIT) > limitBytes(BATCH_DELETE_BODY_LIMIT) ? config.HYPERPLANE_BODY_LIMIT : BATCH_DELETE_BODY_LIMIT;
  app.use('/v1/instances/batch-delete', jsonBody(batchDeleteLimit), bodyErrors(batchDeleteLimit));
  app.use(jsonBody(config.HYPERPLANE_BODY_LIMIT));
  app.use(bodyErrors(config.HYPERPLANE_BODY_LIMIT));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemFilter());
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Hyperplane')
      .setDescription('One control plane for containers and virtual machines on Linux, Windows and macOS hosts. Every change is an operation.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });

  await app.get(TemplateRepository).upsertBuiltins(BUILTIN_TEMPLATES);
  await app.get(TokenService).bootstrapAdmin(config.HYPERPLANE_ADMIN_TOKEN);
  await app.get(TokenService).bootstrapEnrollment(config.HYPERPLANE_ENROLLMENT_TOKEN);
  await app.init();
  return app;
}

export async function startApi(config: ResolvedConfig): Promise<{ app: INestApplication; url: string }> {
  const app = await createApiApp(config);
  await app.listen(config.PORT, config.HYPERPLANE_BIND);
  const address = (app.getHttpServer() as { address(): { port: number } | string }).address();
  const port = typeof address === 'string' ? config.PORT : address.port;
  const url = `http://${config.HYPERPLANE_BIND === '0.0.0.0' ? '127.0.0.1' : config.HYPERPLANE_BIND}:${port}`;
  new Logger('api').log(`listening on ${url} (docs: ${url}/docs)`);
  return { app, url };
}

