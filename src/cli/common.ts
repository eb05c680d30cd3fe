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
  /** Told the work folder a command writes its outputs into (null when gone), to remove it on a hard exit. */
  onWorkFolder?: (path: string | null) => void;
}

/** Number() reads '' and '  ' as 0: an unset `--fail-under "$THRESHOLD"` would silently turn a gate off. */
export function numberArgument(text: string): number {
  return text.trim() === '' ? NaN : Number(text);
}

export function regexArgument(option: string, text: string | undefined): RegExp | undefined {
  if (text === undefined) return undefined;
  try {
    return new RegExp(text);
  } catch {
    throw new UsageError(`${option} '${text}' is not a valid regular expression`);
  }
}
