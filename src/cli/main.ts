// sparsity-lens: the command-line front end over the engine.
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CancelledError, ModelError, describeError } from '../engine/errors';
import { newAbortFlag, raiseAbortFlag, sharedAbortSignal } from '../engine/sharedAbort';
import { EXIT, UsageError, type CommandContext } from './common';
import { CONVERT_HELP, convertCommand } from './convert';
import { DECOMPRESS_HELP, decompressCommand } from './decompress';
import { EXPORT_HELP, exportCommand } from './export';
import { INSPECT_HELP, inspectCommand } from './inspect';

const VERSION = '0.1.0';

const HELP = `Usage: sparsity-lens COMMAND [options]

Sparsity Lens inspects ONNX models for N:M (e.g. 2:4) structured sparsity and block sparsity.

Commands:
  inspect MODEL    per-layer N:M compliance, patterns, block ratios and what pruning keeps
  convert MODEL    prune to N:M (--mode prune) or prune and compress (--mode compress), verify the output
  decompress MODEL a compressed model back to the dense pruned model, bit for bit
  export MODEL     compressed values and index metadata (Ascend or NVIDIA) as sidecar files + manifest

Run 'sparsity-lens COMMAND --help' for a command's options.
Options: -h, --help   this help;  --version   print the version.
Exit codes: 0 ok, 1 a gate failed, 2 bad input or usage, 130 interrupted.
`;

const COMMANDS: Record<string, { run: (argv: string[], ctx: CommandContext) => Promise<number>; help: string }> = {
  inspect: { run: inspectCommand, help: INSPECT_HELP },
  convert: { run: convertCommand, help: CONVERT_HELP },
  decompress: { run: decompressCommand, help: DECOMPRESS_HELP },
  export: { run: exportCommand, help: EXPORT_HELP },
};

function atomicWrite(file: string, text: string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Runs one command. `signal` cancels it; without one, Ctrl-C does (when the command awaits: see runInWorker for
 * cancelling synchronous work).
 */
export async function main(argv: string[], signal?: AbortSignal): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  if (!signal) process.on('SIGINT', onSigint);
  const ctx: CommandContext = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    output: async (text, file) => {
      if (file) atomicWrite(file, text);
      else await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
    },
    signal: signal ?? controller.signal,
  };
  const [command, ...rest] = argv;
  try {
    if (!command || command === '-h' || command === '--help' || command === 'help') {
      ctx.stdout(HELP);
      return command ? EXIT.ok : EXIT.bad;
    }
    if (command === '--version') {
      ctx.stdout(`${VERSION}\n`);
      return EXIT.ok;
    }
    const entry = COMMANDS[command];
    if (!entry) throw new UsageError(`unknown command '${command}'`, HELP);
    return await entry.run(rest, ctx);
  } catch (err) {
    if (err instanceof CancelledError) {
      ctx.stderr('interrupted: nothing was written\n');
      return EXIT.cancelled;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      ctx.stderr(`sparsity-lens: ${(err as Error).message}\n`);
      ctx.stderr(`Run 'sparsity-lens ${COMMANDS[command] ? `${command} ` : ''}--help' for usage.\n`);
      return EXIT.bad;
    }
    if (err instanceof ModelError) {
      ctx.stderr(`sparsity-lens: ${err.message}\n`);
      return EXIT.bad;
    }
    ctx.stderr(`sparsity-lens: ${describeError(err)}\n`);
    return EXIT.bad;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * The program: the command runs in a worker thread while this thread only waits for it and for Ctrl-C, which raises a
 * shared flag that the engine's loops read even in the middle of synchronous work; the command then cleans up (no
 * partial files) and exits with 130.
 */
function runInWorker(argv: string[]): void {
  const flag = newAbortFlag();
  const worker = new Worker(__filename, { workerData: { sparsityLensCli: true, argv, flag, stderrIsTTY: Boolean(process.stderr.isTTY) } });
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: stop now
    interrupted = true;
    raiseAbortFlag(flag);
  });
  worker.on('message', (code: number) => {
    process.exitCode = code;
  });
  worker.on('error', (err) => {
    process.stderr.write(`sparsity-lens: ${describeError(err)}\n`);
    process.exitCode = 2;
  });
}

if (!isMainThread && (workerData as { sparsityLensCli?: boolean } | undefined)?.sparsityLensCli) {
  const data = workerData as { argv: string[]; flag: Int32Array; stderrIsTTY: boolean };
  // Worker stdio is piped through the main thread: keep the progress bar when the real stderr is a terminal.
  (process.stderr as { isTTY?: boolean }).isTTY = data.stderrIsTTY;
  main(data.argv, sharedAbortSignal(data.flag)).then((code) => parentPort!.postMessage(code));
} else if (require.main === module && /cli\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  // Only as the program itself: a test bundle that imports main() must not run it.
  runInWorker(process.argv.slice(2));
}
