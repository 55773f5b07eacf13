import { DriverErrorCode } from '@hyperplane/domain';

export { DRIVER_ERROR_CODES, REQUEST_ERROR_CODES } from '@hyperplane/domain';
export type { DriverErrorCode } from '@hyperplane/domain';

/** A driver failure. `Transient` is worth retrying; everything else is not. */
export class DriverError extends Error {
  constructor(
    readonly code: DriverErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DriverError';
  }

  get retryable(): boolean {
    return this.code === 'Transient';
  }

  /** This host cannot do it but another may (cf. Nova's reschedule on a build failure). */
  get hostSpecific(): boolean {
    return this.code === 'Unavailable';
  }

  static is(error: unknown, code?: DriverErrorCode): error is DriverError {
    return error instanceof DriverError && (code === undefined || error.code === code);
  }
}
