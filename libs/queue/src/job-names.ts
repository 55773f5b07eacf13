import { ActualState, DriverName, InstanceLimits, InstanceSpec, MigrationMode, MigrationSide, MigrationStats, MigrationTarget, Resources, StopOptions } from '@hyperplane/domain';

export enum QueueName {
  /** Operations to run: placement, dispatch to hosts. Consumed by controllers. */
  Control = 'control',
  /** Webhook deliveries: one job per delivery, retried as delayed jobs. Consumed by controllers. */
  Webhooks = 'webhooks',
}

// Queue names are built here and nowhere else. A host's queue starts with its agent's id, so
// that one Redis ACL key pattern (`~<prefix>:host-<agentId>-*`) covers all the queues of an
// agent standing in for 10,000 hosts (Redis checks patterns one by one).

/** The start of the names of every queue of one agent's hosts (and of its consumer's own keys). */
export function agentHostQueuePrefix(agentId: string): string {
  return `host-${agentId}-`;
}

/** Each host's own queue; only that host's agent consumes it. */
export function hostQueueName(agentId: string, hostId: string): string {
  return `${agentHostQueuePrefix(agentId)}${hostId}`;
}

export function isHostQueue(queue: string): boolean {
  return queue.startsWith('host-');
}

/**
 * What one agent reports back, consumed by controllers. One queue per agent: with per-agent
 * Redis users only that agent can add to it, so the queue a result arrives on says who sent it.
 */
export function agentResultsQueueName(agentId: string): string {
  return `agent-results-${agentId}`;
}

/** The agent whose results queue this is, or null. */
export function agentOfResultsQueue(queue: string): string | null {
  return queue.startsWith('agent-results-') ? queue.slice('agent-results-'.length) : null;
}

export enum JobName {
  RunOperation = 'operation.run',
  /** Ends a running operation at someone's request: its handler's onCancel, and an abort to its host. */
  CancelOperation = 'operation.cancel',
  HostCommand = 'host.command',
  /** Many commands for one host in one job (a batch's creates): far fewer jobs at fleet scale. */
  HostCommandBatch = 'host.command-batch',
  AgentResult = 'agent.result',
  /** The results of a command batch, reported together. */
  AgentResultBatch = 'agent.result-batch',
  AgentProgress = 'agent.progress',
  AgentSync = 'agent.sync',
  WebhookDeliver = 'webhook.deliver',
  /**
   * A read answered through the job's return value (no operation, nothing changes): the end
   * of an instance's console log. The API adds it to the host's queue and waits a bounded time.
   */
  ConsoleRead = 'host.console-read',
}

/**
 * Migration runs as these host commands, in order, each sent once the previous one succeeded:
 * `migrate-prepare` (destination, with the spec) → `migrate-send` (source, with the target the
 * prepare returned) → `migrate-finish` (destination) → `migrate-cleanup` (source). After a
 * failure of prepare, send or finish: `migrate-abort` side `destination` on the destination,
 * then `migrate-abort` side `source` on the source. Once finish succeeded the move is committed:
 * only cleanup remains (sent again on a transient failure, a few times: each sending has its
 * own attempt number, see HostCommandPayload.attempt; the destination copy is never aborted then).
 */
export const MIGRATION_COMMANDS = ['migrate-prepare', 'migrate-send', 'migrate-finish', 'migrate-cleanup', 'migrate-abort'] as const;
export type MigrationCommand = (typeof MIGRATION_COMMANDS)[number];

export const HOST_COMMANDS = ['create', 'start', 'stop', 'restart', 'suspend', 'resume', 'destroy', 'snapshot', 'restore', 'snapshot-delete', 'clone', 'resize', ...MIGRATION_COMMANDS] as const;
export type HostCommand = (typeof HOST_COMMANDS)[number];

export function isMigrationCommand(command: HostCommand): command is MigrationCommand {
  return (MIGRATION_COMMANDS as readonly string[]).includes(command);
}

/** What a migration command carries besides the instance (see MIGRATION_COMMANDS). */
export interface MigrationCommandPayload {
  /** migrate-prepare: live or offline (the spec goes in the command's `spec`). */
  mode?: MigrationMode;
  /** migrate-send: the target the destination's migrate-prepare returned, as it returned it. A credential: never log it. */
  target?: MigrationTarget;
  /** migrate-abort: which side this host is. */
  side?: MigrationSide;
}

export interface RunOperationPayload {
  operationId: string;
  /** The X-Request-Id of the request that made the operation, for the logs of each step. */
  requestId?: string;
}

export interface CancelOperationPayload {
  operationId: string;
  /** Who asked (a token's name), for the operation's error message. */
  by: string;
}

export interface HostCommandPayload {
  operationId: string;
  instanceId: string;
  hostId: string;
  driver: DriverName;
  command: HostCommand;
  /** For create: the full spec. */
  spec?: InstanceSpec;
  /** For create: start the instance once created. */
  start?: boolean;
  /** For create: the instance has HA; the agent fences it when it cannot renew its host's lease. */
  ha?: boolean;
  stop?: StopOptions;
  resize?: { resources: Resources; limits?: InstanceLimits };
  /** For snapshot, restore and snapshot-delete. */
  snapshot?: string;
  /** For clone: the new instance (its id, name and spec); the command's instance is the source. */
  clone?: InstanceSpec;
  /** For the migrate-* commands (migrate-prepare also carries `spec`). */
  migration?: MigrationCommandPayload;
  /** The X-Request-Id of the request that made the operation (absent for the system's own). */
  requestId?: string;
  /**
   * Which sending of this command on this host within its operation, from 1 (absent: 1): a
   * command the controller sends again after its failure (migrate-cleanup) is a new job with a
   * new result, while a redelivery of the same sending stays the same job. See hostJobId.
   */
  attempt?: number;
}

/**
 * Commands for one host carried by one job. Each operation records this job's id as the job
 * it waits for, and its own command as the job data to send again alone if the batch is lost.
 */
export interface HostCommandBatchPayload {
  hostId: string;
  commands: HostCommandPayload[];
}

export interface AgentResultPayload {
  /**
   * The job that carried the command (a command batch's id for its commands). Agents older
   * than command batches leave it out: theirs answer the command sent alone.
   */
  jobId?: string;
  operationId: string;
  instanceId: string;
  hostId: string;
  command: HostCommand;
  ok: boolean;
  /** The instance's actual state after the command (absent after a destroy). */
  state?: ActualState;
  error?: { code: string; message: string };
  /** Driver facts worth keeping (accelerator, console path, …). */
  details?: Record<string, unknown>;
  /** migrate-prepare: where the source must send (a credential when it has a token); migrate-send: what the move cost. */
  migration?: { target?: MigrationTarget; stats?: MigrationStats };
  /** The command's request id, back with its result. */
  requestId?: string;
}

export interface AgentResultBatchPayload {
  hostId: string;
  results: AgentResultPayload[];
}

export interface AgentProgressPayload {
  operationId: string;
  hostId: string;
  percent: number;
  step: string;
}

/** What the agent found on its host: the controller corrects instances that drifted. */
export interface AgentSyncPayload {
  hostId: string;
  observedAt: string;
  instances: { id: string; state: ActualState; details?: Record<string, unknown> }[];
}

export interface ConsoleReadPayload {
  hostId: string;
  instanceId: string;
  driver: DriverName;
  /** Lines from the end, at most CONSOLE_MAX_LINES. */
  lines: number;
  requestId?: string;
}

/** What the agent answers to a console read (the job's return value). */
export type ConsoleReadResult = { ok: true; lines: string[] } | { ok: false; error: { code: string; message: string } };

export const CONSOLE_MAX_LINES = 1000;

/** A console read's job: fresh for every request (reads are not idempotent work, just answers). */
export function consoleReadJobId(instanceId: string, nonce: string): string {
  return `con-${instanceId}-${nonce}`;
}

export interface WebhookDeliverPayload {
  deliveryId: string;
  /** Attempts logged before this job (a redelivery starts a fresh schedule). */
  firstAttempt: number;
}

/** One payload type per job name; `enqueue` and the workers are typed from it. */
export interface JobPayloads {
  [JobName.RunOperation]: RunOperationPayload;
  [JobName.CancelOperation]: CancelOperationPayload;
  [JobName.HostCommand]: HostCommandPayload;
  [JobName.HostCommandBatch]: HostCommandBatchPayload;
  [JobName.AgentResult]: AgentResultPayload;
  [JobName.AgentResultBatch]: AgentResultBatchPayload;
  [JobName.AgentProgress]: AgentProgressPayload;
  [JobName.AgentSync]: AgentSyncPayload;
  [JobName.WebhookDeliver]: WebhookDeliverPayload;
  [JobName.ConsoleRead]: ConsoleReadPayload;
}

/** Which jobs each queue carries; a worker must handle exactly these (checked at start). */
export const QUEUE_JOBS = {
  [QueueName.Control]: [JobName.RunOperation, JobName.CancelOperation],
  agentResults: [JobName.AgentResult, JobName.AgentResultBatch, JobName.AgentProgress, JobName.AgentSync],
  [QueueName.Webhooks]: [JobName.WebhookDeliver],
  host: [JobName.HostCommand, JobName.HostCommandBatch, JobName.ConsoleRead],
} as const;

// Job ids are built here and nowhere else: a job id is what makes a second enqueue of the same
// work a no-op, so the reconciler, the runner and the result applier must agree on each one.

/** The control job that runs an operation (placement, dispatch to its host). */
export function runJobId(operationId: string): string {
  return `run-${operationId}`;
}

/** The control job that runs an operation again after a failed create was cleaned up (`attempt`: hosts failed so far). */
export function runAgainJobId(operationId: string, attempt: number): string {
  return `run-${operationId}-again-${attempt}`;
}

/** The control job that cancels a running operation (a second cancel is the same job). */
export function cancelJobId(operationId: string): string {
  return `cancel-${operationId}`;
}

/**
 * The list an agent reads abort signals from (operation ids whose host work must stop). Under
 * the agent's host-queue prefix, so its Redis user (agent-acl.ts) may read it and nothing else
 * may be read by it; agents have no Pub/Sub channels.
 */
export function agentAbortKey(prefix: string, agentId: string): string {
  return `${prefix}:${agentHostQueuePrefix(agentId)}aborts`;
}

/** The suffix of a command's later sendings (the first has none, as before attempts were counted). */
function attemptSuffix(attempt: number | undefined): string {
  if (attempt === undefined || attempt === 1) return '';
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new Error(`a command's attempt is a whole number from 1, got ${attempt}`);
  return `-a${attempt}`;
}

/**
 * A driver command sent alone: one job per operation, command and attempt (see
 * HostCommandPayload.attempt). A job id is unique within its queue, and each host has its own
 * queue, so the same command on two hosts (migrate-abort on both sides) needs no host here.
 */
export function hostJobId(operationId: string, command: HostCommand, attempt?: number): string {
  return `cmd-${operationId}-${command}${attemptSuffix(attempt)}`;
}

const COMMAND_BATCH_PREFIX = 'cmds-';

/** A command batch (many operations' commands for one host in one job): a fresh id each time. */
export function commandBatchJobId(unique: string): string {
  return `${COMMAND_BATCH_PREFIX}${unique}`;
}

export function isCommandBatchJobId(jobId: string): boolean {
  return jobId.startsWith(COMMAND_BATCH_PREFIX);
}

/**
 * An agent's result of a command sent alone: a redelivered command does not report twice; the
 * host is named because a failed create may be tried, in the same operation, on another host,
 * and the attempt because a command may be sent again to the same host (migrate-cleanup).
 */
export function resultJobId(operationId: string, command: HostCommand, hostId: string, attempt?: number): string {
  return `res-${operationId}-${command}-${hostId}${attemptSuffix(attempt)}`;
}

/** Results of a command batch reported together (`unique`: fresh each report, since a batch run again reports again). */
export function resultBatchJobId(batchJobId: string, unique: string): string {
  return `res-${batchJobId}-${unique}`;
}

/** A progress report of an operation's host work at `atMs`. */
export function progressJobId(operationId: string, atMs: number): string {
  return `prg-${operationId}-${atMs}`;
}

/** A host's sync report at `atMs`. */
export function syncJobId(hostId: string, atMs: number): string {
  return `sync-${hostId}-${atMs}`;
}

/** A delivery's job: a redelivery (after `attempt` logged attempts) is a new job. */
export function webhookJobId(deliveryId: string, attempt: number): string {
  return `whd-${deliveryId}-${attempt}`;
}
