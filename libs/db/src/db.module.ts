import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Database } from './database';
import { createDataSource, survivePoolClientErrors } from './data-source';
import { usePreparedStatements } from './prepared-statements';
import { AgentRepository } from './repositories/agent.repository';
import { EventRepository } from './repositories/event.repository';
import { HostRepository } from './repositories/host.repository';
import { InstanceRepository } from './repositories/instance.repository';
import { OperationRepository } from './repositories/operation.repository';
import { OutboxRepository } from './repositories/outbox.repository';
import { PlacementGroupRepository } from './repositories/placement-group.repository';
import { SnapshotRepository } from './repositories/snapshot.repository';
import { ProjectRepository } from './repositories/project.repository';
import { TemplateRepository } from './repositories/template.repository';
import { TokenRepository } from './repositories/token.repository';
import { UsageRepository } from './repositories/usage.repository';

import { WebhookRepository } from './repositories/webhook.repository';
import { AuditRepository } from './repositories/audit.repository';

export const DB_OPTIONS = Symbol('DB_OPTIONS');

export interface DbModuleOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
  /** Statements prepared once per connection (see StatementNames); not behind a transaction-mode pooler. */
  preparedStatements?: boolean;
}

@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

const REPOSITORIES = [
  AgentRepository,
  EventRepository,
  OutboxRepository,
  HostRepository,
  InstanceRepository,
  OperationRepository,
  ProjectRepository,
  TemplateRepository,
  TokenRepository,
  PlacementGroupRepository,
  SnapshotRepository,
  UsageRepository,

  WebhookRepository,
  AuditRepository,
];

/** PostgreSQL for an app: the data source, the transaction helper and every repository. */
@Global()
@Module({})
export class DbModule {
  static forRoot(options: DbModuleOptions): DynamicModule {
    return {
      module: DbModule,
      providers: [
        {
          provide: DataSource,
          useFactory: async () => {
            const ds = survivePoolClientErrors(await createDataSource(options).initialize());
            return options.preparedStatements ? usePreparedStatements(ds) : ds;
          },
        },
        { provide: Database, useFactory: (ds: DataSource) => new Database(ds), inject: [DataSource] },
        { provide: AgentRepository, useFactory: (db: Database) => new AgentRepository(db), inject: [Database] },
        { provide: EventRepository, useFactory: (db: Database) => new EventRepository(db), inject: [Database] },
        { provide: OutboxRepository, useFactory: (db: Database) => new OutboxRepository(db), inject: [Database] },
        { provide: ProjectRepository, useFactory: (db: Database) => new ProjectRepository(db), inject: [Database] },
        { provide: UsageRepository, useFactory: (db: Database) => new UsageRepository(db), inject: [Database] },
        { provide: TemplateRepository, useFactory: (db: Database) => new TemplateRepository(db), inject: [Database] },
        { provide: TokenRepository, useFactory: (db: Database) => new TokenRepository(db), inject: [Database] },
        { provide: SnapshotRepository, useFactory: (db: Database) => new SnapshotRepository(db), inject: [Database] },
        { provide: PlacementGroupRepository, useFactory: (db: Database) => new PlacementGroupRepository(db), inject: [Database] },
        { provide: WebhookRepository, useFactory: (db: Database) => new WebhookRepository(db), inject: [Database] },
        { provide: AuditRepository, useFactory: (db: Database) => new AuditRepository(db), inject: [Database] },
        ...[HostRepository, InstanceRepository, OperationRepository].map((Repo) => ({
          provide: Repo,
          useFactory: (db: Database, events: EventRepository) => new Repo(db, events),
          inject: [Database, EventRepository],
        })),
        DataSourceCloser,
      ],
      exports: [DataSource, Database, ...REPOSITORIES],
    };
  }
}
