// Builds real ONNX models in code (protobuf via onnx-proto) for tests, the sample generator and benchmarks.
// Not part of what ships: no bundle of the extension or the CLI imports it (test/bundles.test.ts checks).
// Pure TypeScript apart from writeModel (node:fs); no vscode or DOM.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { onnx } from 'onnx-proto';
import { float32ToBFloat16Bits, float32ToFloat16Bits } from '../../src/engine/onnx/numbers';

export { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBFloat16Bits, float32ToFloat16Bits, seededRandom } from '../../src/engine/onnx/numbers';

// ---------------------------------------------------------------------------
// Data types

export type DTypeName =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'int64' | 'int4' | 'uint4' | 'float4e2m1';

/** TensorProto.DataType numbers (onnx-proto's enum stops at BFLOAT16; the wire field is a plain int32). */
export const DTYPE_IDS: Record<DTypeName, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  float16: 10,
  float64: 11,
  bfloat16: 16,
  float8e4m3fn: 17,
  float8e4m3fnuz: 18,
  float8e5m2: 19,
  float8e5m2fnuz: 20,
  uint4: 21,
  int4: 22,
  float4e2m1: 23,
};

/** Inclusive integer range of each integer dtype (and of the bit patterns of the small floats). */
const INT_RANGES: Partial<Record<DTypeName, [number, number]>> = {
  int4: [-8, 7],
  uint4: [0, 15],
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

const FLOAT8: ReadonlySet<DTypeName> = new Set(['float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz']);

// ---------------------------------------------------------------------------
// Tensors

export interface TensorSpec {
  name: string;
  dtype: DTypeName;
  dims: number[];
  /** Logical values, row-major; for float16/bfloat16/float8 with `bits: true`, the raw bit patterns. */
  values: ArrayLike<number>;
  /** Where the data goes: raw_data (default), the typed repeated fields, or an external file. */
  storage?: 'raw' | 'typed' | { external: string };
  /** `values` are already bit patterns (float16, bfloat16, float8: required for float8). */
  bits?: boolean;
}

/** Collects external-data bytes per file (location relative to the model's folder). */
export class ExternalSink {
  private readonly chunks = new Map<string, { parts: Uint8Array[]; size: number }>();

  /** Appends bytes to `location`, starting at a multiple of `align`; returns where they landed. */
  add(location: string, bytes: Uint8Array, align = 64): { offset: number; length: number } {
    let file = this.chunks.get(location);
    if (!file) {
      file = { parts: [], size: 0 };
      this.chunks.set(location, file);
    }
    const pad = align > 1 ? (align - (file.size % align)) % align : 0;
    if (pad > 0) file.parts.push(new Uint8Array(pad));
    const offset = file.size + pad;
    file.parts.push(bytes.slice()); // copy: the caller may reuse its buffer
    file.size = offset + bytes.length;
    return { offset, length: bytes.length };
  }

  /** Each file's full contents. */
  files(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [location, { parts, size }] of this.chunks) {
      const buf = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        buf.set(p, at);
        at += p.length;
      }
      out.set(location, buf);
    }
    return out;
  }
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, d) => a * d, 1);
}

/** Values as the integers stored on the wire: bit patterns for the small floats, checked integers otherwise. */
function storedIntegers(spec: TensorSpec): number[] {
  const { dtype, values, bits } = spec;
  const out = new Array<number>(values.length);
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const conv = dtype === 'float16' ? float32ToFloat16Bits : float32ToBFloat16Bits;
    for (let i = 0; i < values.length; i++) out[i] = bits ? checkInt(values[i], 0, 0xffff, spec) : conv(values[i]);
    return out;
  }
  if (FLOAT8.has(dtype)) {
    // No float8 rounding here: tests state the exact patterns they mean.
    if (!bits) throw new Error(`tensor ${spec.name}: ${dtype} values must be bit patterns (bits: true)`);
    for (let i = 0; i < values.length; i++) out[i] = checkInt(values[i], 0, 0xff, spec);
    return out;
  }
  if (dtype === 'float4e2m1') {
    if (!bits) throw new Error(`tensor ${spec.name}: float4e2m1 values must be 4-bit codes (bits: true)`);
    for (let i = 0; i < values.length; i++) out[i] = checkInt(values[i], 0, 0xf, spec);
    return out;
  }
  const range = INT_RANGES[dtype];
  if (!range) throw new Error(`tensor ${spec.name}: ${dtype} has no integer storage`);
  for (let i = 0; i < values.length; i++) out[i] = checkInt(values[i], range[0], range[1], spec);
  return out;
}

function checkInt(v: number, lo: number, hi: number, spec: TensorSpec): number {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new Error(`tensor ${spec.name}: value ${v} is not a ${spec.dtype}${spec.bits ? ' bit pattern' : ''} in [${lo}, ${hi}]`);
  }
  return v;
}

/** int4/uint4: two per byte, first element in the low nibble, odd count padded with a zero nibble. */
function packNibbles(ints: number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil(ints.length / 2));
  for (let i = 0; i < ints.length; i++) out[i >> 1] |= (ints[i] & 0xf) << ((i & 1) * 4);
  return out;
}

/** The little-endian raw_data bytes of a tensor. */
function rawBytes(spec: TensorSpec): Uint8Array {
  const { dtype, values } = spec;
  if (dtype === 'int4' || dtype === 'uint4' || dtype === 'float4e2m1') return packNibbles(storedIntegers(spec));
  const width = byteWidth(dtype);
  const buf = new Uint8Array(values.length * width);
  const view = new DataView(buf.buffer);
  if (dtype === 'float32') for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  else if (dtype === 'float64') for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  else {
    const ints = storedIntegers(spec);
    for (let i = 0; i < ints.length; i++) writeInt(view, i * width, width, ints[i]);
  }
  return buf;
}

function byteWidth(dtype: DTypeName): number {
  switch (dtype) {
    case 'float64': case 'int64': return 8;
    case 'float32': case 'int32': return 4;
    case 'float16': case 'bfloat16': case 'int16': case 'uint16': return 2;
    default: return 1; // int8, uint8, float8 (int4/uint4 are packed separately)
  }
}

// Two's complement little-endian; the range was checked, so masking is exact.
function writeInt(view: DataView, at: number, width: number, v: number): void {
  if (width === 8) view.setBigInt64(at, BigInt(v), true);
  else if (width === 4) view.setInt32(at, v, true);
  else if (width === 2) view.setUint16(at, v & 0xffff, true);
  else view.setUint8(at, v & 0xff);
}

/** The typed repeated field the ONNX spec prescribes for this dtype, filled. */
function typedFields(spec: TensorSpec): Partial<onnx.ITensorProto> {
  switch (spec.dtype) {
    case 'float32': return { floatData: Array.from(spec.values) };
    case 'float64': return { doubleData: Array.from(spec.values) };
    case 'int64': return { int64Data: storedIntegers(spec) };
    case 'int4': case 'uint4': case 'float4e2m1': return { int32Data: Array.from(packNibbles(storedIntegers(spec))) };
    // int8/16/32, uint8/16: the value; float16/bfloat16/float8: the unsigned bit pattern.
    default: return { int32Data: storedIntegers(spec) };
  }
}

/** A TensorProto for `spec`; external storage appends its bytes to `external` (required then). */
export function makeTensor(spec: TensorSpec, external?: ExternalSink): onnx.ITensorProto {
  const count = elementCount(spec.dims);
  if (spec.values.length !== count) {
    throw new Error(`tensor ${spec.name}: ${spec.values.length} values for dims [${spec.dims.join(', ')}] (${count} elements)`);
  }
  const tensor: onnx.ITensorProto = { name: spec.name, dataType: DTYPE_IDS[spec.dtype], dims: [...spec.dims] };
  const storage = spec.storage ?? 'raw';
  if (storage === 'raw') return { ...tensor, rawData: rawBytes(spec) };
  if (storage === 'typed') return { ...tensor, ...typedFields(spec) };
  if (!external) throw new Error(`tensor ${spec.name}: external storage needs an ExternalSink`);
  const { offset, length } = external.add(storage.external, rawBytes(spec));
  return {
    ...tensor,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: storage.external },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
  };
}

/** A sparse tensor holding only the non-zero entries of dense `values` (indices ascending, int64). */
export function sparseTensor(spec: {
  name: string;
  dtype: DTypeName;
  dims: number[];
  values: ArrayLike<number>;
  indexForm?: 'linear' | 'coordinate';
}): onnx.ISparseTensorProto {
  const count = elementCount(spec.dims);
  if (spec.values.length !== count) throw new Error(`sparse tensor ${spec.name}: ${spec.values.length} values for ${count} elements`);
  const kept: number[] = [];
  const positions: number[] = [];
  for (let i = 0; i < count; i++) {
    if (spec.values[i] !== 0) { // NaN counts as non-zero, -0 as zero
      kept.push(spec.values[i]);
      positions.push(i);
    }
  }
  const coordinate = spec.indexForm === 'coordinate';
  const indices = coordinate ? positions.flatMap((p) => unravel(p, spec.dims)) : positions;
  return {
    dims: [...spec.dims],
    values: makeTensor({ name: spec.name, dtype: spec.dtype, dims: [kept.length], values: kept }),
    indices: makeTensor({
      name: `${spec.name}_indices`,
      dtype: 'int64',
      dims: coordinate ? [positions.length, spec.dims.length] : [positions.length],
      values: indices,
    }),
  };
}

/** Row-major linear index → coordinates. */
function unravel(index: number, dims: readonly number[]): number[] {
  const coord = new Array<number>(dims.length);
  for (let a = dims.length - 1; a >= 0; a--) {
    coord[a] = index % dims[a];
    index = Math.floor(index / dims[a]);
  }
  return coord;
}

// ---------------------------------------------------------------------------
// Nodes, graphs, models

export type AttrValue =
  | number
  | number[]
  | string
  | { float: number }
  | { floats: number[] }
  | onnx.ITensorProto
  | { graph: onnx.IGraphProto }
  | { sparse: onnx.ISparseTensorProto };

const AttrType = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  if (typeof v === 'number') return { name, type: AttrType.INT, i: integerAttr(name, v) };
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v.map((x) => integerAttr(name, x)) };
  if ('float' in v) return { name, type: AttrType.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: [...v.floats] };
  if ('graph' in v) return { name, type: AttrType.GRAPH, g: v.graph };
  if ('sparse' in v) return { name, type: AttrType.SPARSE_TENSOR, sparseTensor: v.sparse };
  return { name, type: AttrType.TENSOR, t: v };
}

// Plain numbers mean INT/INTS; a fraction is almost surely a float attribute written without { float }.
function integerAttr(name: string, v: number): number {
  if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; write { float: ${v} } / { floats: [...] }`);
  return v;
}

export function node(
  op: string,
  inputs: string[],
  outputs: string[],
  attrs?: Record<string, AttrValue>,
  opts?: { name?: string; domain?: string },
): onnx.INodeProto {
  const proto: onnx.INodeProto = { opType: op, input: [...inputs], output: [...outputs] };
  if (opts?.name !== undefined) proto.name = opts.name;
  if (opts?.domain !== undefined) proto.domain = opts.domain;
  if (attrs) proto.attribute = Object.entries(attrs).map(([k, v]) => attribute(k, v));
  return proto;
}

/** A `Constant` node producing `tensor` (attribute `value`). */
export function constantNode(output: string, tensor: onnx.ITensorProto, name?: string): onnx.INodeProto {
  return node('Constant', [], [output], { value: tensor }, name === undefined ? undefined : { name });
}

/** A tensor ValueInfo; a string dim is symbolic (dim_param). */
export function valueInfo(name: string, dtype: DTypeName, dims: (number | string)[]): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: DTYPE_IDS[dtype], shape: { dim } } } };
}

export function graph(spec: {
  name: string;
  nodes: onnx.INodeProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  initializers?: onnx.ITensorProto[];
  sparseInitializers?: onnx.ISparseTensorProto[];
  valueInfo?: onnx.IValueInfoProto[];
}): onnx.IGraphProto {
  return {
    name: spec.name,
    node: spec.nodes,
    input: spec.inputs,
    output: spec.outputs,
    initializer: spec.initializers ?? [],
    sparseInitializer: spec.sparseInitializers ?? [],
    valueInfo: spec.valueInfo ?? [],
  };
}

export interface ModelSpec {
  graph: onnx.IGraphProto;
  /** Default-domain opset, default 17. */
  opset?: number;
  extraOpsets?: { domain: string; version: number }[];
  functions?: onnx.IFunctionProto[];
  /** Default 8. */
  irVersion?: number;
  producer?: string;
  metadata?: Record<string, string>;
  docString?: string;
}

export function encodeModel(spec: ModelSpec): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: spec.irVersion ?? 8,
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }, ...(spec.extraOpsets ?? [])],
    producerName: spec.producer ?? 'sparsity-lens builder',
    graph: spec.graph,
  };
  if (spec.functions) model.functions = spec.functions;
  if (spec.metadata) model.metadataProps = Object.entries(spec.metadata).map(([key, value]) => ({ key, value }));
  if (spec.docString !== undefined) model.docString = spec.docString;
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Writes the model to `path` and each file of `external` next to it (location relative to the model's
 * folder, subfolders created). Refuses locations that leave that folder: build such models with
 * encodeModel and write the files by hand.
 */
export function writeModel(path: string, spec: ModelSpec, external?: ExternalSink): void {
  const files = external?.files() ?? new Map<string, Uint8Array>();
  for (const location of files.keys()) {
    if (isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
      throw new Error(`external location ${location} leaves the model's folder`); // checked before writing anything
    }
  }
  const folder = dirname(path);
  mkdirSync(folder, { recursive: true });
  writeFileSync(path, encodeModel(spec));
  for (const [location, bytes] of files) {
    const target = join(folder, location);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
}

// ---------------------------------------------------------------------------
// Test data


/** n values uniform in [-scale, scale), never exactly 0 (so "dense" really is dense). */
export function randomWeights(n: number, rnd: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    while (v === 0) v = Math.fround((rnd() * 2 - 1) * scale); // fround: 0 after float32 rounding counts too
    out[i] = v;
  }
  return out;
}

/**
 * Magnitude N:M pruning: a copy where, in every group of m consecutive elements along `axis`
 * (negative counts from the end), only the n largest |w| survive (ties keep the earlier position).
 */
export function pruneTo(values: Float32Array, dims: number[], axis: number, n: number, m: number): Float32Array {
  const a = axis < 0 ? axis + dims.length : axis;
  if (a < 0 || a >= dims.length) throw new Error(`pruneTo: axis ${axis} out of range for rank ${dims.length}`);
  if (values.length !== elementCount(dims)) throw new Error(`pruneTo: ${values.length} values for dims [${dims.join(', ')}]`);
  if (!(Number.isInteger(n) && Number.isInteger(m) && m > 0 && n >= 0 && n <= m)) throw new Error(`pruneTo: bad pattern ${n}:${m}`);
  const outer = elementCount(dims.slice(0, a));
  const K = dims[a];
  const inner = elementCount(dims.slice(a + 1));
  if (K % m !== 0) throw new Error(`pruneTo: dimension ${K} of axis ${a} is not a multiple of ${m}`);
  const out = values.slice();
  const mags = new Float64Array(m);
  for (let o = 0; o < outer; o++) {
    for (let k0 = 0; k0 < K; k0 += m) {
      for (let i = 0; i < inner; i++) {
        const base = (o * K + k0) * inner + i;
        for (let j = 0; j < m; j++) mags[j] = magnitude(values[base + j * inner]);
        for (let j = 0; j < m; j++) if (rankInGroup(mags, j) >= n) out[base + j * inner] = 0;
      }
    }
  }
  return out;
}

/** How many group members beat member j: larger magnitude, or equal magnitude at an earlier position. */
function rankInGroup(mags: Float64Array, j: number): number {
  let rank = 0;
  for (let l = 0; l < mags.length; l++) if (mags[l] > mags[j] || (mags[l] === mags[j] && l < j)) rank++;
  return rank;
}

// NaN ranks above everything, so it is never silently dropped in favour of a number.
function magnitude(v: number): number {
  return Number.isNaN(v) ? Infinity : Math.abs(v);
}
