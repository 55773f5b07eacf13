import { Controller, Get, Header } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { metricsRegistry } from '@hyperplane/observability';
import { FleetWide } from '../auth/auth.decorators';

/**
 * Prometheus metrics of this process (in the all-in-one: the api, the controller and the
 * agent). Any fleet-wide token may read them (a viewer token for Prometheus): they hold no
 * tenant's names, but they do describe the whole fleet, which a project's token does not see.
 */
@ApiTags('health')
@ApiBearerAuth()
@FleetWide()
@Controller('metrics')
export class MetricsController {
  @Get()
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format' })
  @Header('Content-Type', metricsRegistry.contentType)
  @Header('Cache-Control', 'no-store')
  metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
