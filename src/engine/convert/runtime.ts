// Running the input and the output model in ONNX Runtime on the same generated inputs, and comparing every output.
// The native runtime (onnxruntime-node) is optional; the WebAssembly one ships with the tool (src/engine/convert/runners.ts).
// Without either (or for a model the runtime cannot run) the report says so.
import { CancelledError } from '../errors';
import { dtypeName } from '../onnx/dtypes';
import type { ModelSkeleton } from '../onnx/skeleton';
import { float16BitsToFloat32, bfloat16BitsToFloat32, seededRandom } from '../onnx/numbers';
import { type Feeds, type ModelRunner, NATIVE_SIZE_LIMIT, type RuntimeChoice, type RuntimeEngine, type TensorValues, pickRunner } from './runners';

export type { RuntimeChoice, RuntimeEngine };

export interface OutputComparison {
  name: string;
  /** Over the elements finite in both outputs; null when there is none. */
  maxAbsDiff: number | null;
  cosine: number | null;
  /** Every element bit-identical. */
  identical: boolean;
  /** Elements of the output, and those finite in both outputs (what the difference and the cosine cover). */
  elements: number;
  compared: number;
  /**
   * Elements that are NaN or infinite in the input model's output and in the converted model's: left out of the
   * difference and the cosine (a model that overflows on the generated inputs compares nothing there).
   */
  nonFinite: { input: number; output: number };
}

export interface RuntimeComparison {
  ran: boolean;
  /** The runtime that ran (or was to run) both models; absent when none could be loaded. */
  engine?: RuntimeEngine;
  /** Why it did not run, when it did not. */
  note?: string;
  /** Values given to symbolic dimensions. */
  dims?: Record<string, number>;
  outputs: OutputComparison[];
}

const ORT_TYPES: Record<string, { type: string; make: (n: number, rnd: () => number) => TensorValues['data'] }> = {
  float32: { type: 'float32', make: (n, rnd) => Float32Array.from({ length: n }, () => rnd() * 2 - 1) },
  float64: { type: 'float64', make: (n, rnd) => Float64Array.from({ length: n }, () => rnd() * 2 - 1) },
  float16: { type: 'float16', make: (n, rnd) => Uint16Array.from({ length: n }, () => halfBits(rnd() * 2 - 1)) },
  int8: { type: 'int8', make: (n, rnd) => Int8Array.from({ length: n }, () => Math.floor(rnd() * 16) - 8) },
  uint8: { type: 'uint8', make: (n, rnd) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 16)) },
  int32: { type: 'int32', make: (n, rnd) => Int32Array.from({ length: n }, () => Math.floor(rnd() * 4)) },
  int64: { type: 'int64', make: (n, rnd) => BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rnd() * 4))) },
  bool: { type: 'bool', make: (n, rnd) => Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? 1 : 0)) },
};

function halfBits(x: number): number {
  // Inputs in [-1, 1): exact enough through float32 rounding to 10 fraction bits.
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | ((u >>> 13) & 0x3ff);
}

/** The output's numbers; float16 and bfloat16 from their bits (whichever typed array the runtime returned them in). */
function toNumbers(t: TensorValues): Float64Array {
  const out = new Float64Array(t.data.length);
  const half = t.type === 'float16' || t.type === 'bfloat16';
  // A runtime on an engine with Float16Array returns float16 values as numbers: read their bits instead.
  const bits = half && ArrayBuffer.isView(t.data) && !(t.data instanceof Uint16Array) ? new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.length) : t.data;
  for (let i = 0; i < out.length; i++) {
    const v = bits[i];
    if (t.type === 'float16') out[i] = float16BitsToFloat32(Number(v));
    else if (t.type === 'bfloat16') out[i] = bfloat16BitsToFloat32(Number(v));
    else out[i] = Number(v);
  }
  return out;
}

/** What a comparison may be told: symbolic dimensions, which runtime, the input's size (bytes, external data included). */
export interface CompareOptions {
  dims?: Record<string, number>;
  runtime?: RuntimeChoice;
  /** A runner chosen by the caller (tests); otherwise `runtime` picks one. */
  runner?: ModelRunner;
  size?: number;
  signal?: AbortSignal;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/** "ONNX Runtime 1.30.0 WebAssembly": the runtime as the report names it. */
export function runtimeLabel(engine: RuntimeEngine): string {
  return `ONNX Runtime ${engine.version} ${engine.kind === 'wasm' ? 'WebAssembly' : 'native'}`;
}

/** A runtime's failure in words: the WebAssembly build's memory limit said as such. */
function failureNote(engine: RuntimeEngine, message: string): string {
  // onnxruntime-web wraps the runtime's own message: "Can't create a session. ERROR_CODE: 9, ERROR_MESSAGE: <message>".
  const first = message.split('\n')[0].replace(/^.*?ERROR_CODE: \d+, ERROR_MESSAGE: /, '');
  const who = engine.kind === 'wasm' ? 'ONNX Runtime (WebAssembly)' : 'ONNX Runtime';
  // Emscripten aborts with "OOM"/"Aborted()" and the engine with RangeError when the 4 GB of wasm32 memory run out.
  if (engine.kind === 'wasm' && /out of memory|\bOOM\b|bad_alloc|Maximum memory size|WebAssembly\.Memory|Array buffer allocation failed/i.test(first)) {
    return `${who} ran out of memory (WebAssembly has at most 4 GB): ${first}`;
  }
  return `${who} could not run the model: ${first}`;
}

/**
 * Runs both models on the same seeded inputs (symbolic dimensions set to `dims[name]`, else 1) and compares each
 * output: max |a - b|, cosine similarity, and whether they are bit-identical.
 */
export async function compareOutputs(before: string, after: string, model: ModelSkeleton, options: CompareOptions = {}): Promise<RuntimeComparison> {
  const runner = options.runner ?? pickRunner(options.runtime);
  if (typeof runner === 'string') return { ran: false, note: runner, outputs: [] };
  const engine = runner.engine;
  if (options.size !== undefined && options.size > runner.sizeLimit) {
    const why = engine.kind === 'wasm' ? ` (its memory is at most 4 GB; the CLI with onnxruntime-node compares models up to ${mb(NATIVE_SIZE_LIMIT)})` : '';
    return { ran: false, engine, note: `the model (${mb(options.size)}) is larger than the ${mb(runner.sizeLimit)} ${runtimeLabel(engine)} is given${why}: outputs were not compared`, outputs: [] };
  }
  const dims = options.dims ?? {};
  const initializerNames = new Set(model.graph.initializers.map((t) => t.name));
  const rnd = seededRandom(20261122);
  const feeds: Feeds = {};
  const used: Record<string, number> = {};
  for (const input of model.graph.inputs) {
    if (initializerNames.has(input.name)) continue;
    const typeName = dtypeName(input.elemType ?? 0);
    const kind = ORT_TYPES[typeName];
    if (!kind) return { ran: false, engine, note: `input '${input.name}' has type ${typeName}, which this check does not generate`, outputs: [] };
    const shape = (input.dims ?? []).map((d) => {
      if (typeof d === 'number') return d;
      const value = d ? (dims[d] ?? 1) : 1;
      if (d) used[d] = value;
      return value;
    });
    const count = shape.reduce((a, b) => a * b, 1);
    feeds[input.name] = { type: kind.type, data: kind.make(count, rnd), dims: shape };
  }
  let a: Record<string, TensorValues>;
  let b: Record<string, TensorValues>;
  try {
    [a, b] = await runner.run([before, after], feeds, options.signal);
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    return { ran: false, engine, note: failureNote(engine, err instanceof Error ? err.message : String(err)), outputs: [] };
  }
  const outputs: OutputComparison[] = [];
  for (const name of Object.keys(a)) {
    if (!b[name]) return { ran: false, engine, note: `the converted model has no output '${name}'`, outputs: [] };
    const x = toNumbers(a[name]);
    const y = toNumbers(b[name]);
    let maxAbsDiff = 0;
    let dot = 0;
    let nx = 0;
    let ny = 0;
    let compared = 0;
    const nonFinite = { input: 0, output: 0 };
    let identical = x.length === y.length;
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (!Object.is(x[i], y[i])) identical = false;
      const fx = Number.isFinite(x[i]);
      const fy = Number.isFinite(y[i]);
      if (!fx) nonFinite.input++;
      if (!fy) nonFinite.output++;
      if (!fx || !fy) continue;
      compared++;
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x[i] - y[i]));
      dot += x[i] * y[i];
      nx += x[i] * x[i];
      ny += y[i] * y[i];
    }
    const cosine = compared === 0 ? null : nx === 0 && ny === 0 ? 1 : nx === 0 || ny === 0 ? 0 : dot / Math.sqrt(nx * ny);
    outputs.push({ name, maxAbsDiff: compared ? maxAbsDiff : null, cosine, identical, elements: x.length, compared, nonFinite });
  }
  return { ran: true, engine, dims: used, outputs };
}
