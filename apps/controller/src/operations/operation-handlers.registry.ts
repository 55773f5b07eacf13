import { HANDLED_KINDS, HandledKind, OperationHandler } from './operation-handler';

/** Injection token of the list of handlers (see handlers/index.ts). */
export const OPERATION_HANDLER_LIST = Symbol('OPERATION_HANDLER_LIST');

/**
 * The operation kinds and their handlers, checked when the controller starts: a kind without a
 * handler, or a kind with two, refuses to boot (as immich refuses a job name without a handler)
 * rather than fail the first such operation at run time.
 */
export class OperationHandlers {
  private readonly byKind = new Map<HandledKind, OperationHandler>();

  constructor(handlers: readonly OperationHandler[], kinds: readonly HandledKind[] = HANDLED_KINDS) {
    for (const h of handlers) {
      const other = this.byKind.get(h.kind);
      if (other) throw new Error(`operation kind ${h.kind} has two handlers (${other.constructor.name} and ${h.constructor.name})`);
      if (!kinds.includes(h.kind)) throw new Error(`${h.constructor.name} handles ${h.kind}, which is not an operation kind`);
      this.byKind.set(h.kind, h);
    }
    const missing = kinds.filter((k) => !this.byKind.has(k));
    if (missing.length > 0) throw new Error(`no handler for operation kind(s) ${missing.join(', ')}`);
  }

  get(kind: HandledKind): OperationHandler {
    const handler = this.byKind.get(kind);
    // Checked at boot; only a kind written to the database by a newer version gets here.
    if (!handler) throw new Error(`no handler for operation kind ${kind}`);
    return handler;
  }

  kinds(): HandledKind[] {
    return [...this.byKind.keys()];
  }
}
