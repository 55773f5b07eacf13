import { ParseUUIDPipe } from '@nestjs/common';
import { problems } from './problem';

/** A path id that is not a UUID cannot name anything: 404, like an unknown one. */
export function uuid(kind: string): ParseUUIDPipe {
  return new ParseUUIDPipe({ version: undefined, exceptionFactory: () => problems.notFound(kind, 'with that id') });
}
