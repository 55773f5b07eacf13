/**
 * What a failure means for the request:
 * - `Transient`: retry on the same host (the tool or daemon was briefly unavailable);
 * - `Unavailable`, `Fatal`: this host cannot do it (a missing template image, a missing
 *   driver, a broken tool) — another host may, so a create is tried elsewhere;
 * - `InvalidArgument`, `Unsupported`: the request itself is wrong or asks for what this kind of
 *   driver never does — fatal for the request, no host will do better;
 * - `NotFound`, `Conflict`: about the instance's existence or state on this host.
 */
export const DRIVER_ERROR_CODES = ['NotFound', 'Conflict', 'Unsupported', 'Unavailable', 'Transient', 'Fatal', 'InvalidArgument'] as const;
export type DriverErrorCode = (typeof DRIVER_ERROR_CODES)[number];

/** Codes that say the request is wrong wherever it runs: a create failing so is not tried on another host. */
export const REQUEST_ERROR_CODES: readonly DriverErrorCode[] = ['InvalidArgument', 'Unsupported'];

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
