import { InstanceEntity, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { OPERATION_HANDLER_TYPES } from './handlers';
import { HANDLED_KINDS, HandledKind, OperationHandler } from './operation-handler';
import { OperationHandlers } from './operation-handlers.registry';

/** A handler that only names its kind: the registry looks at nothing else. */
class NamedHandler implements OperationHandler {
  readonly beginsItself = false;
  constructor(readonly kind: HandledKind) {}
  async dispatch(_op: OperationEntity, _instance: InstanceEntity | null): Promise<void> {}
  async onResult(_em: Tx, _op: OperationEntity, _instance: InstanceEntity, _r: AgentResultPayload): Promise<void> {}
  async onFailure(_em: Tx, _op: OperationEntity, _instance: InstanceEntity, _r: AgentResultPayload): Promise<void> {}
  async onTimeout(_em: Tx, _op: OperationEntity): Promise<void> {}
  async onCancel(_em: Tx, _op: OperationEntity): Promise<void> {}
}

describe('operation handler registry', () => {
  const one = (): NamedHandler[] => HANDLED_KINDS.map((k) => new NamedHandler(k));

  it('boots with exactly one handler per kind and finds each', () => {
    const handlers = one();
    const registry = new OperationHandlers(handlers);
    for (const h of handlers) expect(registry.get(h.kind)).toBe(h);
    expect(registry.kinds().sort()).toEqual([...HANDLED_KINDS].sort());
  });

  it('refuses to boot when a kind has no handler', () => {
    const handlers = one().filter((h) => h.kind !== 'resize');
    expect(() => new OperationHandlers(handlers)).toThrow('no handler for operation kind(s) resize');
  });

  it('refuses to boot when a kind has two handlers', () => {
    expect(() => new OperationHandlers([...one(), new NamedHandler('stop')])).toThrow('operation kind stop has two handlers');
  });

  it('refuses a handler for a kind that does not exist', () => {
    expect(() => new OperationHandlers([...one(), new NamedHandler('teleport' as HandledKind)])).toThrow('not an operation kind');
  });

  it("the controller's own handlers cover every kind once", () => {
    // Constructed without their services: only `kind` is read (their constructors only keep what they are given).
    const handlers = OPERATION_HANDLER_TYPES.map((Type) => new (Type as unknown as new () => OperationHandler)());
    expect(() => new OperationHandlers(handlers)).not.toThrow();
    expect(handlers.map((h) => h.kind).sort()).toEqual([...HANDLED_KINDS].sort());
  });
});
