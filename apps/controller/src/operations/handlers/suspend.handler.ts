import { Injectable } from '@nestjs/common';
import { InstanceActionHandler } from './instance-action.handler';

@Injectable()
export class SuspendHandler extends InstanceActionHandler {
  override readonly kind = 'suspend' as const;
}
