import { Injectable } from '@nestjs/common';
import { CreateHandler } from './create.handler';

/**
 * HA: an instance of a lost, fenced host placed and created again elsewhere, keeping its
 * identity (id, name, project, groups). `HaRecovery` (apps/controller/src/ha) queues it after
 * putting the instance back to `pending` and releasing the lost host's claim; from there on it is
 * a create in every respect: the same placement, claim, retry on another host, cancel and timeout.
 */
@Injectable()
export class RecoverHandler extends CreateHandler {
  override readonly kind = 'recover' as const;
}
