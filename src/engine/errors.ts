import { displayName, displayPath, displayText } from './safeText';

/**
 * An error a user can read: which file, which tensor, what is wrong. Never a stack trace in the UI. The message is
 * one bounded line (names from the model escaped and cut: src/engine/safeText.ts); `file`, `tensor` and `problem`
 * keep the full text.
 */
export class ModelError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly tensor?: string,
    /** Whether reading again may succeed: a file cut short may still be downloading or copying; a malformed one will not change. */
    readonly retryable = false,
  ) {
    super(`${displayPath(file)}: ${tensor !== undefined ? `tensor '${displayName(tensor)}': ` : ''}${displayText(problem)}`);
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

/** fs error codes of a read that may succeed later: a file locked, being replaced, too many files open, a device hiccup. */
const TRANSIENT_CODES = new Set(['EBUSY', 'EAGAIN', 'EMFILE', 'ENFILE', 'EIO', 'ETIMEDOUT', 'ENOENT']);

/** Whether trying the same job again may succeed (issue 14: offer Retry only where it can help). */
export function canRetry(err: unknown): boolean {
  if (err instanceof ModelError) return err.retryable;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** Room for a path and a problem, as a ModelError's message has. */
const ERROR_MAX = 4096;

/**
 * Turns anything thrown into a one-line message for users: control characters escaped and the length bounded, since
 * messages from deeper down (TensorError, WireError, fs errors) may quote a name or a location from the model whole.
 */
export function describeError(err: unknown): string {
  if (err instanceof ModelError || err instanceof CancelledError) return err.message;
  return displayText(err instanceof Error ? err.message : String(err), ERROR_MAX);
}
