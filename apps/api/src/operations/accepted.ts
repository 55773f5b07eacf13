import type { Response } from 'express';
import { OperationDto } from './operation.dto';
import { Submitted } from './operation-submitter.service';

export const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'The same key and body answer with the same operation; the same key with another body is a 409.',
};

/** 202 Accepted with the operation and where to follow it (just queued: no error, no result to hide). */
export function accepted(res: Response, submitted: Submitted): OperationDto {
  res.setHeader('Location', `/v1/operations/${submitted.operation.id}`);
  if (submitted.replayed) res.setHeader('Idempotent-Replayed', 'true');
  // The audit trail's project for a change of an instance, known here: no read of the target to
  // find it (auditTrail). Fleet-wide operations (an evacuation) keep the entry's own rule.
  if (submitted.operation.instanceId) res.locals.projectId = submitted.operation.projectId;
  return OperationDto.from(submitted.operation, false);
}
