// This tool's own compressed outputs, recognised where they stand: the portable format (values + packed positions
// rebuilt by a decode graph of standard ops, listed in the COMPRESSED_KEY metadata) and the Ascend rewrite
// (CompressOp + Conv2DCompress / MatMulV2Compress / FCCompress in ASCEND_DOMAIN). Layer discovery reports such a
// weight with its real shape and type, inspection scans its decoded values (storedReader.ts), and `decompress`
// reads the same metadata. Writers live in convert/ (portable.ts, ascendEdits.ts); this module only reads.
import { ModelError, describeError } from '../errors';
import { dtypeById, dtypeName } from '../onnx/dtypes';
import { type GraphSkeleton, type ModelSkeleton, type NodeSkeleton, type TensorRef, elementCount } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type ExternalFiles, openTensor } from '../onnx/tensorData';
import type { ZeroPoint } from './decode';
import { parsePattern } from './pattern';

/** Model metadata key listing the portable-compressed weights, for `decompress` and for inspection. */
export const COMPRESSED_KEY = 'sparsity_lens.compressed';
/** The Ascend rewrite's op domain and its metadata key. */
export const ASCEND_DOMAIN = 'ai.sparsity_lens.ascend';
export const ASCEND_KEY = 'sparsity_lens.ascend';
/** Ascend (ATC --sparsity=1, domain.md §4.1): the op each layer becomes, by original op. */
export const ASCEND_REPLACEMENT: Readonly<Record<string, string>> = { Conv: 'Conv2DCompress', MatMul: 'MatMulV2Compress', Gemm: 'FCCompress' };
const ASCEND_ORIGINAL: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(ASCEND_REPLACEMENT).map(([from, to]) => [to, from]));

/** The op an Ascend Conv2DCompress / MatMulV2Compress / FCCompress node stands for (Conv, MatMul, Gemm), else undefined. */
export function ascendOriginalOp(node: { domain: string; opType: string }): string | undefined {
  return node.domain === ASCEND_DOMAIN && Object.hasOwn(ASCEND_ORIGINAL, node.opType) ? ASCEND_ORIGINAL[node.opType] : undefined;
}

/** One compressed weight, as recorded in the model's metadata. */
export interface CompressedEntry {
  weight: string;
  values: string;
  index: string;
  dims: number[];
  axis: number;
  pattern: string;
  /** Bits per position in the index stream: 1, 2 or 4 (a divisor of 8, so BitShift can unpack it). */
  bits: number;
  dtype: string;
  /** Names of the decode nodes and their constant initializers, removed by decompress. */
  nodes: string[];
  constants: string[];
  /** The uint8 mask of the weight's -0.0 (1 bit per element, K-last order, LSB first); absent when it holds none (and in older files). */
  negativeZeros?: string;
  /**
   * The initializer holding the zeros of pruned places when they are not one ConstantOfShape value: [C] along
   * `zeroAxis` of `dims` (integer weights with zero points per channel), or [1] (the opset < 11 decode). Absent in
   * older files and in the opset >= 11 decode of one zero.
   */
  zeros?: string;
  /** The axis of `dims` that `zeros` runs along; absent for one zero. */
  zeroAxis?: number;
}

/** This tool's two formats, and compressed-tensors' sparse-24-bitmask checkpoints (safetensors/bitmask24.ts). */
export type StoredFormat = 'portable' | 'ascend' | 'compressed-tensors';

/**
 * A weight stored compressed, as the scanner needs it (plain data: it travels to scan workers). The dense weight
 * `dims` is read as rows [A*B] of K = dims[axis] (K innermost, storage order [A, K, B]); each group of M along K
 * keeps N value slots, each with a `bits`-bit entry of the index stream (LSB first).
 */
export interface StoredWeight {
  format: StoredFormat;
  /** Name of the dense weight the consumers read. */
  weight: string;
  dims: number[];
  axis: number;
  dtype: number;
  n: number;
  m: number;
  bits: number;
  values: TensorRef;
  index: TensorRef;
  /** Portable: the bytes of one zero element (the decode graph's ConstantOfShape value). */
  zero?: number[];
  /** Portable: the mask of the weight's -0.0 (1 bit per element of the [A*B, K] view, LSB first), when it has one. */
  negativeZeros?: TensorRef;
  /** Ascend: the zero point that fills the places no value slot holds (undefined: zero bytes). */
  zeroPoint?: ZeroPoint;
  /** What is wrong with the stored form, naming the tensor: the layer fails, the report stands. */
  problem?: string;
}

/** An Ascend layer node and what it stands for. */
export interface AscendLayer {
  /** Conv, MatMul or Gemm. */
  op: string;
  compressOp?: NodeSkeleton;
  stored: StoredWeight;
}

export interface StoredIndex {
  /** The decode graph's last node (it outputs the weight) → the weight it rebuilds. */
  producers: Map<NodeSkeleton, StoredWeight>;
  /** Conv2DCompress / MatMulV2Compress / FCCompress nodes → their layer. */
  ascend: Map<NodeSkeleton, AscendLayer>;
  /** Decode-graph nodes and CompressOps: neither layers nor unrecognized ops. */
  helpers: Set<NodeSkeleton>;
  /** Entries of the metadata that could not be matched to the graph: model-level warnings. */
  warnings: string[];
}

/** The compressed weights a model records, or an error naming what is wrong. */
export function compressedEntries(model: ModelSkeleton): CompressedEntry[] {
  const text = model.metadata[COMPRESSED_KEY];
  if (text === undefined) throw new ModelError(model.path, `not a model compressed by Sparsity Lens (no '${COMPRESSED_KEY}' metadata)`);
  try {
    const entries = JSON.parse(text) as CompressedEntry[];
    if (!Array.isArray(entries)) throw new Error('not a list');
    return entries;
  } catch (err) {
    throw new ModelError(model.path, `the '${COMPRESSED_KEY}' metadata is not readable: ${describeError(err)}`);
  }
}

/** The main graph and every subgraph, in order (function bodies hold no initializers: compressed weights are not there). */
export function graphsOf(model: ModelSkeleton): GraphSkeleton[] {
  const out: GraphSkeleton[] = [];
  const visit = (g: GraphSkeleton) => {
    out.push(g);
    for (const node of g.nodes) for (const attr of node.attributes.values()) [...(attr.g ? [attr.g] : []), ...(attr.graphs ?? [])].forEach(visit);
  };
  visit(model.graph);
  return out;
}

const isCount = (x: unknown) => Number.isInteger(x) && (x as number) >= 0;
/** A metadata field as the message shows it: its JSON, or that it is missing. */
const shown = (field: string, value: unknown) => (value === undefined ? `no ${field}` : `${field} ${JSON.stringify(value)}`);

/**
 * The dense weight's TensorRef, for layer discovery: the values tensor's place (one key per stored weight), the
 * weight's own dims and type. Opening it with openTensor fails on the byte count: read it with openStored.
 */
export function storedTensor(stored: StoredWeight): TensorRef {
  const v = stored.values;
  return { name: stored.weight, dtype: stored.dtype, dims: stored.dims, data: v.data, span: v.span, fieldStart: v.fieldStart, declaredExternal: v.declaredExternal, problem: stored.problem };
}

/** Finds this tool's compressed weights in the model. Cheap for other models: nothing is read unless the markers are there. */
export function recognizeStored(model: ModelSkeleton, src: ByteSource, externals: ExternalFiles): StoredIndex {
  const index: StoredIndex = { producers: new Map(), ascend: new Map(), helpers: new Set(), warnings: [] };
  const portable = model.metadata[COMPRESSED_KEY] !== undefined;
  const ascend = model.opsets.some((o) => o.domain === ASCEND_DOMAIN);
  if (!portable && !ascend) return index;
  const graphs = graphsOf(model);
  if (portable) recognizePortable(model, graphs, src, externals, index);
  if (ascend) recognizeAscend(model, graphs, index);
  return index;
}

function recognizePortable(model: ModelSkeleton, graphs: GraphSkeleton[], src: ByteSource, externals: ExternalFiles, index: StoredIndex): void {
  let entries: CompressedEntry[];
  try {
    entries = compressedEntries(model);
  } catch (err) {
    index.warnings.push(`${err instanceof ModelError ? err.problem : describeError(err)}: its compressed weights are shown as computed at run time`);
    return;
  }
  // Decode nodes by name, each with its graph: one pass over the nodes, whatever the number of entries.
  const named = new Set<string>();
  for (const entry of entries) if (Array.isArray(entry?.nodes)) for (const name of entry.nodes) named.add(name);
  const decodeNodes = new Map<string, { graph: GraphSkeleton; node: NodeSkeleton }[]>();
  for (const graph of graphs) {
    for (const node of graph.nodes) {
      if (!named.has(node.name)) continue;
      const list = decodeNodes.get(node.name) ?? [];
      list.push({ graph, node });
      decodeNodes.set(node.name, list);
    }
  }
  for (const [i, entry] of entries.entries()) {
    if (!entry || typeof entry.weight !== 'string' || !Array.isArray(entry.nodes)) {
      index.warnings.push(`entry ${i} of the '${COMPRESSED_KEY}' metadata names no weight and decode nodes: skipped`);
      continue;
    }
    const names = new Set(entry.nodes);
    let found: { graph: GraphSkeleton; producer: NodeSkeleton } | undefined;
    for (const name of entry.nodes) {
      const hit = decodeNodes.get(name)?.find((x) => x.node.outputs.includes(entry.weight));
      if (hit) {
        found = { graph: hit.graph, producer: hit.node };
        break;
      }
    }
    if (!found) {
      index.warnings.push(`compressed weight '${entry.weight}' (in the '${COMPRESSED_KEY}' metadata) has no decode graph producing it: not recognised`);
      continue;
    }
    const { graph, producer } = found;
    const helpers: NodeSkeleton[] = [];
    for (const name of names) for (const x of decodeNodes.get(name) ?? []) if (x.graph === graph) helpers.push(x.node);
    for (const node of helpers) index.helpers.add(node);
    index.producers.set(producer, portableWeight(entry, graph, helpers, src, externals));
  }
}

/** The stored weight of one metadata entry, with `problem` set when the entry and the tensors disagree. */
function portableWeight(entry: CompressedEntry, graph: GraphSkeleton, helpers: NodeSkeleton[], src: ByteSource, externals: ExternalFiles): StoredWeight {
  const values = graph.initializers.find((t) => t.name === entry.values);
  const index = graph.initializers.find((t) => t.name === entry.index);
  const dims = Array.isArray(entry.dims) && entry.dims.every(isCount) ? entry.dims : [];
  const dtype = values?.dtype ?? 0;
  const placeholder: TensorRef = { name: String(entry.values), dtype, dims: [], data: { kind: 'none' }, span: { offset: 0, length: 0 }, fieldStart: 0, declaredExternal: false };
  const pattern = parsePattern(String(entry.pattern));
  const stored: StoredWeight = {
    format: 'portable',
    weight: entry.weight,
    dims,
    axis: entry.axis,
    dtype,
    n: typeof pattern === 'string' ? 0 : pattern.n,
    m: typeof pattern === 'string' ? 0 : pattern.m,
    bits: entry.bits,
    values: values ?? placeholder,
    index: index ?? { ...placeholder, name: String(entry.index) },
  };
  const what = `compressed weight '${entry.weight}' (portable)`;
  const problem = (() => {
    if (!values) return `its values tensor '${entry.values}' is missing`;
    if (!index) return `its index tensor '${entry.index}' is missing`;
    if (dims.length === 0 || dims.length !== entry.dims.length) return `the metadata gives ${shown('dims', entry.dims)}, not a list of sizes`;
    if (!Number.isInteger(entry.axis) || entry.axis < 0 || entry.axis >= dims.length) return `the metadata gives ${shown('axis', entry.axis)} for dims [${dims.join(', ')}]`;
    if (typeof pattern === 'string') return `the metadata gives ${shown('pattern', entry.pattern)}: ${pattern}`;
    if (![1, 2, 4].includes(entry.bits) || 1 << entry.bits < pattern.m) return `the metadata gives ${shown('bits', entry.bits)} per position, which cannot hold positions below M = ${pattern.m} (1, 2 or 4 bits)`;
    if (dims[entry.axis] % pattern.m !== 0) return `K = ${dims[entry.axis]} (axis ${entry.axis}) is not a multiple of M = ${pattern.m}`;
    if (dtypeName(values.dtype) !== entry.dtype) return `its values tensor '${entry.values}' is ${dtypeName(values.dtype)}, the metadata gives ${shown('dtype', entry.dtype)}`;
    const dtype = dtypeById(values.dtype);
    if (!dtype || ![8, 16, 32].includes(dtype.bits)) return `its values tensor '${entry.values}' is ${dtypeName(values.dtype)} (8, 16 or 32-bit types are written)`;
    if (entry.negativeZeros !== undefined) {
      const mask = graph.initializers.find((t) => t.name === entry.negativeZeros);
      const bytes = Math.ceil(dims.reduce((x, y) => x * y, 1) / 8);
      if (!mask) return `its negative-zero mask '${entry.negativeZeros}' is missing`;
      if (mask.dtype !== 2 || mask.dims.reduce((x, y) => x * y, 1) !== bytes) return `its negative-zero mask '${mask.name}' is not uint8 [${bytes}]`;
      stored.negativeZeros = mask;
    }
    if (entry.zeros !== undefined) return zerosTensor(stored, entry, graph, values, dtype.bits / 8, src, externals);
    // The first ConstantOfShape fills the zeros (a second one, after it, holds the -0.0 of the mask).
    const fill = helpers.find((n) => n.opType === 'ConstantOfShape')?.attributes.get('value')?.t;
    if (!fill) return 'its decode graph has no ConstantOfShape value (the zero)';
    try {
      const zero = openTensor(src, fill, externals).read(0, 1).bytes.slice(0, dtype.bits / 8);
      if (fill.dtype !== values.dtype || zero.length !== dtype.bits / 8) return `its decode graph's zero is ${dtypeName(fill.dtype)}, its values ${dtype.name}`;
      stored.zero = [...zero];
    } catch (err) {
      return `its decode graph's zero cannot be read: ${describeError(err)}`;
    }
    return undefined;
  })();
  if (problem) stored.problem = `${what}: ${problem}`;
  return stored;
}

/** Reads a portable entry's zeros initializer into `stored` (one zero, or zero points per channel); a problem, or undefined. */
function zerosTensor(stored: StoredWeight, entry: CompressedEntry, graph: GraphSkeleton, values: TensorRef, size: number, src: ByteSource, externals: ExternalFiles): string | undefined {
  const t = graph.initializers.find((x) => x.name === entry.zeros);
  if (!t) return `its zeros '${entry.zeros}' are missing`;
  const axis = entry.zeroAxis;
  if (axis !== undefined && (!Number.isInteger(axis) || axis < 0 || axis >= stored.dims.length || axis === stored.axis)) return `the metadata gives ${shown('zeroAxis', axis)} for dims [${stored.dims.join(', ')}], K axis ${stored.axis}`;
  const channels = axis === undefined ? 1 : stored.dims[axis];
  if (t.dtype !== values.dtype || elementCount(t.dims) !== channels) return `its zeros '${t.name}' are ${dtypeName(t.dtype)} [${t.dims.join(', ')}], not ${dtypeName(values.dtype)} [${channels}]`;
  try {
    const bytes = openTensor(src, t, externals).read(0, channels).bytes.slice(0, channels * size);
    if (axis === undefined) stored.zero = [...bytes];
    else {
      // As the scanner reads zero points: little-endian two's complement, written back as their low bytes.
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const read = (i: number) => (size === 1 ? view.getInt8(i) : size === 2 ? view.getInt16(i * 2, true) : view.getInt32(i * 4, true));
      stored.zeroPoint = { values: Array.from({ length: channels }, (_, i) => read(i)), axis, blockSize: 0 };
    }
  } catch (err) {
    return `its zeros '${t.name}' cannot be read: ${describeError(err)}`;
  }
  return undefined;
}

function recognizeAscend(model: ModelSkeleton, graphs: GraphSkeleton[], index: StoredIndex): void {
  // The metadata names each weight's dense tensor; without it the name comes from the values tensor's.
  const weightOf = new Map<string, string>();
  try {
    const meta = JSON.parse(model.metadata[ASCEND_KEY] ?? '{}') as { weights?: { weight?: string; values?: string }[] };
    for (const w of meta.weights ?? []) if (typeof w.values === 'string' && typeof w.weight === 'string') weightOf.set(w.values, w.weight);
  } catch (err) {
    index.warnings.push(`the '${ASCEND_KEY}' metadata is not readable (${describeError(err)}): weight names come from the values tensors`);
  }
  for (const graph of graphs) {
    const compressOps = new Map<string, NodeSkeleton>();
    for (const node of graph.nodes) {
      if (node.domain !== ASCEND_DOMAIN || node.opType !== 'CompressOp') continue;
      index.helpers.add(node);
      for (const out of node.outputs) if (out) compressOps.set(out, node);
    }
    for (const node of graph.nodes) {
      const op = ascendOriginalOp(node);
      if (op) index.ascend.set(node, ascendLayer(op, node, graph, compressOps, weightOf));
    }
  }
}

function ascendLayer(op: string, node: NodeSkeleton, graph: GraphSkeleton, compressOps: Map<string, NodeSkeleton>, weightOf: Map<string, string>): AscendLayer {
  const compressOp = compressOps.get(node.inputs[1] ?? '');
  const valuesName = compressOp?.inputs[0] ?? '';
  const indexName = compressOp?.inputs[1] ?? '';
  const values = graph.initializers.find((t) => t.name === valuesName);
  const indexTensor = graph.initializers.find((t) => t.name === indexName);
  const dims = compressOp?.attributes.get('weight_shape')?.ints ?? node.attributes.get('weight_shape')?.ints ?? [];
  const axis = compressOp?.attributes.get('weight_axis')?.i ?? -1;
  const placeholder = (name: string): TensorRef => ({ name, dtype: values?.dtype ?? 0, dims: [], data: { kind: 'none' }, span: { offset: 0, length: 0 }, fieldStart: 0, declaredExternal: false });
  const weight = weightOf.get(valuesName) ?? valuesName.replace(/\.ascend_values$/, '');
  const stored: StoredWeight = {
    format: 'ascend',
    weight: weight || node.inputs[1] || '',
    dims: [...dims],
    axis,
    dtype: values?.dtype ?? 0,
    n: 2,
    m: 4,
    bits: 2,
    values: values ?? placeholder(valuesName),
    index: indexTensor ?? placeholder(indexName),
  };
  const what = `compressed weight of ${node.opType} '${node.name}' (ascend)`;
  const problem = (() => {
    if (!compressOp) return `its input '${node.inputs[1] ?? ''}' is not produced by a CompressOp in its graph`;
    if (compressOp.attributes.get('alg')?.s !== 'sparsity_2_4') return `CompressOp '${compressOp.name}' has alg '${compressOp.attributes.get('alg')?.s ?? ''}', not sparsity_2_4`;
    if (!values) return `its values tensor '${valuesName}' is not an initializer of its graph`;
    if (!indexTensor) return `its index tensor '${indexName}' is not an initializer of its graph`;
    if (dims.length < 2 || !dims.every(isCount)) return `CompressOp '${compressOp.name}' gives weight_shape [${dims.join(', ')}]`;
    if (!Number.isInteger(axis) || axis < 0 || axis >= dims.length) return `CompressOp '${compressOp.name}' gives weight_axis ${axis} for weight_shape [${dims.join(', ')}]`;
    if (dims[axis] % 4 !== 0) return `K = ${dims[axis]} (axis ${axis}) is not a multiple of 4`;
    const dtype = dtypeById(values.dtype);
    if (!dtype || ![8, 16, 32].includes(dtype.bits)) return `its values tensor '${valuesName}' is ${dtypeName(values.dtype)} (8, 16 or 32-bit types are written)`;
    return undefined;
  })();
  if (problem) stored.problem = `${what}: ${problem}`;
  return { op, compressOp, stored };
}

/** How a stored weight is reported: its format and the bytes it takes against its dense form. */
export interface StoredReport {
  format: StoredFormat;
  /** The stored encoding's pattern (the inspection may use another). */
  pattern: string;
  values: string;
  index: string;
  /** Bytes of the kept values and of the index stream, as stored; their sum; the dense weight's bytes. */
  valuesBytes: number;
  indexBytes: number;
  storedBytes: number;
  denseBytes: number;
  /** One line for tables and the panel: "stored compressed (portable 2:4): ...". */
  text: string;
}

const bytesOf = (t: TensorRef) => {
  const dtype = dtypeById(t.dtype);
  return dtype ? Math.ceil((elementCount(t.dims) * dtype.bits) / 8) : 0;
};

export function storedReport(stored: StoredWeight): StoredReport {
  const valuesBytes = bytesOf(stored.values);
  const indexBytes = bytesOf(stored.index);
  const dtype = dtypeById(stored.dtype);
  const denseBytes = dtype ? (elementCount(stored.dims) * dtype.bits) / 8 : 0;
  const storedBytes = valuesBytes + indexBytes;
  const share = denseBytes ? `, ${((storedBytes / denseBytes) * 100).toFixed(1)}% of ${denseBytes} B dense` : '';
  return {
    format: stored.format,
    pattern: `${stored.n}:${stored.m}`,
    values: stored.values.name,
    index: stored.index.name,
    valuesBytes,
    indexBytes,
    storedBytes,
    denseBytes,
    text: `stored compressed (${stored.format} ${stored.n}:${stored.m}): ${valuesBytes} B values + ${indexBytes} B ${stored.format === 'compressed-tensors' ? 'bitmask' : 'index'} = ${storedBytes} B${share}`,
  };
}
