import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '@hyperplane/config';
import { Role } from '@hyperplane/domain';
import { ApiTokenEntity, EnrollmentTokenEntity, pgErrorCode, PG_UNIQUE_VIOLATION, PgListener, ProjectRepository, TokenRepository, TOKENS_CHANNEL } from '@hyperplane/db';
import { Principal } from './principal';
import { hashSecret, newSecret } from './secrets';

const CACHE_MS = 10_000;

export const TOKENS_LISTENER = Symbol('TOKENS_LISTENER');

/** Where the admin token a newcomer needs came from. */
export type BootstrapOrigin = { kind: 'new'; secret: string } | { kind: 'configured' } | { kind: 'earlier' };

export interface IssuedToken {
  token: ApiTokenEntity;
  /** Shown once; only its hash is kept. */
  secret: string;
}

export interface IssuedEnrollmentToken {
  token: EnrollmentTokenEntity;
  secret: string;
}

@Injectable()
export class TokenService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('auth');
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  /** Bumped at every invalidation: a lookup that began before one must not be cached. */
  private generation = 0;

  constructor(
    private readonly tokens: TokenRepository,
    private readonly projects: ProjectRepository,
    private readonly config: AppConfig,
    @Inject(TOKENS_LISTENER) private readonly listener: PgListener,
  ) {}

  async onModuleInit(): Promise<void> {
    // A trigger NOTIFYs at every change of api_tokens, whichever process (or psql) made it; the
    // listener also calls back after a reconnect, when notifications may have been missed.
    this.listener.on(TOKENS_CHANNEL, () => this.invalidate());
    await this.listener.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.listener.close();
  }

  /**
   * The principal for a bearer secret, or null. Results are cached for 10 s; a revocation in
   * any API process clears the cache of every process (NOTIFY hp_tokens).
   */
  async authenticate(secret: string): Promise<Principal | null> {
    const hash = hashSecret(secret);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.principal;
    const generation = this.generation;
    const token = await this.tokens.findApiToken(hash);
    const valid = token && !token.revokedAt && (!token.expiresAt || token.expiresAt.getTime() > now);
    const principal: Principal | null = valid
      ? { tokenId: token.id, name: token.name, role: token.role, projectIds: token.projectId ? [token.projectId] : null, requestsPerMinute: await this.rateOf(token) }
      : null;
    if (generation !== this.generation) return principal;
    if (this.cache.size > 10_000) this.cache.clear();
    // Never past the token's expiry.
    const until = Math.min(now + CACHE_MS, token?.expiresAt ? token.expiresAt.getTime() : Infinity);
    this.cache.set(hash, { principal, until });
    return principal;
  }

  /** A token's own rate limit, else its project's (projects.quota.requestsPerMinute), else null. */
  private async rateOf(token: { rateLimitPerMinute: number | null; projectId: string | null }): Promise<number | null> {
    if (token.rateLimitPerMinute !== null) return token.rateLimitPerMinute;
    if (!token.projectId) return null;
    const perMinute = (await this.projects.get(token.projectId))?.quota?.requestsPerMinute;
    return typeof perMinute === 'number' ? perMinute : null;
  }

  async issue(input: { name: string; role: Role; projectId: string | null; createdBy: string | null; expiresInS?: number; secret?: string; requestsPerMinute?: number }): Promise<IssuedToken> {
    const secret = input.secret ?? newSecret('api');
    const token = { ...this.row(input, secret), rateLimitPerMinute: input.requestsPerMinute ?? null };
    await this.tokens.insertApiToken(token);
    return { token: token as ApiTokenEntity, secret };
  }

  /** An enrollment token; without explicit limits it gets the configured expiry and host count. */
  async issueEnrollment(input: { name: string; createdBy: string; maxHosts?: number; expiresInS?: number }): Promise<IssuedEnrollmentToken> {
    const secret = newSecret('enrollment');
    const token: Partial<EnrollmentTokenEntity> = {
      id: randomUUID(),
      name: input.name,
      secretHash: hashSecret(secret),
      maxHosts: input.maxHosts ?? this.config.HYPERPLANE_ENROLLMENT_TOKEN_MAX_HOSTS,
      hostsEnrolled: 0,
      createdBy: input.createdBy,
      expiresAt: new Date(Date.now() + (input.expiresInS ?? this.config.HYPERPLANE_ENROLLMENT_TOKEN_TTL_S) * 1000),
      revokedAt: null,
    };
    await this.tokens.insertEnrollmentToken(token);
    return { token: token as EnrollmentTokenEntity, secret };
  }

  /**
   * At start, the bootstrap admin token: HYPERPLANE_ADMIN_TOKEN when set, else (first start
   * only) a random one that is printed once. A configured value not seen before replaces the
   * previous bootstrap token, which is revoked in the same transaction; a value that was
   * revoked stays revoked.
   */
  /** What the last bootstrapAdmin() did: the all-in-one's banner shows a new token once. */
  bootstrapped: BootstrapOrigin = { kind: 'earlier' };

  async bootstrapAdmin(configured: string | undefined): Promise<void> {
    if (configured) {
      const existing = await this.tokens.findApiToken(hashSecret(configured));
      if (existing) {
        if (existing.revokedAt) this.log.warn('HYPERPLANE_ADMIN_TOKEN is a revoked token and stays revoked: configure a new value');
        this.bootstrapped = { kind: 'configured' };
        return;
      }
      this.bootstrapped = { kind: 'configured' };
      const row = this.row({ name: 'bootstrap-admin', role: 'admin', projectId: null, createdBy: null }, configured);
      const replaced = await this.tokens.replaceBootstrapAdmin(row).catch(ignoreDuplicate(0));
      this.log.log(`bootstrap admin token created from HYPERPLANE_ADMIN_TOKEN${replaced ? `; the previous one (${replaced}) revoked` : ''}`);
      this.invalidate();
      return;
    }
    if ((await this.tokens.countAdmins()) > 0) return;
    const secret = newSecret('api');
    // Not a replacement: two replicas starting on an empty database each print one that works.
    await this.tokens.insertApiToken({ ...this.row({ name: 'bootstrap-admin', role: 'admin', projectId: null, createdBy: null }, secret), bootstrap: true });
    this.bootstrapped = { kind: 'new', secret };
    this.log.warn(`bootstrap admin token (shown once, keep it): ${secret}`);
  }

  /**
   * When HYPERPLANE_ENROLLMENT_TOKEN is set on the API too, agents started with the same value
   * enroll without an admin making a token first (docker-compose does this). It has neither
   * expiry nor host limit, unlike made tokens: agents whose state is lost (a container
   * restarted) enroll again with it. It lives as long as the configuration: a new value revokes
   * the previous one.
   */
  async bootstrapEnrollment(configured: string | undefined): Promise<void> {
    if (!configured) return;
    const existing = await this.tokens.findEnrollmentToken(hashSecret(configured));
    if (existing) {
      if (existing.revokedAt) this.log.warn('HYPERPLANE_ENROLLMENT_TOKEN is a revoked enrollment token and stays revoked: configure a new value');
      return;
    }
    const replaced = await this.tokens
      .replaceBootstrapEnrollment({ id: randomUUID(), name: 'bootstrap (HYPERPLANE_ENROLLMENT_TOKEN)', secretHash: hashSecret(configured), maxHosts: null, createdBy: null, expiresAt: null })
      .catch(ignoreDuplicate(0));
    this.log.log(`bootstrap enrollment token created from HYPERPLANE_ENROLLMENT_TOKEN${replaced ? '; the previous one revoked' : ''}`);
  }

  async revoke(id: string): Promise<boolean> {
    const done = await this.tokens.revokeApiToken(id);
    this.invalidate();
    return done;
  }

  /** Revokes a token and everything minted from it (API tokens transitively, enrollment tokens). */
  async revokeCascade(id: string): Promise<{ tokens: string[]; enrollmentTokens: string[] }> {
    const revoked = await this.tokens.revokeApiTokenCascade(id);
    this.invalidate();
    return revoked;
  }

  private invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private row(input: { name: string; role: Role; projectId: string | null; createdBy: string | null; expiresInS?: number }, secret: string): Partial<ApiTokenEntity> {
    return {
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
  }
}

// Another API process starting with the same configuration inserted it first.
function ignoreDuplicate<T>(value: T): (e: unknown) => T {
  return (e: unknown) => {
    if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) return value;
    throw e;
  };
}
