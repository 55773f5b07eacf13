import { Injectable } from '@nestjs/common';
import { InstanceActionHandler } from './instance-action.handler';

@Injectable()
export class RestartHandler extends InstanceActionHandler {
  override readonly kind = 'restart' as const;
}
