import { ActualState, DriverName, InstanceLimits, InstanceSpec, Resources, StopOptions } from '@hyperplane/domain';

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
  HostCommand = 'host.command',
  /** Many commands for one host in one job (a batch's creates): far fewer jobs at fleet scale. */
  HostCommandBatch = 'host.command-batch',
  AgentResult = 'agent.result',
  /** The results of a command batch, reported together. */
  AgentResultBatch = 'agent.result-batch',
  AgentProgress = 'agent.progress',
  AgentSync = 'agent.sync',
  WebhookDeliver = 'webhook.deliver',
}

export const HOST_COMMANDS = ['create', 'start', 'stop', 'restart', 'suspend', 'resume', 'destroy', 'snapshot', 'restore', 'snapshot-delete', 'clone', 'resize'] as const;
export type HostCommand = (typeof HOST_COMMANDS)[number];

export interface RunOperationPayload {
  operationId: string;
  /** The X-Request-Id of the request that made the operation, for the logs of each step. */
  requestId?: string;
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
  /** The X-Request-Id of the request that made the operation (absent for the system's own). */
  requestId?: string;
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

export interface WebhookDeliverPayload {
  deliveryId: string;
  /** Attempts logged before this job (a redelivery starts a fresh schedule). */
  firstAttempt: number;
}

/** One payload type per job name; `enqueue` and the workers are typed from it. */
export interface JobPayloads {
  [JobName.RunOperation]: RunOperationPayload;
  [JobName.HostCommand]: HostCommandPayload;
  [JobName.HostCommandBatch]: HostCommandBatchPayload;
  [JobName.AgentResult]: AgentResultPayload;
  [JobName.AgentResultBatch]: AgentResultBatchPayload;
  [JobName.AgentProgress]: AgentProgressPayload;
  [JobName.AgentSync]: AgentSyncPayload;
  [JobName.WebhookDeliver]: WebhookDeliverPayload;
}

/** Which jobs each queue carries; a worker must handle exactly these (checked at start). */
export const QUEUE_JOBS = {
  [QueueName.Control]: [JobName.RunOperation],
  agentResults: [JobName.AgentResult, JobName.AgentResultBatch, JobName.AgentProgress, JobName.AgentSync],
  [QueueName.Webhooks]: [JobName.WebhookDeliver],
  host: [JobName.HostCommand, JobName.HostCommandBatch],
} as const;

/** A delivery's job: a redelivery (after `attempt` logged attempts) is a new job. */
export function webhookJobId(deliveryId: string, attempt: number): string {
  return `whd-${deliveryId}-${attempt}`;
}
