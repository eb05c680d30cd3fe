// How the command line tunes V8's JavaScript compiler. A CLI run is one batch: it walks a model once and then calls
// the same glue (plans, reads, kernel calls, statistics) once per layer. With V8's default budget that glue turns
// hot after a few dozen layers, and the optimizing compiler spends its time on it in background threads: on an LLM of
// 224 layers, 72 functions and about 150 ms of compiling, on a 2-core machine taken from the threads that scan. The
// glue's time is small beside the kernel's (WebAssembly, compiled apart from this), so that compiling did not pay.
// With the budget 8 x the default (67,584 in Node 20) only code that is really hot is optimized: the structure
// walk's field loop, and long loops (on-stack replacement comes 8 x later, a few ms). Measured on the bench models
// (README, "Throughput"): the int4 LLM's inspection 9% faster; the fp16 models and the bf16 checkpoint the same
// within the noise; the lazy open of a 20 GB model a little faster.
//
// Only the CLI sets it (V8's flags belong to the process; the extension runs inside VS Code's extension host, which
// it shares with other extensions). The bench's children set it too, as they stand for CLI runs.

/** V8's interrupt budget (bytecode run before a function is considered for optimization) for CLI processes. */
export const CLI_INTERRUPT_BUDGET = 8 * 67584;

/** Sets CLI_INTERRUPT_BUDGET for this process (every thread); call before the command's code is loaded. */
export function tuneJitForBatch(): void {
  // Loaded here, not at the top: `--help` and `--version` do without it (5 ms).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const v8 = require('node:v8') as typeof import('node:v8');
  v8.setFlagsFromString(`--interrupt-budget=${CLI_INTERRUPT_BUDGET}`);
}
