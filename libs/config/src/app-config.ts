import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { plainToInstance, Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min, registerDecorator, validateSync } from 'class-validator';
import { parseRedisUrl, redisKeyPrefix } from './redis-url';

// Implicit conversion would make the string 'false' true; read the raw value instead.
const toBool = ({ obj, key }: { obj: Record<string, unknown>; key: string }): unknown => {
  const raw = obj[key];
  return typeof raw === 'string' ? ['1', 'true', 'yes', 'on'].includes(raw.toLowerCase()) : raw;
};

/** REDIS_URL parses (single, cluster or sentinel); the message says what is wrong. */
function IsRedisUrl(): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'isRedisUrl',
      target: target.constructor,
      propertyName: property as string,
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          try {
            parseRedisUrl(value);
            return true;
          } catch {
            return false;
          }
        },
        defaultMessage: (args) => {
          try {
            parseRedisUrl(String(args?.value));
            return 'REDIS_URL is invalid';
          } catch (e) {
            return (e as Error).message;
          }
        },
      },
    });
}

const RATIOS = /^(vcpus|memoryMiB|diskGiB)=\d+(\.\d+)?(,(vcpus|memoryMiB|diskGiB)=\d+(\.\d+)?)*$/;

/**
 * Every environment variable Hyperplane reads, validated once at start. `.env.example` lists
 * them with their defaults; keep the two in step.
 */
export class AppConfig {
  /**
   * PostgreSQL URL of the connection pool: PostgreSQL itself, or a PgBouncer in transaction
   * mode (then set HYPERPLANE_DATABASE_SESSION_URL). Unset in the all-in-one: localhost:5432
   * if reachable, else an embedded server.
   */
  @IsOptional() @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  /**
   * A direct PostgreSQL URL (not through a transaction-mode pooler) for what needs a session:
   * the LISTEN connections that wake relays and event streams, and the migrations' advisory
   * lock. Unset: DATABASE_URL.
   */
  @IsOptional() @Matches(/^postgres(ql)?:\/\//, { message: 'HYPERPLANE_DATABASE_SESSION_URL must be a postgres:// URL' })
  HYPERPLANE_DATABASE_SESSION_URL?: string;

  /**
   * Send the pool's statements as prepared statements (parsed once per connection). Off
   * whenever HYPERPLANE_DATABASE_SESSION_URL is set: a transaction-mode pooler's connections
   * are not the sessions a statement was prepared in.
   */
  @Transform(toBool) @IsBoolean()
  HYPERPLANE_DATABASE_PREPARED_STATEMENTS: boolean = true;

  /**
   * Redis URL; the scheme says the topology: redis:// (one Redis), redis+cluster://h1:p1,h2:p2
   * (a Redis Cluster, seed nodes), redis+sentinel://s1:p1,s2:p2/master (Sentinel); rediss… for
   * TLS. Unset in the all-in-one: localhost:6379 if reachable, else redis-server from the PATH.
   */
  @IsOptional() @IsRedisUrl()
  REDIS_URL?: string;

  /**
   * Prefix of every Redis key, so several installations can share one Redis. On a cluster it
   * becomes a hash tag (`hp` → `{hp}`) so that each installation's keys share one slot.
   */
  @IsString() @Matches(/^([a-zA-Z0-9_-]{1,32}|\{[a-zA-Z0-9_-]{1,32}\})$/, { message: 'HYPERPLANE_REDIS_PREFIX must be 1 to 32 letters, digits, _ or - (optionally in {braces})' })
  HYPERPLANE_REDIS_PREFIX: string = 'hp';

  /**
   * A Redis user per agent, limited to its own queues (the API makes them with ACL SETUSER).
   * auto: when the Redis has ACLs and the API's connection may make users; on: refuse to start
   * otherwise; off: every agent uses REDIS_URL's credential.
   */
  @IsIn(['auto', 'on', 'off'])
  HYPERPLANE_REDIS_AGENT_ACL: 'auto' | 'on' | 'off' = 'auto';

  /** PEM file of the CA to trust for https:// API URLs and rediss:// Redis URLs (a private CA); the system's otherwise. */
  @IsOptional() @IsString()
  HYPERPLANE_TLS_CA_FILE?: string;

  @IsInt() @Min(0) @Max(65535)
  PORT: number = 3000;

  /** Address the API listens on. */
  @IsString()
  HYPERPLANE_BIND: string = '127.0.0.1';

  /** The bootstrap admin token's value; when unset, a random one is made and printed once. A new value revokes the previous one. */
  @IsOptional() @IsString() @Matches(/^\S{16,256}$/, { message: 'HYPERPLANE_ADMIN_TOKEN must be 16 to 256 non-blank characters' })
  HYPERPLANE_ADMIN_TOKEN?: string;

  /** Where the all-in-one keeps an embedded database, redis and agent state. */
  @IsString()
  HYPERPLANE_DATA_DIR: string = '.data';

  /** Largest request body the API accepts. */
  @IsString() @Matches(/^\d+(b|kb|mb)$/)
  HYPERPLANE_BODY_LIMIT: string = '256kb';

  /**
   * Failed authentications one source (IP address) may make per minute before the API answers
   * 429 without checking what it sends. 0 turns the throttle off.
   */
  @IsInt() @Min(0)
  HYPERPLANE_AUTH_FAILURES_PER_MINUTE: number = 30;

  /**
   * Requests per minute per API token, shared by every API process through Redis (0: off).
   * Generous by default; a token's own limit, else its project's quota.requestsPerMinute, wins.
   */
  @IsInt() @Min(0)
  HYPERPLANE_RATE_LIMIT_PER_MINUTE: number = 60000;

  /** How long an enrollment token lives when its maker gives no `expiresInS` (default one day). */
  @IsInt() @Min(60) @Max(31_536_000)
  HYPERPLANE_ENROLLMENT_TOKEN_TTL_S: number = 86_400;

  /** How many hosts an enrollment token enrolls when its maker gives no `maxHosts`. */
  @IsInt() @Min(1) @Max(1_000_000)
  HYPERPLANE_ENROLLMENT_TOKEN_MAX_HOSTS: number = 100;

  /** Run migrations when the api (or all-in-one) starts. */
  @Transform(toBool) @IsBoolean()
  HYPERPLANE_MIGRATE: boolean = true;

  /** Event streams (GET /v1/events) one token may hold open at once in one API process. */
  @IsInt() @Min(1) @Max(10_000)
  HYPERPLANE_EVENTS_MAX_PER_TOKEN: number = 20;

  /** A live event stream whose unsent data passes this many KiB is dropped (its reader is too slow). */
  @IsInt() @Min(16) @Max(65_536)
  HYPERPLANE_EVENTS_BUFFER_KB: number = 1024;

  /** A replaying event stream whose reader takes nothing for this long is dropped. */
  @IsInt() @Min(1) @Max(3600)
  HYPERPLANE_EVENTS_STALL_S: number = 30;

  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';

  /** `auto`: text on a terminal, JSON lines (with request ids) otherwise; `json` or `pretty` to choose. */
  @IsIn(['auto', 'json', 'pretty'])
  LOG_FORMAT: 'auto' | 'json' | 'pretty' = 'auto';

  /**
   * Address of the controller's and the agent's own listeners (/healthz, /readyz, /metrics),
   * which have no authentication: keep it on a private network.
   */
  @IsString()
  HYPERPLANE_METRICS_BIND: string = '127.0.0.1';

  // --- agent ---------------------------------------------------------------------------

  /** The API an agent enrolls with. */
  @IsString()
  HYPERPLANE_API_URL: string = 'http://127.0.0.1:3000';

  /**
   * The enrollment token an agent presents the first time. Set on the API as well, it is made
   * there at start, so agents can join without an admin creating a token first.
   */
  @IsOptional() @IsString()
  HYPERPLANE_ENROLLMENT_TOKEN?: string;

  /** Run a real agent for this machine (all-in-one). */
  @Transform(toBool) @IsBoolean()
  HYPERPLANE_LOCAL_AGENT: boolean = true;

  /** Simulated hosts one agent process stands in for. */
  @IsInt() @Min(0) @Max(100_000)
  HYPERPLANE_SIM_HOSTS: number = 0;

  /** Multiplies every simulated duration (0 = instant, 0.01 for tests). */
  @IsNumber() @Min(0) @Max(100)
  HYPERPLANE_SIM_TIME_SCALE: number = 1;

  /** Injected faults, e.g. `create.transient=0.02,start.fatal=0.001`. */
  @IsString() @Matches(/^([a-z]+\.(transient|fatal)=(0|1|0?\.\d+)(,|$))*$/, { message: 'HYPERPLANE_SIM_FAULTS must look like create.transient=0.02,start.fatal=0.001' })
  HYPERPLANE_SIM_FAULTS: string = '';

  @IsInt() @Min(0)
  HYPERPLANE_SIM_SEED: number = 1;

  /** Where the qemu driver finds VM images (read by the driver itself; validated here). */
  @IsOptional() @IsString()
  HYPERPLANE_IMAGE_DIR?: string;

  /** Another prlctl than the one on the PATH; prlsrvctl is looked for beside it (read by the driver). */
  @IsOptional() @IsString()
  HYPERPLANE_PRLCTL?: string;

  /** Another PowerShell host than `powershell` on the PATH, for the Hyper-V driver (read by the driver). */
  @IsOptional() @IsString()
  HYPERPLANE_POWERSHELL?: string;

  /** Where the Hyper-V driver finds base disks named like templates (default <agent data>/drivers/hyperv/templates). */
  @IsOptional() @IsString()
  HYPERPLANE_HYPERV_TEMPLATE_DIR?: string;

  /** Another docker than the one on the PATH, for Windows containers (read by the driver). */
  @IsOptional() @IsString()
  HYPERPLANE_DOCKER?: string;

  /** Isolation modes this Windows host offers its containers: process, hyperv, or both (Hyper-V needs the role). */
  @IsString() @Matches(/^(process|hyperv)(,(process|hyperv))?$/, { message: 'HYPERPLANE_DOCKER_ISOLATION must be process, hyperv or process,hyperv' })
  HYPERPLANE_DOCKER_ISOLATION: string = 'process';

  /** Offer Windows templates whose image this host must pull first (read by the driver). */
  @Transform(toBool) @IsBoolean()
  HYPERPLANE_DOCKER_PULL: boolean = false;

  @IsInt() @Min(1) @Max(3600)
  HYPERPLANE_HEARTBEAT_INTERVAL_S: number = 5;

  /**
   * HA fencing (see apps/controller/src/ha/README.md for the timing argument). The agent
   * renews a lease of this length per host with every heartbeat; the controller's value must
   * be at least every agent's (it assumes this length when it finds a lease already gone).
   */
  @IsInt() @Min(2000) @Max(600_000)
  HYPERPLANE_HA_LEASE_MS: number = 20_000;

  /**
   * An agent that has not renewed its lease this long before it would expire fences itself:
   * it force-stops its HA instances. Covers the stop itself and clock-rate drift; less than the lease.
   */
  @IsInt() @Min(500) @Max(300_000)
  HYPERPLANE_HA_FENCE_SAFETY_MS: number = 5_000;

  /**
   * How often an agent removes copies of instances that live on another host now or were deleted
   * (left by a command that ran late, after its instance had moved or gone). A copy goes only
   * once two sweeps in a row found it so, with no command for it in between.
   */
  @IsInt() @Min(1) @Max(86_400)
  HYPERPLANE_ORPHAN_SWEEP_S: number = 300;

  /** The controller restarts HA instances elsewhere only this long after their host's lease expired. */
  @IsInt() @Min(0) @Max(600_000)
  HYPERPLANE_HA_RESTART_MARGIN_MS: number = 5_000;

  /** The agent's listener for /healthz, /readyz and /metrics when run alone (0: none). */
  @IsInt() @Min(0) @Max(65535)
  HYPERPLANE_AGENT_PORT: number = 0;

  // --- controller ----------------------------------------------------------------------

  /** The controller's listener for /healthz, /readyz and /metrics when run alone (0: none). */
  @IsInt() @Min(0) @Max(65535)
  HYPERPLANE_CONTROLLER_PORT: number = 0;

  /** A host whose last heartbeat is older than this goes `down`. */
  @IsInt() @Min(2) @Max(86_400)
  HYPERPLANE_HEARTBEAT_TIMEOUT_S: number = 30;

  /** How often lost work is looked for (Redis that forgot, results that never came). */
  @IsInt() @Min(1) @Max(3600)
  HYPERPLANE_RECONCILE_INTERVAL_S: number = 10;

  /** A job whose worker stops renewing its lock for this long is run again elsewhere. */
  @IsInt() @Min(1000) @Max(600_000)
  HYPERPLANE_JOB_LOCK_MS: number = 30_000;

  /**
   * A running operation that has not ended after this long is ended by its handler's onTimeout
   * (failed, code `timeout`; its host work is aborted), so that no waiter waits for ever.
   */
  @IsInt() @Min(1) @Max(7 * 86_400)
  HYPERPLANE_OPERATION_TIMEOUT_S: number = 3600;

  /** Per-kind timeouts in seconds that replace the one above, e.g. `create=1800,stop=300` (kinds are checked when the controller starts). */
  @IsString() @Matches(/^([a-z-]+=[1-9][0-9]*(,[a-z-]+=[1-9][0-9]*)*)?$/, { message: 'HYPERPLANE_OPERATION_TIMEOUTS must look like create=1800,stop=300' })
  HYPERPLANE_OPERATION_TIMEOUTS: string = '';

  /** binpack (fill hosts) or spread (even them out); projects may override. */
  @IsIn(['binpack', 'spread'])
  HYPERPLANE_PLACEMENT_STRATEGY: 'binpack' | 'spread' = 'binpack';

  /** How far VMs may overcommit each resource: usable = capacity × ratio. */
  @IsString() @Matches(RATIOS, { message: 'HYPERPLANE_RATIOS_VM must look like vcpus=4,memoryMiB=1,diskGiB=1' })
  HYPERPLANE_RATIOS_VM: string = 'vcpus=4,memoryMiB=1,diskGiB=1';

  /** Containers share the kernel and page cache: they may overcommit more. */
  @IsString() @Matches(RATIOS, { message: 'HYPERPLANE_RATIOS_CONTAINER must look like vcpus=16,memoryMiB=1.5,diskGiB=1' })
  HYPERPLANE_RATIOS_CONTAINER: string = 'vcpus=16,memoryMiB=1.5,diskGiB=1';

  /** Density cap: instances per host at most (a host may declare a lower one). */
  @IsInt() @Min(1) @Max(100_000)
  HYPERPLANE_MAX_INSTANCES_PER_HOST: number = 250;

  /**
   * Large fleets: look at about this many fitting hosts per decision instead of all of them
   * (0: all). The explanation says when a decision was made on a sample.
   */
  @IsInt() @Min(0) @Max(100_000)
  HYPERPLANE_PLACEMENT_SAMPLE_SIZE: number = 0;

  /** Operations the controller works on at once per process. */
  @IsInt() @Min(1) @Max(1000)
  HYPERPLANE_CONTROLLER_CONCURRENCY: number = 32;

  /**
   * Networks (comma-separated CIDRs, e.g. `127.0.0.0/8,::1/128`) webhooks may deliver to even
   * though they are loopback, link-local or private. Empty: none (deliveries go to public addresses only).
   */
  @IsString() @Matches(/^[0-9a-fA-F:.,/ ]*$/)
  HYPERPLANE_WEBHOOK_ALLOWED_NETWORKS: string = '';

  /** Attempts per webhook delivery before it is given up (Standard Webhooks' schedule spans a day and a half). */
  @IsInt() @Min(1) @Max(20)
  HYPERPLANE_WEBHOOK_MAX_ATTEMPTS: number = 10;

  /** Multiplies the retry schedule (5 s, 5 min, 30 min, 2 h, …); tests make it small. */
  @IsNumber() @Min(0.0001) @Max(10)
  HYPERPLANE_WEBHOOK_RETRY_SCALE: number = 1;

  /** How long a webhook endpoint may take to answer. */
  @IsInt() @Min(100) @Max(60_000)
  HYPERPLANE_WEBHOOK_TIMEOUT_MS: number = 15_000;

  /** The inbound job queue external systems add requests to (docs/integrations/job-queue.md). */
  @IsString() @Matches(/^[A-Za-z0-9_-]{1,64}$/)
  HYPERPLANE_REQUEST_QUEUE: string = 'hyperplane-requests';

  /** Requests from that queue in progress at once per API process (each waits for its operation); 0: this process takes none. */
  @IsInt() @Min(0) @Max(5000)
  HYPERPLANE_REQUEST_QUEUE_CONCURRENCY: number = 200;

  /** Events (and finished webhook deliveries) older than this are pruned in the background. */
  @IsInt() @Min(1)
  HYPERPLANE_EVENTS_RETENTION_DAYS: number = 30;

  /** Audit entries older than this are pruned in the background. */
  @IsInt() @Min(1)
  HYPERPLANE_AUDIT_RETENTION_DAYS: number = 365;
}

export class ConfigError extends Error {}

/** Loads `.env` from the working directory when there is one; the environment wins. */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

/** Reads and validates the environment; throws a ConfigError that names every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const config = plainToInstance(AppConfig, defined, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(config, { skipMissingProperties: false, forbidUnknownValues: false });
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  config.HYPERPLANE_REDIS_PREFIX = redisKeyPrefix(config.REDIS_URL, config.HYPERPLANE_REDIS_PREFIX);
  if (config.HYPERPLANE_HA_FENCE_SAFETY_MS >= config.HYPERPLANE_HA_LEASE_MS) {
    throw new ConfigError('invalid configuration:\n  HYPERPLANE_HA_FENCE_SAFETY_MS: must be less than HYPERPLANE_HA_LEASE_MS (the agent fences that long before its lease expires)');
  }
  return config;
}

const LOG_ORDER = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;

/** Nest's log levels up to and including `level`. */
export function logLevels(level: AppConfig['LOG_LEVEL']): (typeof LOG_ORDER)[number][] {
  return LOG_ORDER.slice(0, LOG_ORDER.indexOf(level) + 1);
}

/** Whether the pool prepares its statements: asked for, and not behind a transaction-mode pooler. */
export function preparedStatements(config: Pick<AppConfig, 'HYPERPLANE_DATABASE_SESSION_URL' | 'HYPERPLANE_DATABASE_PREPARED_STATEMENTS'>): boolean {
  return config.HYPERPLANE_DATABASE_PREPARED_STATEMENTS && !config.HYPERPLANE_DATABASE_SESSION_URL;
}

/** Where what needs a PostgreSQL session connects (LISTEN, the migrations' advisory lock): the direct URL when the pool goes through PgBouncer. */
export function sessionDatabaseUrl(config: Pick<AppConfig, 'HYPERPLANE_DATABASE_SESSION_URL'> & { DATABASE_URL: string }): string {
  return config.HYPERPLANE_DATABASE_SESSION_URL ?? config.DATABASE_URL;
}
