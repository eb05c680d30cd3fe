// Activation shapes for the speedup projection: every value of the main graph, from the graph inputs (symbolic
// dims given values by the user, never guessed), through each node's shape rule in graph order. What cannot be
// known is listed with why. The rules themselves are in shape-rules.ts and shape-layers.ts.
import { dtypeById, rawByteLength } from '../onnx/dtypes';
import type { GraphSkeleton, ModelSkeleton, NodeSkeleton, TensorRef, ValueInfo } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type ExternalFiles, openTensor } from '../onnx/tensorData';
import { type ConstValue, type Dim, MAX_CONSTANT_ELEMENTS, type RuleContext, type RuleOutput, ShapeUnknown, type TensorShape, unknown } from './shape-core';
import { ruleFor } from './shape-rules';
import { ascendAsOriginal, ascendInputs, ascendWeightDims } from './ascendOps';

export type { Dim, TensorShape } from './shape-core';

export interface ShapeOptions {
  /** Values of symbolic dims, by dim_param name ('batch', 'sequence'...). */
  dims?: Record<string, number>;
  /** The value of a graph input's symbolic (or unnamed) first dim that `dims` does not name. */
  batch?: number;
}

/** A value whose shape, or some dim of it, is not known; node and op are '' for a graph input. */
export interface ShapeProblem {
  name: string;
  node: string;
  op: string;
  why: string;
}

export interface ShapeInference {
  /** Every value of the main graph (inputs, initializers, node outputs) whose rank is known; null dims are unknown. */
  shapes: Map<string, TensorShape>;
  /** Values whose shape, or some dim, stays unknown, in graph order, each with why. */
  unknown: ShapeProblem[];
  /** Symbolic dims given a value, and the value used (an unnamed first dim appears as 'input[0]'). */
  symbols: Record<string, number>;
  /** Symbolic dims of the graph inputs nobody gave a value for. */
  unresolvedSymbols: string[];
  /** Where the graph's own value_info contradicts inference (the graph's is kept), and options that were ignored. */
  notes: ShapeProblem[];
  /** Whether `batch` was given to some input's dimension. */
  batchUsed: boolean;
}

// Opset assumed when a model imports no default domain (not valid ONNX, but seen): the newest rules apply.
const LATEST_OPSET = 21;

/** Infers the shape of every value of the main graph. Never throws on a strange model: problems become `unknown` entries. */
export function inferShapes(model: ModelSkeleton, src: ByteSource, externals: ExternalFiles, options: ShapeOptions = {}): ShapeInference {
  const graph = model.graph;
  const opset = model.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version || LATEST_OPSET;
  const notes: ShapeProblem[] = [];
  const problems: ShapeProblem[] = [];
  const shapes = new Map<string, TensorShape>();
  // null: looked at, and not a small constant; computed values are stored as they are produced.
  const values = new Map<string, ConstValue | null>();
  const initializers = new Map<string, TensorRef>();
  for (const t of [...graph.initializers, ...graph.sparseInitializers]) {
    initializers.set(t.name, t);
    shapes.set(t.name, { dims: [...t.dims], elemType: t.dtype });
  }

  const symbols = resolveSymbols(graph, initializers, options, notes);
  const resolveDim = (d: number | string | null): Dim => {
    if (typeof d === 'string') return Object.hasOwn(symbols.values, d) ? symbols.values[d] : null;
    return d !== null && Number.isSafeInteger(d) && d >= 0 ? d : null; // some tools write -1 for "unknown"
  };

  for (const input of graph.inputs) {
    if (initializers.has(input.name)) continue; // an initializer listed as an input (IR < 4): its own dims hold
    const seeded = seedInput(input, resolveDim, symbols);
    if (seeded.shape) shapes.set(input.name, seeded.shape);
    if (seeded.why) problems.push({ name: input.name, node: '', op: '', why: seeded.why });
  }

  const declared = new Map<string, ValueInfo>();
  for (const info of [...graph.valueInfo, ...graph.outputs]) if (info.dims) declared.set(info.name, info);

  const readValue = (t: TensorRef) => readConstant(src, externals, t);
  const valueOf = (name: string): ConstValue | undefined => {
    const known = values.get(name);
    if (known !== undefined) return known ?? undefined;
    const t = initializers.get(name);
    const v = t ? readValue(t) : undefined;
    values.set(name, v ?? null);
    return v;
  };

  for (const node of graph.nodes) {
    const ctx: RuleContext = {
      node,
      opset,
      has: (i) => !!node.inputs[i],
      shape: (i) => {
        const name = node.inputs[i];
        if (!name) unknown(`input ${i} is missing`);
        const s = shapes.get(name);
        if (!s) unknown(`input '${name}' has unknown shape`);
        return s;
      },
      value: (i) => (node.inputs[i] ? valueOf(node.inputs[i]) : undefined),
      tensorValue: readValue,
    };
    const results = runRule(node, ctx);
    node.outputs.forEach((name, i) => {
      if (!name) return; // an optional output left out
      const where = { name, node: nodeLabel(node), op: node.opType };
      const result = checked(results[i] ?? { unknown: `no shape rule for output ${i} of ${node.opType}` });
      const info = declared.get(name);
      const graphShape = info?.dims && { dims: info.dims.map(resolveDim), elemType: info.elemType ?? 0 };
      const { shape, value, why, conflict } = settle(result, graphShape);
      if (conflict) notes.push({ ...where, why: conflict });
      if (shape) shapes.set(name, shape);
      if (value) values.set(name, value);
      if (!shape || shape.dims.includes(null)) problems.push({ ...where, why: why ?? inheritedWhy(node, shapes, values) });
    });
  }
  return { shapes, unknown: problems, symbols: symbols.values, unresolvedSymbols: symbols.unresolved, notes, batchUsed: symbols.batchUsed };
}

/** A rule's output made final against the graph's own declaration of it, where the graph has one. */
function settle(result: RuleOutput, declared: TensorShape | undefined): { shape?: TensorShape; value?: ConstValue; why?: string; conflict?: string } {
  const inferred = 'unknown' in result ? undefined : { dims: [...result.dims], elemType: result.elemType };
  const why = 'unknown' in result ? result.unknown : result.why;
  if (!inferred) return { shape: declared, why };
  const conflict = declared && disagreement(declared, inferred);
  const shape = declared ? combine(declared, inferred) : inferred;
  // A value must describe the tensor as finally shaped: one the graph overrides is dropped.
  const value = 'unknown' in result ? undefined : result.value;
  const kept = !conflict && value && sameDims(value.dims, shape.dims) ? value : undefined;
  return { shape, value: kept, why, conflict: conflict && `${conflict}: the graph's is kept` };
}

function runRule(node: NodeSkeleton, ctx: RuleContext): RuleOutput[] {
  const rule = ruleFor(node);
  if (!rule) {
    const op = node.domain && node.domain !== 'ai.onnx' ? `${node.opType} (domain '${node.domain}')` : node.opType;
    return node.outputs.map(() => ({ unknown: `no shape rule for op ${op}` }));
  }
  try {
    return rule(ctx);
  } catch (err) {
    // Bad attributes and contradictory shapes make this node's outputs unknown; the rest of the graph goes on.
    const why = err instanceof ShapeUnknown ? err.message : `the shape rule failed: ${err instanceof Error ? err.message : String(err)}`;
    return node.outputs.map(() => ({ unknown: why }));
  }
}

/** A rule's output with every dim a size: arithmetic on absurd attributes (NaN, 2^60 repeats) is caught here, once. */
function checked(result: RuleOutput): RuleOutput {
  if ('unknown' in result) return result;
  const bad = result.dims.find((d) => d !== null && !(Number.isSafeInteger(d) && d >= 0));
  return bad === undefined ? result : { unknown: `dims [${result.dims.join(', ')}] are not valid sizes` };
}

export function nodeLabel(node: NodeSkeleton): string {
  return node.name || `${node.opType}_${node.index}`;
}

/** Why an output has unknown dims when its rule said nothing: the first input that passed them on. */
function inheritedWhy(node: NodeSkeleton, shapes: Map<string, TensorShape>, values: Map<string, ConstValue | null>): string {
  for (const name of node.inputs) {
    if (!name) continue;
    const s = shapes.get(name);
    if (!s) return `input '${name}' has unknown shape`;
    if (s.dims.includes(null)) return `input '${name}' has unknown dims`;
  }
  for (const name of node.inputs) if (values.get(name)?.data.includes(null)) return `the value of input '${name}' is only partly known`;
  return 'some dims could not be inferred';
}

/** How the graph's declared shape contradicts the inferred one, if it does. */
function disagreement(declared: TensorShape, inferred: TensorShape): string | undefined {
  const show = (s: TensorShape) => `[${s.dims.map((d) => d ?? '?').join(', ')}]`;
  if (declared.dims.length !== inferred.dims.length || declared.dims.some((d, i) => d !== null && inferred.dims[i] !== null && d !== inferred.dims[i])) {
    return `the graph declares ${show(declared)}, inference gives ${show(inferred)}`;
  }
  if (declared.elemType && inferred.elemType && declared.elemType !== inferred.elemType) {
    return `the graph declares element type ${declared.elemType}, inference gives ${inferred.elemType}`;
  }
  return undefined;
}

/** The graph's declared dims where it gives them, inference's elsewhere (same rank); the graph's alone otherwise. */
function combine(declared: TensorShape, inferred: TensorShape): TensorShape {
  const elemType = declared.elemType || inferred.elemType;
  if (declared.dims.length !== inferred.dims.length) return { dims: declared.dims, elemType };
  return { dims: declared.dims.map((d, i) => d ?? inferred.dims[i]), elemType };
}

function sameDims(a: readonly number[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// ---------------------------------------------------------------------------
// Symbolic dims and graph inputs

interface Symbols {
  values: Record<string, number>;
  unresolved: string[];
  batch: number | undefined;
  batchUsed: boolean;
}

/** Values for the symbolic dims: `dims` by name first, then `batch` for a graph input's first dim. */
function resolveSymbols(graph: GraphSkeleton, initializers: Map<string, TensorRef>, options: ShapeOptions, notes: ShapeProblem[]): Symbols {
  const usable = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
  const given: Record<string, number> = {};
  for (const [name, v] of Object.entries(options.dims ?? {})) {
    if (usable(v)) given[name] = v;
    else notes.push({ name, node: '', op: '', why: `dims.${name} = ${v} is not a positive integer: ignored` });
  }
  let batch: number | undefined;
  if (options.batch !== undefined) {
    if (usable(options.batch)) batch = options.batch;
    else notes.push({ name: 'batch', node: '', op: '', why: `batch = ${options.batch} is not a positive integer: ignored` });
  }
  const inputs = graph.inputs.filter((i) => !initializers.has(i.name));
  const firstDims = new Set(inputs.map((i) => i.dims?.[0]).filter((d): d is string => typeof d === 'string'));
  const symbols: Symbols = { values: {}, unresolved: [], batch, batchUsed: false };
  for (const input of inputs) {
    for (const d of input.dims ?? []) {
      if (typeof d !== 'string' || Object.hasOwn(symbols.values, d) || symbols.unresolved.includes(d)) continue;
      if (Object.hasOwn(given, d)) symbols.values[d] = given[d];
      else if (batch !== undefined && firstDims.has(d)) {
        symbols.values[d] = batch;
        symbols.batchUsed = true;
      }
      else symbols.unresolved.push(d);
    }
  }
  // value_info may use the user's names too (exporters repeat the inputs' symbols downstream).
  const elsewhere = new Set([...graph.valueInfo, ...graph.outputs].flatMap((i) => (i.dims ?? []).filter((d): d is string => typeof d === 'string')));
  for (const name of Object.keys(given)) {
    if (Object.hasOwn(symbols.values, name)) continue;
    if (elsewhere.has(name)) symbols.values[name] = given[name];
    else notes.push({ name, node: '', op: '', why: `dims.${name} names no symbolic dim of the graph` });
  }
  return symbols;
}

function seedInput(input: ValueInfo, resolveDim: (d: number | string | null) => Dim, symbols: Symbols): { shape?: TensorShape; why?: string } {
  if (!input.dims) return { why: 'the graph input declares no shape' };
  const dims = input.dims.map(resolveDim);
  // An unnamed first dim is the batch in practice: it takes `batch` when given, recorded like a symbol.
  if (input.dims[0] === null && symbols.batch !== undefined) {
    dims[0] = symbols.batch;
    symbols.values[`${input.name}[0]`] = symbols.batch;
    symbols.batchUsed = true;
  }
  const shape = { dims, elemType: input.elemType ?? 0 };
  const missing = input.dims.filter((_, i) => dims[i] === null);
  if (missing.length === 0) return { shape };
  const named = [...new Set(missing.filter((d): d is string => typeof d === 'string'))];
  if (named.length > 0) {
    const list = named.map((n) => `'${n}'`).join(', ');
    return { shape, why: named.length === 1 ? `symbolic dim ${list} has no value` : `symbolic dims ${list} have no value` };
  }
  return { shape, why: `dim ${dims.indexOf(null)} has neither a value nor a name` };
}

// ---------------------------------------------------------------------------
// Constants

// Little-endian readers by ONNX data type, for the small constants that carry shapes, axes and scales.
const DECODERS: Record<number, (view: DataView, i: number) => number> = {
  1: (v, i) => v.getFloat32(i * 4, true),
  2: (v, i) => v.getUint8(i),
  3: (v, i) => v.getInt8(i),
  4: (v, i) => v.getUint16(i * 2, true),
  5: (v, i) => v.getInt16(i * 2, true),
  6: (v, i) => v.getInt32(i * 4, true),
  7: (v, i) => Number(v.getBigInt64(i * 8, true)),
  9: (v, i) => v.getUint8(i),
  11: (v, i) => v.getFloat64(i * 8, true),
  12: (v, i) => v.getUint32(i * 4, true),
  13: (v, i) => Number(v.getBigUint64(i * 8, true)),
};

/** The values of a small constant tensor; undefined when too large, of another type, or unreadable. */
function readConstant(src: ByteSource, externals: ExternalFiles, tensor: TensorRef): ConstValue | undefined {
  const decode = DECODERS[tensor.dtype];
  const count = tensor.dims.reduce((a, d) => a * d, 1);
  if (!decode || tensor.problem || count > MAX_CONSTANT_ELEMENTS) return undefined;
  try {
    const { bytes } = openTensor(src, tensor, externals).read(0, count);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { dims: [...tensor.dims], data: Array.from({ length: count }, (_, i) => decode(view, i)) };
  } catch {
    // A constant that cannot be read is not a known value; the rule that needed it says so.
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// What the roofline reads

export interface NodeIo {
  node: NodeSkeleton;
  /** By input position; undefined where the input is missing or its shape unknown. */
  inputs: (TensorShape | undefined)[];
  outputs: (TensorShape | undefined)[];
}

/** Each node of the main graph, in graph order, with the shapes of its inputs and outputs. */
export function nodeIo(model: ModelSkeleton, inference: ShapeInference): NodeIo[] {
  const shapeOf = (name: string) => (name ? inference.shapes.get(name) : undefined);
  return model.graph.nodes.map((node) => ({ node, inputs: node.inputs.map(shapeOf), outputs: node.outputs.map(shapeOf) }));
}

/** Elements of a tensor; undefined when a dim is unknown. */
export function shapeElements(shape: TensorShape | undefined): number | undefined {
  if (!shape) return undefined;
  let n = 1;
  for (const d of shape.dims) {
    if (d === null) return undefined;
    n *= d;
  }
  return n;
}

/** Bytes of a tensor as stored (int4 packed two per byte); undefined when a dim or the type is unknown. */
export function shapeBytes(shape: TensorShape | undefined): number | undefined {
  const count = shapeElements(shape);
  const dtype = shape && dtypeById(shape.elemType);
  if (count === undefined || !dtype || dtype.bits === 0) return undefined;
  return rawByteLength(dtype, count);
}

/** A layer as `batch` independent products of an m×k by a k×n matrix: batch·m·n·k multiply-accumulates. */
export interface GemmDims {
  batch: number;
  m: number;
  n: number;
  /** The reduction dim: the weight's K axis, the one N:M sparsity thins. */
  k: number;
}

/**
 * The GEMM a layer performs, from its shapes: Conv as implicit GEMM per group (m = output pixels, n = output
 * channels per group, k = input channels per group × kernel), ConvTranspose likewise from the input side,
 * MatMul with broadcast batch dims, Gemm with transA/transB. Undefined for other ops or when a dim is unknown.
 */
export function gemmDims(io: NodeIo): GemmDims | undefined {
  const { node, inputs, outputs } = io;
  const known = (s: TensorShape | undefined): number[] | undefined => (s && s.dims.every((d) => d !== null) ? (s.dims as number[]) : undefined);
  const prod = (dims: number[]) => dims.reduce((a, d) => a * d, 1);
  const group = node.attributes.get('group')?.i ?? 1;
  const result = (batch: number, m: number, n: number, k: number) => ([batch, m, n, k].every((v) => Number.isSafeInteger(v) && v >= 0) ? { batch, m, n, k } : undefined);
  if (node.domain === 'com.microsoft') return contribGemmDims(io, known, result);
  // This tool's Ascend rewrite: the original op over X, the dense weight (weight_shape) and the bias.
  const original = ascendAsOriginal(node);
  if (original) {
    const dims = ascendWeightDims(node);
    return dims && gemmDims({ node: original, inputs: ascendInputs(node, inputs, { dims, elemType: inputs[1]?.elemType ?? 0 }), outputs });
  }
  switch (node.opType) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv': {
      const y = known(outputs[0]);
      const w = known(inputs[node.opType === 'QLinearConv' ? 3 : 1]);
      if (!y || !w || group < 1) return undefined;
      return result(group, y[0] * prod(y.slice(2)), w[0] / group, w[1] * prod(w.slice(2)));
    }
    case 'ConvTranspose': {
      // Each input pixel scatters into output channels × kernel: the GEMM runs on the input side.
      const x = known(inputs[0]);
      const w = known(inputs[1]);
      if (!x || !w || group < 1) return undefined;
      return result(group, x[0] * prod(x.slice(2)), w[1] * prod(w.slice(2)), w[0] / group);
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const a = known(inputs[0]);
      const b = known(inputs[node.opType === 'QLinearMatMul' ? 3 : 1]);
      const y = known(outputs[0]);
      if (!a || !b || !y || a.length === 0 || b.length === 0) return undefined;
      const matrixDims = (a.length > 1 ? 1 : 0) + (b.length > 1 ? 1 : 0);
      const m = a.length > 1 ? a[a.length - 2] : 1;
      const n = b.length > 1 ? b[b.length - 1] : 1;
      return result(prod(y.slice(0, y.length - matrixDims)), m, n, a[a.length - 1]);
    }
    case 'Gemm': {
      const a = known(inputs[0]);
      const b = known(inputs[1]);
      if (!a || !b || a.length !== 2 || b.length !== 2) return undefined;
      const transA = node.attributes.get('transA')?.i ?? 0;
      const transB = node.attributes.get('transB')?.i ?? 0;
      return result(1, transA ? a[1] : a[0], transB ? b[0] : b[1], transA ? a[0] : a[1]);
    }
    default:
      return undefined;
  }
}

/**
 * ONNX Runtime's contrib layers (docs/ContribOperators.md): QGemm as Gemm with B at input 3, GemmFloat8 as Gemm; DynamicQuantizeMatMul,
 * MatMulIntegerToFloat and FusedMatMul as MatMul (FusedMatMul's transA/transB swap the last two dims); Attention and
 * QAttention as their input projection [batch x seq, input_hidden] x [input_hidden, 3 x hidden] (the scores and
 * context products run inside the op on activations: not a layer's GEMM); MatMulBlockQuantizedFp8/Fp4Weight as A [..., K]
 * x B^T (B [N, K], or [N, K/2] packed FP4 bytes); MatMulNBits as A [..., K] x an N x K
 * matrix, K and N from its attributes (B is stored as packed codes, not as a K x N matrix).
 */
function contribGemmDims(
  io: NodeIo,
  known: (s: TensorShape | undefined) => number[] | undefined,
  result: (batch: number, m: number, n: number, k: number) => GemmDims | undefined,
): GemmDims | undefined {
  const { node, inputs, outputs } = io;
  const prod = (dims: number[]) => dims.reduce((a, d) => a * d, 1);
  const flag = (name: string) => (node.attributes.get(name)?.i ?? 0) !== 0;
  /** A [..., M, K] x B [..., K, N] (after the optional swaps) into Y: batch from Y's leading dims. */
  const matmul = (swapA: boolean, swapB: boolean): GemmDims | undefined => {
    const a = known(inputs[0]);
    const b = known(inputs[1]);
    const y = known(outputs[0]);
    if (!a || !b || !y || a.length === 0 || b.length === 0) return undefined;
    const last = (dims: number[], swap: boolean) => (swap && dims.length >= 2 ? [...dims.slice(0, -2), dims[dims.length - 1], dims[dims.length - 2]] : dims);
    const left = last(a, swapA);
    const right = last(b, swapB);
    const matrixDims = (left.length > 1 ? 1 : 0) + (right.length > 1 ? 1 : 0);
    const m = left.length > 1 ? left[left.length - 2] : 1;
    const n = right.length > 1 ? right[right.length - 1] : 1;
    return result(prod(y.slice(0, y.length - matrixDims)), m, n, left[left.length - 1]);
  };
  switch (node.opType) {
    case 'QGemm':
    case 'GemmFloat8': {
      const a = known(inputs[0]);
      const b = known(inputs[node.opType === 'QGemm' ? 3 : 1]);
      if (!a || !b || a.length !== 2 || b.length !== 2) return undefined;
      const transA = flag('transA');
      const transB = flag('transB');
      return result(1, transA ? a[1] : a[0], transB ? b[0] : b[1], transA ? a[0] : a[1]);
    }
    case 'DynamicQuantizeMatMul':
    case 'MatMulIntegerToFloat':
      return matmul(false, false);
    case 'FusedMatMul':
      return matmul(flag('transA'), flag('transB'));
    case 'Attention':
    case 'QAttention': {
      const x = known(inputs[0]);
      const w = known(inputs[1]);
      if (!x || !w || x.length !== 3 || w.length !== 2) return undefined;
      return result(1, x[0] * x[1], w[1], w[0]);
    }
    case 'MatMulBlockQuantizedFp8Weight':
    case 'MatMulBlockQuantizedFp4Weight': {
      // A [..., K] times B^T, B [N, K] (FP8) or [N, K/2] packed bytes (FP4).
      const a = known(inputs[0]);
      const b = known(inputs[1]);
      if (!a || !b || a.length === 0 || b.length !== 2) return undefined;
      return result(a.length > 1 ? prod(a.slice(0, -2)) : 1, a.length > 1 ? a[a.length - 2] : 1, b[0], node.opType === 'MatMulBlockQuantizedFp4Weight' ? 2 * b[1] : b[1]);
    }
    case 'MatMulNBits': {
      const a = known(inputs[0]);
      const k = node.attributes.get('K')?.i;
      const n = node.attributes.get('N')?.i;
      if (!a || a.length === 0 || k === undefined || n === undefined) return undefined;
      return result(a.length > 1 ? prod(a.slice(0, -2)) : 1, a.length > 1 ? a[a.length - 2] : 1, n, k);
    }
    default:
      return undefined;
  }
}
