import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Role } from '@hyperplane/domain';
import { ApiTokenEntity, TokenRepository } from '@hyperplane/db';
import { Principal } from './principal';
import { hashSecret, newSecret } from './secrets';

const CACHE_MS = 10_000;

export interface IssuedToken {
  token: ApiTokenEntity;
  /** Shown once; only its hash is kept. */
  secret: string;
}

@Injectable()
export class TokenService {
  private readonly log = new Logger('auth');
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(private readonly tokens: TokenRepository) {}

  /**
   * The principal for a bearer secret, or null. Results are cached for 10 s, so a revoked
   * token stops working within that time on every replica.
   */
  async authenticate(secret: string): Promise<Principal | null> {
    const hash = hashSecret(secret);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.principal;
    const token = await this.tokens.findApiToken(hash);
    const valid = token && !token.revokedAt && (!token.expiresAt || token.expiresAt.getTime() > now);
    const principal: Principal | null = valid
      ? { tokenId: token.id, name: token.name, role: token.role, projectIds: token.projectId ? [token.projectId] : null }
      : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, until: now + CACHE_MS });
    return principal;
  }

  async issue(input: { name: string; role: Role; projectId: string | null; createdBy: string | null; expiresInS?: number; secret?: string }): Promise<IssuedToken> {
    const secret = input.secret ?? newSecret('api');
    const token: Partial<ApiTokenEntity> = {
      id: randomUUID(),
      name: input.name,
      role: input.role,
      projectId: input.projectId,
      createdBy: input.createdBy,
      secretHash: hashSecret(secret),
      prefix: secret.slice(0, 10),
      expiresAt: input.expiresInS ? new Date(Date.now() + input.expiresInS * 1000) : null,
      revokedAt: null,
    };
    await this.tokens.insertApiToken(token);
    return { token: token as ApiTokenEntity, secret };
  }

  /**
   * At first start, an admin token: HYPERPLANE_ADMIN_TOKEN when set, else a random one that is
   * printed once. Later starts create nothing (the configured token is only added if missing).
   */
  async bootstrapAdmin(configured: string | undefined): Promise<void> {
    if (configured) {
      if (await this.tokens.findApiToken(hashSecret(configured))) return;
      await this.issue({ name: 'bootstrap-admin', role: 'admin', projectId: null, createdBy: null, secret: configured }).catch(() => undefined);
      this.log.log('bootstrap admin token created from HYPERPLANE_ADMIN_TOKEN');
      return;
    }
    if ((await this.tokens.countAdmins()) > 0) return;
    const { secret } = await this.issue({ name: 'bootstrap-admin', role: 'admin', projectId: null, createdBy: null });
    this.log.warn(`bootstrap admin token (shown once, keep it): ${secret}`);
  }

  /**
   * When HYPERPLANE_ENROLLMENT_TOKEN is set on the API too, agents started with the same value
   * enroll without an admin making a token first (docker-compose does this).
   */
  async bootstrapEnrollment(configured: string | undefined): Promise<void> {
    if (!configured) return;
    if (await this.tokens.findEnrollmentToken(hashSecret(configured))) return;
    await this.tokens
      .insertEnrollmentToken({ id: randomUUID(), name: 'bootstrap (HYPERPLANE_ENROLLMENT_TOKEN)', secretHash: hashSecret(configured), maxHosts: null, createdBy: null, expiresAt: null })
      .catch(() => undefined);
    this.log.log('bootstrap enrollment token created from HYPERPLANE_ENROLLMENT_TOKEN');
  }

  async revoke(id: string): Promise<boolean> {
    const done = await this.tokens.revokeApiToken(id);
    this.cache.clear();
    return done;
  }
}
