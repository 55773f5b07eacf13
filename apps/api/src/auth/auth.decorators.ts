import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { Role } from '@hyperplane/domain';
import type { Request } from 'express';
import { Principal } from './principal';

export const PUBLIC_KEY = 'hp:public';
export const ROLES_KEY = 'hp:roles';
export const FLEET_KEY = 'hp:fleet';

/** No bearer token needed (health checks, docs, agent endpoints with their own credential). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);

/** Only these roles may call. */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator => SetMetadata(ROLES_KEY, roles);

/** Only tokens that are not limited to projects may call (fleet inventory, administration). */
export const FleetWide = (): MethodDecorator & ClassDecorator => SetMetadata(FLEET_KEY, true);

export type AuthedRequest = Request & { principal?: Principal };

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a public route');
  return principal;
});
