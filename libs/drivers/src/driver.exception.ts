export const DRIVER_ERROR_CODES = ['NotFound', 'Conflict', 'Unsupported', 'Transient', 'Fatal', 'InvalidArgument'] as const;
export type DriverErrorCode = (typeof DRIVER_ERROR_CODES)[number];

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

  static is(error: unknown, code?: DriverErrorCode): error is DriverError {
    return error instanceof DriverError && (code === undefined || error.code === code);
  }
}
