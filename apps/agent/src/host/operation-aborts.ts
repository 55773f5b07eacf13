/** An abort for an operation not running here yet is kept this long (its command may still come). */
const REMEMBER_MS = 10 * 60_000;
const REMEMBER_MAX = 10_000;

/**
 * The agent's running operations and their abort signals. The controller's abort (read from the
 * agent's abort list by AbortListener) aborts the signal the driver was given; an abort for an
 * operation whose command has not started is remembered, so the command is refused when it does.
 */
export class OperationAborts {
  private readonly running = new Map<string, AbortController>();
  private readonly aborted = new Map<string, number>();

  /** The signal of a command of this operation that starts now (already aborted if it was cancelled). */
  start(operationId: string): AbortSignal {
    const controller = this.running.get(operationId) ?? new AbortController();
    this.running.set(operationId, controller);
    const at = this.aborted.get(operationId);
    if (at !== undefined && Date.now() - at < REMEMBER_MS) controller.abort(new Error('the operation was cancelled'));
    return controller.signal;
  }

  /** The command ended (whatever its outcome). */
  end(operationId: string, signal: AbortSignal): void {
    if (this.running.get(operationId)?.signal === signal) this.running.delete(operationId);
  }

  abort(operationId: string): boolean {
    this.aborted.set(operationId, Date.now());
    if (this.aborted.size > REMEMBER_MAX) this.aborted.delete(this.aborted.keys().next().value!);
    const controller = this.running.get(operationId);
    controller?.abort(new Error('the operation was cancelled'));
    return controller !== undefined;
  }
}
