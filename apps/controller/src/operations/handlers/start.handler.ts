import { Injectable } from '@nestjs/common';
import { InstanceActionHandler } from './instance-action.handler';

@Injectable()
export class StartHandler extends InstanceActionHandler {
  override readonly kind = 'start' as const;
}
