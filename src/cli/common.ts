// What every CLI command shares: exit codes, usage errors, output.

export const EXIT = { ok: 0, gate: 1, bad: 2, cancelled: 130 } as const;

export class UsageError extends Error {
  constructor(
    message: string,
    readonly help?: string,
  ) {
    super(message);
  }
}

export interface CommandContext {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Writes `text` to FILE atomically, or to stdout when no file is given. */
  output(text: string, file?: string): Promise<void>;
  signal: AbortSignal;
}
