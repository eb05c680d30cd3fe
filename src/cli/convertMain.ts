// convert, decompress and export (dist/cli-convert.js): run in a worker thread that dist/cli.js starts, so that
// Ctrl-C, caught by the main thread, reaches the engine's synchronous pruning and writing loops through a flag in
// shared memory; the command then removes its partial files and exits with 130.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { sharedAbortSignal } from '../engine/sharedAbort';
import { convertCommand } from './convert';
import { decompressCommand } from './decompress';
import { exportCommand } from './export';
import { type Command, processContext, runCommand } from './run';

const COMMANDS: Record<string, Command> = { convert: convertCommand, decompress: decompressCommand, export: exportCommand };

export interface ConvertWorkerData {
  sparsityLensCommand: string;
  argv: string[];
  flag: Int32Array;
  stderrIsTTY: boolean;
}

if (!isMainThread && (workerData as Partial<ConvertWorkerData> | undefined)?.sparsityLensCommand) {
  const data = workerData as ConvertWorkerData;
  // Worker stdio is piped through the main thread: keep the progress bar when the real stderr is a terminal.
  (process.stderr as { isTTY?: boolean }).isTTY = data.stderrIsTTY;
  const name = data.sparsityLensCommand;
  const ctx = processContext(sharedAbortSignal(data.flag));
  // The main thread removes the work folder itself if it must exit before this thread has cleaned up.
  ctx.onWorkFolder = (path) => parentPort!.postMessage({ workFolder: path });
  runCommand(name, COMMANDS[name], data.argv, ctx).then((code) => parentPort!.postMessage({ exit: code }));
}
