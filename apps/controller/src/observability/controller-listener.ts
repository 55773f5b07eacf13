import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@hyperplane/config';
import { HealthServer, startHealthServer } from '@hyperplane/observability';
import { ControllerMetrics } from './controller-metrics';

/**
 * The controller serves no API; with HYPERPLANE_CONTROLLER_PORT set it listens there for
 * `/healthz`, `/readyz` (PostgreSQL and Redis reachable) and `/metrics`.
 */
@Injectable()
export class ControllerListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: HealthServer | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: ControllerMetrics,
  ) {}

  /** The port it listens on (null when off). */
  get port(): number | null {
    return this.server?.port ?? null;
  }

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.HYPERPLANE_CONTROLLER_PORT;
    if (!port) return;
    this.server = await startHealthServer({ port, bind: this.config.HYPERPLANE_METRICS_BIND, checks: this.metrics.readinessChecks() });
    new Logger('controller').log(`health and metrics on http://${this.config.HYPERPLANE_METRICS_BIND}:${this.server.port}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }
}
