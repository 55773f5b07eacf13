import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What follows one request through the api, the controller, the agent and the driver. */
export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

// What a caller may choose as its id: short, printable, safe in a log line and a header.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/** The caller's `X-Request-Id` when it is a sensible one, else a fresh id. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
}

/** The request id of the work in progress, if it has one. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `work` (and everything it starts) as part of request `requestId`; without an id, as it is. */
export function withRequestId<T>(requestId: string | null | undefined, work: () => T): T {
  if (!requestId) return work();
  return storage.run({ requestId }, work);
}
