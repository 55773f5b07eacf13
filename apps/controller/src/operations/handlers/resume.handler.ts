import { Injectable } from '@nestjs/common';
import { InstanceActionHandler } from './instance-action.handler';

@Injectable()
export class ResumeHandler extends InstanceActionHandler {
  override readonly kind = 'resume' as const;
}
