// Weights that are constants only after folding (Mul by a mask, Where, Concat, Slice, Reshape of constants), as
// TensorRT and ONNX Runtime fold them when they build: a small serialisable recipe that the scan workers, the
// drill-down and convert evaluate into the effective weight's bytes. Reshape-only chains never come here: they are
// views of the stored bytes (same order, new dims) and stream as any constant does.
import { type DType, dtypeById, dtypeName, rawByteLength } from './dtypes';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBFloat16Bits, float32ToFloat16Bits } from './numbers';
import { type TensorRef, elementCount } from './skeleton';
import type { ByteSource } from './source';
import { BufferReader, type ElementReader, type ExternalFiles, TensorError, openTensor } from './tensorData';

/** One step of a folded expression, with the dims and type of its result (ONNX semantics of each op). */
export type FoldExpr =
  | { op: 'constant'; tensor: TensorRef; dims: number[]; dtype: number }
  /** Same elements in the same order, new dims (Reshape, Squeeze, Unsqueeze, Flatten, Identity). */
  | { op: 'reshape'; input: FoldExpr; dims: number[]; dtype: number }
  /** Element-wise product with multidirectional (numpy) broadcasting (ONNX Mul). */
  | { op: 'mul'; a: FoldExpr; b: FoldExpr; dims: number[]; dtype: number }
  /** cond ? x : y with broadcasting (ONNX Where). */
  | { op: 'where'; cond: FoldExpr; x: FoldExpr; y: FoldExpr; dims: number[]; dtype: number }
  | { op: 'concat'; inputs: FoldExpr[]; axis: number; dims: number[]; dtype: number }
  /** Per axis of the input: first index and step (the ONNX Slice bounds, already clamped). */
  | { op: 'slice'; input: FoldExpr; starts: number[]; steps: number[]; dims: number[]; dtype: number };

/** What folding may cost: the bytes of every tensor it reads or builds, together. A test lowers it to reach the cap. */
export const foldLimits = { bytes: 256 << 20 };

/** Bytes that evaluating `expr` holds at most (every constant read and every intermediate result, summed). */
export function foldCost(expr: FoldExpr): number {
  const own = rawByteLength(dtypeById(expr.dtype)!, elementCount(expr.dims));
  switch (expr.op) {
    case 'constant':
      return own;
    case 'reshape':
      return foldCost(expr.input);
    case 'mul':
      return own + foldCost(expr.a) + foldCost(expr.b);
    case 'where':
      return own + foldCost(expr.cond) + foldCost(expr.x) + foldCost(expr.y);
    case 'concat':
      return own + expr.inputs.reduce((s, e) => s + foldCost(e), 0);
    case 'slice':
      return own + foldCost(expr.input);
  }
}

/** A short key telling folded weights apart (ops, dims and the constants' places), for sharing one scan between layers. */
export function foldSignature(expr: FoldExpr): string {
  const inner = (() => {
    switch (expr.op) {
      case 'constant':
        return `${expr.tensor.span.offset}${expr.tensor.data.kind === 'external' ? `@${expr.tensor.data.location}` : ''}`;
      case 'reshape':
        return foldSignature(expr.input);
      case 'mul':
        return `${foldSignature(expr.a)},${foldSignature(expr.b)}`;
      case 'where':
        return `${foldSignature(expr.cond)},${foldSignature(expr.x)},${foldSignature(expr.y)}`;
      case 'concat':
        return `${expr.axis};${expr.inputs.map(foldSignature).join(',')}`;
      case 'slice':
        return `${expr.starts.join(' ')};${expr.steps.join(' ')};${foldSignature(expr.input)}`;
    }
  })();
  return `${expr.op}[${expr.dims.join(' ')}](${inner})`;
}

/** The effective weight of a folded tensor (`tensor.fold`), evaluated once into memory. */
export function openFolded(src: ByteSource, tensor: TensorRef, externals: ExternalFiles): ElementReader {
  const expr = tensor.fold!;
  const cost = foldCost(expr);
  if (cost > foldLimits.bytes) throw new TensorError(`folding '${tensor.name}' would take ${sizeText(cost)}, more than this tool folds (${sizeText(foldLimits.bytes)})`);
  const bytes = evaluate(src, expr, externals);
  const dtype = dtypeById(expr.dtype)!;
  // Evaluated whole in memory, in the one thread that scans it.
  return new BufferReader(dtype, elementCount(expr.dims), bytes, false);
}

/** Bytes in words: "1536 bytes", "300 MiB". */
export function sizeText(bytes: number): string {
  return bytes < 1 << 20 ? `${bytes} bytes` : `${Math.round(bytes / (1 << 20))} MiB`;
}

/** Evaluates `expr` to its raw little-endian bytes (types of 8 bits and more). */
export function evaluate(src: ByteSource, expr: FoldExpr, externals: ExternalFiles): Uint8Array {
  switch (expr.op) {
    case 'constant': {
      const reader = openTensor(src, expr.tensor, externals);
      if (reader.dtype.bits < 8) throw new TensorError(`'${expr.tensor.name}' is ${reader.dtype.name}: 4-bit constants are folded only by reshaping`);
      return reader.read(0, reader.count).bytes.slice();
    }
    case 'reshape':
      return evaluate(src, expr.input, externals);
    case 'mul':
      return multiply(expr, evaluate(src, expr.a, externals), evaluate(src, expr.b, externals));
    case 'where':
      return where(expr, evaluate(src, expr.cond, externals), evaluate(src, expr.x, externals), evaluate(src, expr.y, externals));
    case 'concat':
      return concatenate(expr, expr.inputs.map((e) => evaluate(src, e, externals)));
    case 'slice':
      return slice(expr, evaluate(src, expr.input, externals));
  }
}

/** Row-major strides of `dims`. */
function strides(dims: number[]): number[] {
  const out = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= dims[i];
  }
  return out;
}

/** Walks the output of a broadcasting op in row-major order, tracking the element index of each input (ONNX multidirectional broadcasting). */
class Broadcast {
  /** Element index of each input at the current output element. */
  readonly at: number[];
  private readonly position: number[];
  private readonly inStrides: number[][];
  constructor(
    private readonly outDims: number[],
    inputs: number[][],
  ) {
    const rank = outDims.length;
    this.position = new Array<number>(rank).fill(0);
    this.at = inputs.map(() => 0);
    this.inStrides = inputs.map((dims) => {
      const padded = [...new Array<number>(rank - dims.length).fill(1), ...dims];
      return strides(padded).map((s, i) => (padded[i] === 1 ? 0 : s));
    });
  }

  next(): void {
    const { position, at, inStrides, outDims } = this;
    for (let d = outDims.length - 1; d >= 0; d--) {
      position[d]++;
      for (let k = 0; k < at.length; k++) at[k] += inStrides[k][d];
      if (position[d] < outDims[d]) return;
      for (let k = 0; k < at.length; k++) at[k] -= inStrides[k][d] * position[d];
      position[d] = 0;
    }
  }
}

/** Reads and writes one element of a numeric type as a number (the types Mul folds). */
interface NumberCodec {
  get(view: DataView, i: number): number;
  set(view: DataView, i: number, x: number): void;
}

const CODECS: Record<string, NumberCodec> = {
  float32: { get: (v, i) => v.getFloat32(i * 4, true), set: (v, i, x) => v.setFloat32(i * 4, x, true) },
  float64: { get: (v, i) => v.getFloat64(i * 8, true), set: (v, i, x) => v.setFloat64(i * 8, x, true) },
  // A product of two halves (11-bit mantissas) is exact in float32: rounding once to half matches the runtimes.
  float16: { get: (v, i) => float16BitsToFloat32(v.getUint16(i * 2, true)), set: (v, i, x) => v.setUint16(i * 2, float32ToFloat16Bits(x), true) },
  bfloat16: { get: (v, i) => bfloat16BitsToFloat32(v.getUint16(i * 2, true)), set: (v, i, x) => v.setUint16(i * 2, float32ToBFloat16Bits(x), true) },
  // Integer products wrap, as ONNX Runtime's integer Mul does.
  int8: { get: (v, i) => v.getInt8(i), set: (v, i, x) => v.setInt8(i, x) },
  uint8: { get: (v, i) => v.getUint8(i), set: (v, i, x) => v.setUint8(i, x) },
  int16: { get: (v, i) => v.getInt16(i * 2, true), set: (v, i, x) => v.setInt16(i * 2, x, true) },
  uint16: { get: (v, i) => v.getUint16(i * 2, true), set: (v, i, x) => v.setUint16(i * 2, x, true) },
  int32: { get: (v, i) => v.getInt32(i * 4, true), set: (v, i, x) => v.setInt32(i * 4, Number(BigInt.asIntN(32, BigInt(x))), true) },
};

/** The number codec of a type Mul folds, or undefined (float8, 4-bit, 64-bit integers, bool). */
export function codecFor(dtype: number): NumberCodec | undefined {
  return CODECS[dtypeName(dtype)];
}

/** What a mask or a zero branch holds: its element count, zeros, whether every value is 0 or 1, and its first value. */
export interface ValueStats {
  count: number;
  zeros: number;
  binary: boolean;
  first: number;
}

/** Counts the values of a constant's bytes without keeping them as numbers (a mask may be as large as its weight). */
export function valueStats(dtype: number, bytes: Uint8Array): ValueStats {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const name = dtypeName(dtype);
  const codec: NumberCodec | undefined = name === 'bool' ? { get: (v, i) => (v.getUint8(i) ? 1 : 0), set: () => {} } : codecFor(dtype);
  if (!codec) throw new TensorError(`${name} values are not folded by this version`);
  const count = bytes.byteLength / (dtypeById(dtype)!.bits / 8);
  let zeros = 0;
  let binary = true;
  for (let i = 0; i < count; i++) {
    const v = codec.get(view, i);
    if (v === 0) zeros++;
    else if (v !== 1) binary = false;
  }
  return { count, zeros, binary, first: count ? codec.get(view, 0) : 0 };
}

function multiply(expr: Extract<FoldExpr, { op: 'mul' }>, a: Uint8Array, b: Uint8Array): Uint8Array {
  const codec = codecFor(expr.dtype);
  if (!codec) throw new TensorError(`Mul of ${dtypeName(expr.dtype)} constants is not folded by this version`);
  const size = dtypeById(expr.dtype)!.bits / 8;
  const count = elementCount(expr.dims);
  const out = new Uint8Array(count * size);
  const walk = new Broadcast(expr.dims, [expr.a.dims, expr.b.dims]);
  const va = new DataView(a.buffer, a.byteOffset, a.byteLength);
  const vb = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const vo = new DataView(out.buffer);
  for (let i = 0; i < count; i++, walk.next()) codec.set(vo, i, codec.get(va, walk.at[0]) * codec.get(vb, walk.at[1]));
  return out;
}

function where(expr: Extract<FoldExpr, { op: 'where' }>, cond: Uint8Array, x: Uint8Array, y: Uint8Array): Uint8Array {
  const size = dtypeById(expr.dtype)!.bits / 8;
  const count = elementCount(expr.dims);
  const out = new Uint8Array(count * size);
  const walk = new Broadcast(expr.dims, [expr.cond.dims, expr.x.dims, expr.y.dims]);
  for (let i = 0; i < count; i++, walk.next()) {
    const take = cond[walk.at[0]] !== 0;
    const from = take ? walk.at[1] : walk.at[2];
    out.set((take ? x : y).subarray(from * size, (from + 1) * size), i * size);
  }
  return out;
}

function concatenate(expr: Extract<FoldExpr, { op: 'concat' }>, parts: Uint8Array[]): Uint8Array {
  const size = dtypeById(expr.dtype)!.bits / 8;
  const outer = expr.dims.slice(0, expr.axis).reduce((x, y) => x * y, 1);
  const inner = expr.dims.slice(expr.axis + 1).reduce((x, y) => x * y, 1) * size;
  const out = new Uint8Array(elementCount(expr.dims) * size);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    expr.inputs.forEach((input, p) => {
      const run = input.dims[expr.axis] * inner;
      out.set(parts[p].subarray(o * run, (o + 1) * run), at);
      at += run;
    });
  }
  return out;
}

function slice(expr: Extract<FoldExpr, { op: 'slice' }>, input: Uint8Array): Uint8Array {
  const size = dtypeById(expr.dtype)!.bits / 8;
  const count = elementCount(expr.dims);
  const out = new Uint8Array(count * size);
  const inStrides = strides(expr.input.dims);
  const rank = expr.dims.length;
  const at = new Array<number>(rank).fill(0);
  let offset = expr.starts.reduce((s, start, d) => s + start * inStrides[d], 0);
  for (let i = 0; i < count; i++) {
    out.set(input.subarray(offset * size, (offset + 1) * size), i * size);
    for (let d = rank - 1; d >= 0; d--) {
      at[d]++;
      offset += expr.steps[d] * inStrides[d];
      if (at[d] < expr.dims[d]) break;
      offset -= expr.steps[d] * inStrides[d] * at[d];
      at[d] = 0;
    }
  }
  return out;
}
