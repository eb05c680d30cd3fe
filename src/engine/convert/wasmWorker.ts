// The WebAssembly build of ONNX Runtime (onnxruntime-web) in a thread of its own, for runtime comparisons: it needs
// no native binary (the .vsix ships it in dist/ort/), its memory (wasm32: at most 4 GB, never given back) goes with
// the thread, an abort inside it stays in it, and cancel terminates it (src/engine/convert/runners.ts starts it and
// ends it a few seconds after its last comparison).
import { pathToFileURL } from 'node:url';
import { parentPort } from 'node:worker_threads';
import type { FromWasmWorker, OrtModule, Outputs, TensorValues, WasmJob } from './runners';
import { SESSION_OPTIONS } from './runners';

// The package's Node entry (its "node"/"require" export): it loads the .mjs and .wasm from env.wasm.wasmPaths.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-web') as OrtModule;

/** An output's values copied into a buffer of their own, so that they can be transferred out of the thread. */
function detached(t: TensorValues): TensorValues {
  const data = ArrayBuffer.isView(t.data) ? (t.data as unknown as { slice(): TensorValues['data'] }).slice() : Array.from(t.data);
  return { type: t.type, dims: [...t.dims], data };
}

async function run(job: WasmJob): Promise<FromWasmWorker> {
  // Read once, when the first session initialises the runtime. One thread: onnxruntime-web would otherwise start
  // pthread workers of its own (up to 4).
  ort.env.wasm!.numThreads = 1;
  ort.env.wasm!.wasmPaths = `${pathToFileURL(job.wasmDir).href}/`;
  ort.env.logLevel = 'fatal';
  const feeds = Object.fromEntries(Object.entries(job.feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]));
  const outputs: Outputs[] = [];
  for (const model of job.models) {
    const session = await ort.InferenceSession.create(model.path, { ...SESSION_OPTIONS, externalData: model.externalData });
    const result = await session.run(feeds, SESSION_OPTIONS);
    outputs.push(Object.fromEntries(Object.entries(result).map(([name, t]) => [name, detached(t)])));
    await session.release?.();
  }
  return { type: 'done', version: ort.env.versions.web ?? '?', outputs };
}

function transferables(msg: FromWasmWorker): ArrayBuffer[] {
  if (msg.type !== 'done') return [];
  return msg.outputs.flatMap((o) => Object.values(o).flatMap((t) => (ArrayBuffer.isView(t.data) ? [t.data.buffer as ArrayBuffer] : [])));
}

// One job per message; the thread stays for the next (src/engine/convert/runners.ts ends it when idle or on cancel).
parentPort!.on('message', (job: WasmJob) => {
  run(job).then(
    (msg) => parentPort!.postMessage(msg, transferables(msg)),
    (err: unknown) => {
      // ONNX Runtime's messages can run to several lines (the failing node, then a C++ trace): the first says what.
      const text = err instanceof Error ? err.message : String(err);
      parentPort!.postMessage({ type: 'failed', message: text.split('\n')[0] } satisfies FromWasmWorker);
    },
  );
});
