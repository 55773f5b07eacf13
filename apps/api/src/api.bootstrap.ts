import { INestApplication, LogLevel, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from '@hyperplane/config';
import { BUILTIN_TEMPLATES } from '@hyperplane/domain';
import { createDataSource, runMigrations, TemplateRepository } from '@hyperplane/db';
import { ApiModule } from './api.module';
import { TokenService } from './auth/token.service';
import { bodyErrors, jsonBody } from './common/body-parsing';
import { ProblemFilter } from './common/problem.filter';
import { createValidationPipe } from './common/validation';

export type ResolvedConfig = AppConfig & { DATABASE_URL: string; REDIS_URL: string };

export function logLevels(level: AppConfig['LOG_LEVEL']): LogLevel[] {
  const order: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
  return order.slice(0, order.indexOf(level) + 1);
}

/** Runs migrations (when configured) on a short-lived connection, before anything else starts. */
export async function migrate(config: ResolvedConfig): Promise<void> {
  const ds = await createDataSource({ url: config.DATABASE_URL, poolSize: 2, applicationName: 'hyperplane-migrate' }).initialize();
  try {
    const done = await runMigrations(ds);
    if (done.length) new Logger('db').log(`applied migrations: ${done.join(', ')}`);
  } finally {
    await ds.destroy();
  }
}

export async function createApiApp(config: ResolvedConfig): Promise<INestApplication> {
  if (config.HYPERPLANE_MIGRATE) await migrate(config);
  const app = await NestFactory.create(ApiModule.forRoot(config), { bodyParser: false, logger: logLevels(config.LOG_LEVEL) });
  app.use(jsonBody(config.HYPERPLANE_BODY_LIMIT));
  app.use(bodyErrors(config.HYPERPLANE_BODY_LIMIT));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemFilter());
  app.enableShutdownHooks();
  const getHttp = app.getHttpAdapter().getInstance() as { disable?: (s: string) => void };
  getHttp.disable?.('x-powered-by');

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
  await app.init();
  return app;
}

export async function startApi(config: ResolvedConfig): Promise<{ app: INestApplication; url: string }> {
  const app = await createApiApp(config);
  await app.listen(config.PORT, config.HYPERPLANE_BIND);
  const address = app.getHttpServer().address() as { port: number } | string;
  const port = typeof address === 'string' ? config.PORT : address.port;
  const url = `http://${config.HYPERPLANE_BIND === '0.0.0.0' ? '127.0.0.1' : config.HYPERPLANE_BIND}:${port}`;
  new Logger('api').log(`listening on ${url} (docs: ${url}/docs)`);
  return { app, url };
}

