/** An error a user can read: which file, which tensor, what is wrong. Never a stack trace in the UI. */
export class ModelError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor !== undefined ? `tensor '${tensor}': ` : ''}${problem}`);
    this.name = 'ModelError';
  }
}

/** Raised when a job is cancelled (Ctrl-C, panel closed). */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** Turns anything thrown into a one-line message for users. */
export function describeError(err: unknown): string {
  if (err instanceof ModelError || err instanceof CancelledError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
