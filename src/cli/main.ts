// sparsity-lens: the command-line front end over the engine. This entry (dist/cli.js) is kept small: `--help` and
// `--version` load nothing else; inspect loads dist/cli-inspect.js into this thread; convert, decompress and export
// load dist/cli-convert.js into a worker thread (see convertMain.ts for why).
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { newAbortFlag, raiseAbortFlag } from '../engine/sharedAbort';
import { EXIT } from './common';
import { tuneJitForBatch } from './jit';
import type { ConvertWorkerData } from './convertMain';
import { COMMAND_HELP, HELP, VERSION } from './help';
import { sanitizeTerminal } from './sanitize';

/** A bundle next to this one, loaded at run time (esbuild leaves a computed require alone). */
function load<T>(bundle: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(join(__dirname, bundle)) as T;
}

function runInWorker(command: string, argv: string[]): void {
  const flag = newAbortFlag();
  const worker = new Worker(join(__dirname, 'cli-convert.js'), {
    workerData: { sparsityLensCommand: command, argv, flag, stderrIsTTY: Boolean(process.stderr.isTTY) } satisfies ConvertWorkerData,
  });
  // The command's work folder (its outputs before they are put in place), removed here on a hard exit.
  let workFolder: string | null = null;
  let interrupted = false;
  const stop = () => {
    if (workFolder) rmSync(workFolder, { recursive: true, force: true });
    process.exit(EXIT.cancelled);
  };
  // Ctrl-C, kill (TERM) and a closed terminal (HUP) all cancel: the command stops at its next check, removes what it
  // wrote and exits 130. A second signal, or a command that has not stopped within 5 s, stops the process here.
  const onSignal = () => {
    if (interrupted) stop();
    interrupted = true;
    raiseAbortFlag(flag);
    setTimeout(stop, 5000).unref();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  worker.on('message', (message: { exit?: number; workFolder?: string | null }) => {
    if (message.exit !== undefined) process.exitCode = message.exit;
    else if (message.workFolder !== undefined) workFolder = message.workFolder;
  });
  worker.on('error', (err) => {
    // The worker died (e.g. out of memory): name the model, and leave no work folder behind.
    if (workFolder) rmSync(workFolder, { recursive: true, force: true });
    const model = argv.find((a) => !a.startsWith('-') && existsSync(a)) ?? command;
    process.stderr.write(sanitizeTerminal(`sparsity-lens: ${model}: ${command} stopped: ${err instanceof Error ? err.message : String(err)}; nothing was written\n`));
    process.exitCode = EXIT.bad;
  });
}

// A reader that stops early (`| head`) closes the pipe: stop quietly, as other command-line tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  throw err;
});

function cli(argv: string[]): void {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP);
    process.exitCode = command ? EXIT.ok : EXIT.bad;
    return;
  }
  if (command === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const help = COMMAND_HELP[command];
  if (help === undefined) {
    process.stderr.write(`sparsity-lens: unknown command '${sanitizeTerminal(command)}'\nRun 'sparsity-lens --help' for usage.\n`);
    process.exitCode = EXIT.bad;
    return;
  }
  if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
    process.stdout.write(help);
    return;
  }
  // A command that reads a model: V8 tuned for one batch run (jit.ts), here and in the command's worker threads.
  tuneJitForBatch();
  if (command === 'inspect') {
    load<typeof import('./inspectMain')>('cli-inspect.js')
      .runInspect(rest)
      .then((code) => (process.exitCode = code));
    return;
  }
  runInWorker(command, rest);
}

cli(process.argv.slice(2));
