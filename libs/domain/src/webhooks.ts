/**
 * What a webhook can subscribe to. A delivery's body is `{ type, timestamp, data }`:
 * - `instance.state_changed`: data `{ instanceId, projectId, name, from, state, reason, hostId? }` (hostId only to fleet-wide webhooks)
 * - `operation.completed`: data `{ operationId, projectId, kind, instanceId, status, error? }` (succeeded, failed or cancelled)
 * - `host.status_changed`: data `{ hostId, name, status, reason }` (fleet-wide webhooks only)
 */
export const WEBHOOK_EVENT_TYPES = ['instance.state_changed', 'operation.completed', 'host.status_changed'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
