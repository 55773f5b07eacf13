import { Injectable } from '@nestjs/common';
import { OperationEntity } from '@hyperplane/db';
import { CommandExtra } from '../host-command';
import { InstanceActionHandler } from './instance-action.handler';

/** A stop's options as the request gave them; graceful with 30 s when it gave none (as before). */
export function stopOptions(request: Record<string, unknown>): { force?: boolean; timeoutS?: number } {
  if (request.force === true) return { force: true };
  return { timeoutS: typeof request.timeoutS === 'number' ? request.timeoutS : 30 };
}

@Injectable()
export class StopHandler extends InstanceActionHandler {
  override readonly kind = 'stop' as const;

  protected override extra(op: OperationEntity): CommandExtra {
    return { stop: stopOptions(op.request) };
  }
}
