// `sparsity-lens inspect` in the CLI's own thread (dist/cli-inspect.js, loaded by dist/cli.js on demand): reading
// a model needs no second JavaScript thread, so the command pays for none. Large scans run on the scan worker pool
// while this thread waits, and inline scans yield between parts, so Ctrl-C is seen within one part either way.
import { EXIT } from './common';
import { inspectCommand } from './inspect';
import { processContext, runCommand } from './run';

export async function runInspect(argv: string[]): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT.cancelled); // a second Ctrl-C: stop now
    controller.abort();
  };
  // Ctrl-C, kill (TERM) and a closed terminal (HUP) cancel alike; a second one stops at once.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, onSigint);
  try {
    return await runCommand('inspect', inspectCommand, argv, processContext(controller.signal));
  } finally {
    for (const signal of signals) process.off(signal, onSigint);
  }
}
