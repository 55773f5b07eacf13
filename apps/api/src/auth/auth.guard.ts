import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { Role } from '@hyperplane/domain';
import { problems } from '../common/problem';
import { AuthedRequest, FLEET_KEY, PUBLIC_KEY, ROLES_KEY } from './auth.decorators';
import { Principal } from './principal';
import { bearer } from './secrets';
import { RateLimiter } from './rate-limiter';
import { TokenService } from './token.service';

/** Every route needs a valid bearer token unless marked @Public(). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    // Normally authenticateFirst has already done this, before the body was read.
    const principal = req.principal ?? (await this.authenticate(req));
    req.principal = principal;
    // Rate limits are for authenticated callers (failed authentication has its own throttle).
    const taken = await this.limiter.take(principal.tokenId, principal.requestsPerMinute);
    if (taken) {
      const res = ctx.switchToHttp().getResponse<Response>();
      res.setHeader('RateLimit-Policy', taken.headers['RateLimit-Policy']);
      res.setHeader('RateLimit', taken.headers.RateLimit);
      if (taken.over) throw taken.over;
    }
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (roles && !roles.includes(principal.role)) {
      throw problems.forbidden(`this needs the role ${roles.join(' or ')}; the token has ${principal.role}`);
    }
    if (this.reflector.getAllAndOverride<boolean>(FLEET_KEY, targets) && principal.projectIds !== null) {
      throw problems.forbidden('this needs a fleet-wide token; the token is limited to a project');
    }
    return true;
  }

  private async authenticate(req: AuthedRequest): Promise<Principal> {
    const secret = bearer(req.headers.authorization);
    if (!secret) throw problems.unauthorized('send Authorization: Bearer <token>');
    const principal = await this.tokens.authenticate(secret);
    if (!principal) throw problems.unauthorized('the token is unknown, expired or revoked');
    return principal;
  }
}
