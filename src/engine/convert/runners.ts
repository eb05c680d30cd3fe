// Which ONNX Runtime runs the models of a runtime comparison: the native one (onnxruntime-node, optional, not in the
// .vsix) or the WebAssembly one (onnxruntime-web, shipped in dist/ort/ and run in a worker thread of its own,
// src/engine/convert/wasmWorker.ts). The comparison itself (inputs, differences, identity) is the same for both
// (src/engine/convert/runtime.ts).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../errors';
import { readSkeleton } from '../onnx/skeleton';
import { FileSource } from '../onnx/source';
import { allTensors } from '../onnx/tensors';
import { resolveExternalPath } from '../onnx/tensorData';

/** auto: the native runtime when it is installed, else the WebAssembly one (the CLI); the extension asks for wasm. */
export type RuntimeChoice = 'auto' | 'native' | 'wasm';

/** Which runtime compared the outputs, as the report says it. */
export interface RuntimeEngine {
  kind: 'native' | 'wasm';
  package: 'onnxruntime-node' | 'onnxruntime-web';
  version: string;
}

/** A generated input, or an output as the runtime returned it (typed array of its element type). */
export interface TensorValues {
  type: string;
  dims: readonly number[];
  data: ArrayLike<number | bigint | boolean>;
}

export type Feeds = Record<string, TensorValues>;
export type Outputs = Record<string, TensorValues>;

export interface ModelRunner {
  engine: RuntimeEngine;
  /** Bytes (model and external data) above which the models are not run: the reason is said in the report. */
  sizeLimit: number;
  /** Runs each model on the same feeds, one session at a time, and returns their outputs in order. */
  run(models: string[], feeds: Feeds, signal?: AbortSignal): Promise<Outputs[]>;
}

/** What onnxruntime-node and onnxruntime-web share, as far as the comparison uses it. */
export interface OrtModule {
  InferenceSession: {
    create(path: string, options?: object): Promise<{ run(feeds: Record<string, unknown>, options?: object): Promise<Record<string, TensorValues>>; release?(): Promise<void> }>;
  };
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => unknown;
  env: { versions: Record<string, string | undefined>; logLevel?: string; wasm?: { numThreads?: number; wasmPaths?: string } };
}

/** Fatal only (4 in ONNX Runtime's severity levels): a model it cannot run is reported in the comparison's note. */
export const SESSION_OPTIONS = { logSeverityLevel: 4 };

/** The native runtime: what the CLI has run since the start (1 GB: the bound its comparison always had). */
export const NATIVE_SIZE_LIMIT = 1 << 30;
/**
 * The WebAssembly runtime reads the model, copies it into its memory (wasm32: 4 GB at most) and builds the weights
 * there again: a 302 MB model took the process from 0.8 to 2.2 GB (scripts/verify-bench.ts), so 512 MB stays well
 * inside the 4 GB.
 */
export const WASM_SIZE_LIMIT = 512 * 1024 * 1024;

/** The files of onnxruntime-web's WebAssembly build that dist/ort/ ships (copied there by esbuild.mjs). */
export const WASM_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

function loadNative(): OrtModule | undefined {
  try {
    // Loaded at run time: a native module, optional, and not bundled.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('onnxruntime-node') as OrtModule;
  } catch {
    return undefined;
  }
}

/**
 * The runner for `choice`, or why there is none (said in the report as "outputs not compared: ..."). `native` loads
 * onnxruntime-node (tests pass one that finds none).
 */
export function pickRunner(choice: RuntimeChoice = 'auto', native: () => OrtModule | undefined = loadNative): ModelRunner | string {
  if (choice !== 'wasm') {
    const ort = native();
    if (ort) return nativeRunner(ort);
    if (choice === 'native') return 'onnxruntime-node is not installed (the WebAssembly build compares without it: --verify-runtime auto or wasm)';
  }
  const wasm = wasmRunner();
  if (typeof wasm !== 'string') return wasm;
  return choice === 'auto' ? `onnxruntime-node is not installed, and ${wasm}` : wasm;
}

export function nativeRunner(ort: OrtModule): ModelRunner {
  return {
    engine: { kind: 'native', package: 'onnxruntime-node', version: ort.env.versions.node ?? ort.env.versions.common ?? '?' },
    sizeLimit: NATIVE_SIZE_LIMIT,
    async run(models, feeds) {
      const tensors = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]));
      const results: Outputs[] = [];
      for (const path of models) {
        // ONNX Runtime's own warnings (e.g. duplicate initializers) would go raw to the process's stderr: the report's
        // warnings say what matters.
        const session = await ort.InferenceSession.create(path, SESSION_OPTIONS);
        results.push(await session.run(tensors, SESSION_OPTIONS));
        await session.release?.();
      }
      return results;
    },
  };
}

/** The bundled WebAssembly worker next to this bundle (dist/) or one folder up (dist/test/), with its files in ort/. */
export function wasmWorkerScript(): { script: string; wasmDir: string } | undefined {
  for (const dir of [__dirname, join(__dirname, '..')]) {
    const script = join(dir, 'ort-worker.js');
    if (existsSync(script)) return { script, wasmDir: join(dirname(script), 'ort') };
  }
  return undefined;
}

/** One model of a WebAssembly job: its path and the external data files it reads (mounted by their location). */
export interface WasmModel {
  path: string;
  externalData: { path: string; data: string }[];
}

export interface WasmJob {
  wasmDir: string;
  models: WasmModel[];
  feeds: Feeds;
}

export type FromWasmWorker = { type: 'done'; version: string; outputs: Outputs[] } | { type: 'failed'; message: string };

/** The external data files a model reads, by the location its tensors name (what onnxruntime-web mounts). */
export function externalDataOf(path: string): WasmModel['externalData'] {
  const src = new FileSource(path);
  try {
    const locations = new Set<string>();
    for (const t of allTensors(readSkeleton(src))) if (t.data.kind === 'external') locations.add(t.data.location);
    return [...locations].map((location) => ({ path: location, data: resolveExternalPath(path, location) }));
  } finally {
    src.close();
  }
}

export function wasmRunner(): ModelRunner | string {
  const found = wasmWorkerScript();
  if (!found) return 'the WebAssembly runtime is not bundled (ort-worker.js is missing): outputs were not compared';
  const missing = WASM_FILES.filter((f) => !existsSync(join(found.wasmDir, f)));
  if (missing.length) return `the WebAssembly runtime's ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing from ${found.wasmDir}: outputs were not compared`;
  return {
    engine: { kind: 'wasm', package: 'onnxruntime-web', version: wasmVersion() },
    sizeLimit: WASM_SIZE_LIMIT,
    run: (models, feeds, signal) => runInWorker(found.script, { wasmDir: found.wasmDir, models: models.map((path) => ({ path, externalData: externalDataOf(path) })), feeds }, signal),
  };
}

/** The version esbuild bundled into the worker (the same package.json the lockfile pins). */
function wasmVersion(): string {
  return typeof ORT_WEB_VERSION === 'string' ? ORT_WEB_VERSION : '?';
}
declare const ORT_WEB_VERSION: string | undefined;

/**
 * How long a WebAssembly thread waits for the next comparison before it ends: a compress verification runs two in a
 * row, and each new thread pays about 1 s of CPU to compile the .wasm and initialise ONNX Runtime.
 */
const IDLE_MS = 3000;
let idle: { worker: Worker; script: string; timer: NodeJS.Timeout } | undefined;
let started = 0;

/** WebAssembly threads started in this process (tests: a compress verification starts one). */
export function wasmThreadsStarted(): number {
  return started;
}

/** Ends the thread kept for the next comparison, if any (its memory is freed now rather than after IDLE_MS). */
export function endIdleWasmThread(): void {
  const kept = idle;
  idle = undefined;
  if (!kept) return;
  clearTimeout(kept.timer);
  void kept.worker.terminate();
}

function takeWorker(script: string): Worker {
  const kept = idle;
  idle = undefined;
  if (kept) {
    clearTimeout(kept.timer);
    if (kept.script === script) {
      kept.worker.ref();
      return kept.worker;
    }
    void kept.worker.terminate();
  }
  started++;
  return new Worker(script);
}

/** Keeps a thread that answered for IDLE_MS, without holding the process open. */
function keepWorker(worker: Worker, script: string): void {
  if (idle) void idle.worker.terminate();
  worker.unref();
  const timer = setTimeout(() => {
    if (idle?.worker === worker) idle = undefined;
    void worker.terminate();
  }, IDLE_MS);
  timer.unref();
  idle = { worker, script, timer };
}

/**
 * Runs the job in a WebAssembly thread: a fresh one, or the one the previous comparison left (its memory reused).
 * Cancel, a failure or an abort inside it terminates the thread: its memory goes with it, and the next job starts clean.
 */
function runInWorker(script: string, job: WasmJob, signal?: AbortSignal): Promise<Outputs[]> {
  if (signal?.aborted) return Promise.reject(new CancelledError());
  return new Promise((resolve, reject) => {
    const worker = takeWorker(script);
    let settled = false;
    const finish = (keep: boolean, fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (keep) keepWorker(worker, script);
      else void worker.terminate();
      fn();
    };
    const onAbort = () => finish(false, () => reject(new CancelledError()));
    const onMessage = (msg: FromWasmWorker) => finish(msg.type === 'done', () => (msg.type === 'done' ? resolve(msg.outputs) : reject(new Error(msg.message))));
    // An abort inside the WebAssembly module (out of memory, a failed assertion) ends the thread, not the engine.
    const onError = (err: Error) => finish(false, () => reject(err));
    const onExit = (code: number) => finish(false, () => reject(new Error(`the WebAssembly runtime's thread stopped (exit code ${code}) before it answered`)));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(job);
  });
}
