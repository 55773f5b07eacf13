import { NAME_PATTERN, UUID_PATTERN } from '@hyperplane/domain';
import { DriverError } from './driver.exception';

/** Every id that reaches a command line or a path passes here first. */
export function assertInstanceId(id: string): string {
  if (typeof id !== 'string' || !UUID_PATTERN.test(id)) {
    throw new DriverError('InvalidArgument', `instance id must be a lowercase UUID, got ${JSON.stringify(id)}`);
  }
  return id;
}

export function assertSafeName(kind: string, name: string): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new DriverError('InvalidArgument', `${kind} must match ${NAME_PATTERN.source}, got ${JSON.stringify(name)}`);
  }
  return name;
}
