// Running one command in this process: the context it writes through, and the exit code for every way it can end.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { CancelledError, ModelError, describeError } from '../engine/errors';
import { EXIT, UsageError, type CommandContext } from './common';
import { sanitizeTerminal } from './sanitize';

export type Command = (argv: string[], ctx: CommandContext) => Promise<number>;

function atomicWrite(file: string, text: string): void {
  // node:crypto loaded here, when first needed (6 ms of every start-up otherwise).
  const tmp = `${file}.${(require('node:crypto') as typeof import('node:crypto')).randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    // A full or read-only disk: say which file could not be written.
    throw new ModelError(file, `cannot write the report: ${describeError(err)}`);
  }
}

/** Standard output and error of this process; `output` writes a report file atomically (a temporary file, then a rename). */
export function processContext(signal: AbortSignal): CommandContext {
  return {
    stdout: (t) => process.stdout.write(t),
    // Messages carry names and paths from the model: escaped and cut so they cannot drive the terminal.
    stderr: (t) => process.stderr.write(sanitizeTerminal(t)),
    output: async (text, file) => {
      if (file) atomicWrite(file, text);
      else await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
    },
    signal,
  };
}

/** Runs `command` and turns every way it can end into an exit code, with a message for the user on stderr. */
export async function runCommand(name: string, command: Command, argv: string[], ctx: CommandContext): Promise<number> {
  try {
    return await command(argv, ctx);
  } catch (err) {
    if (err instanceof CancelledError) {
      ctx.stderr('interrupted: nothing was written\n');
      return EXIT.cancelled;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      ctx.stderr(`sparsity-lens: ${(err as Error).message}\n`);
      ctx.stderr(`Run 'sparsity-lens ${name} --help' for usage.\n`);
      return EXIT.bad;
    }
    ctx.stderr(`sparsity-lens: ${err instanceof ModelError ? err.message : describeError(err)}\n`);
    return EXIT.bad;
  }
}
