// Running the input and the output model in ONNX Runtime on the same generated inputs, and comparing every output.
// onnxruntime-node is optional: without it (or for a model it cannot run) the report says so.
import { dtypeName } from '../onnx/dtypes';
import type { ModelSkeleton } from '../onnx/skeleton';
import { float16BitsToFloat32, bfloat16BitsToFloat32, seededRandom } from '../onnx/numbers';

/** Fatal only (4 in ONNX Runtime's severity levels): a model it cannot run is reported in the comparison's note. */
const SESSION_OPTIONS = { logSeverityLevel: 4 };

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
  /** Why it did not run, when it did not. */
  note?: string;
  /** Values given to symbolic dimensions. */
  dims?: Record<string, number>;
  outputs: OutputComparison[];
}

interface OrtTensor {
  data: ArrayLike<number | bigint | boolean>;
  type: string;
  dims: readonly number[];
}
interface OrtModule {
  InferenceSession: { create(path: string, options?: object): Promise<{ run(feeds: Record<string, unknown>, options?: object): Promise<Record<string, OrtTensor>>; release?(): Promise<void> }> };
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => unknown;
}

function loadOrt(): OrtModule | undefined {
  try {
    // Loaded at run time: a native module, optional, and not bundled.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('onnxruntime-node') as OrtModule;
  } catch {
    return undefined;
  }
}

const ORT_TYPES: Record<string, { type: string; make: (n: number, rnd: () => number) => unknown }> = {
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

function toNumbers(t: OrtTensor): Float64Array {
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = t.data[i];
    if (t.type === 'float16') out[i] = float16BitsToFloat32(Number(v));
    else if (t.type === 'bfloat16') out[i] = bfloat16BitsToFloat32(Number(v));
    else out[i] = Number(v);
  }
  return out;
}

export const RUNTIME_SIZE_LIMIT = 1 << 30;

/**
 * Runs both models on the same seeded inputs (symbolic dimensions set to `dims[name]`, else 1) and compares each
 * output: max |a - b|, cosine similarity, and whether they are bit-identical.
 */
export async function compareOutputs(before: string, after: string, model: ModelSkeleton, dims: Record<string, number> = {}): Promise<RuntimeComparison> {
  const ort = loadOrt();
  if (!ort) return { ran: false, note: 'onnxruntime-node is not installed: outputs were not compared', outputs: [] };
  const initializerNames = new Set(model.graph.initializers.map((t) => t.name));
  const rnd = seededRandom(20261122);
  const feeds: Record<string, unknown> = {};
  const used: Record<string, number> = {};
  for (const input of model.graph.inputs) {
    if (initializerNames.has(input.name)) continue;
    const typeName = dtypeName(input.elemType ?? 0);
    const kind = ORT_TYPES[typeName];
    if (!kind) return { ran: false, note: `input '${input.name}' has type ${typeName}, which this check does not generate`, outputs: [] };
    const shape = (input.dims ?? []).map((d) => {
      if (typeof d === 'number') return d;
      const value = d ? (dims[d] ?? 1) : 1;
      if (d) used[d] = value;
      return value;
    });
    const count = shape.reduce((a, b) => a * b, 1);
    feeds[input.name] = new ort.Tensor(kind.type, kind.make(count, rnd), shape);
  }
  try {
    // ONNX Runtime's own warnings (e.g. duplicate initializers) would go raw to the process's stderr: the report's
    // warnings say what matters.
    const first = await ort.InferenceSession.create(before, SESSION_OPTIONS);
    const a = await first.run(feeds, SESSION_OPTIONS);
    await first.release?.();
    const second = await ort.InferenceSession.create(after, SESSION_OPTIONS);
    const b = await second.run(feeds, SESSION_OPTIONS);
    await second.release?.();
    const outputs: OutputComparison[] = [];
    for (const name of Object.keys(a)) {
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
    return { ran: true, dims: used, outputs };
  } catch (err) {
    return { ran: false, note: `ONNX Runtime could not run the model: ${(err as Error).message.split('\n')[0]}`, outputs: [] };
  }
}
