import { OperationKind } from '@hyperplane/domain';

/**
 * Kinds placed and created like a create: `create`, and `recover` (an HA instance of a lost
 * host made again elsewhere). Where a create's result is handled (a failed create tried on
 * another host, its clean-up), a recover's is handled the same way.
 */
export function createsInstance(kind: OperationKind | 'batch'): boolean {
  return kind === 'create' || kind === 'recover';
}
