import { Controller, Get, HttpCode, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Database } from '@hyperplane/db';
import { Public } from '../auth/auth.decorators';
import { problems } from '../common/problem';

export const REDIS_PING = Symbol('REDIS_PING');
export type RedisPing = () => Promise<unknown>;

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly db: Database,
    @Inject(REDIS_PING) private readonly pingRedis: RedisPing,
  ) {}

  /** The process is alive. */
  @Get('healthz')
  @HttpCode(200)
  @ApiOkResponse()
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** PostgreSQL and Redis answer within a second. */
  @Get('readyz')
  @ApiOkResponse()
  @ApiServiceUnavailableResponse()
  async readyz(): Promise<{ status: 'ready'; postgres: 'ok'; redis: 'ok' }> {
    const within = <T>(p: Promise<T>): Promise<T> =>
      Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000))]);
    const [pg, redis] = await Promise.allSettled([within(this.db.ping()), within(this.pingRedis())]);
    const down = [pg.status === 'rejected' ? 'PostgreSQL' : null, redis.status === 'rejected' ? 'Redis' : null].filter(Boolean);
    if (down.length > 0) throw problems.unavailable(`not reachable: ${down.join(', ')}`);
    return { status: 'ready', postgres: 'ok', redis: 'ok' };
  }
}

