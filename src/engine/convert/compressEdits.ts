// Compress mode's graph edits: each compressible weight's tensor (or Constant node) is removed; its decode subgraph
// is inserted where it stood, and its values and index stream join the same graph as initializers, inline or in
// the output's external data file.
import type { DType } from '../onnx/dtypes';
import { dtypeById } from '../onnx/dtypes';
import type { GraphSkeleton, ModelSkeleton, NodeSkeleton, TensorRef } from '../onnx/skeleton';
import type { Bytes, Edit, Out } from '../onnx/writer';
import { toMagnitudes } from '../sparsity/decode';
import type { Pattern } from '../sparsity/pattern';
import { concat } from './externalData';
import { GATHER_DECODE_MIN_OPSET } from './gatherDecode';
import {
  type CompressedEntry,
  type PortablePlan,
  SCATTER_DECODE_MIN_OPSET,
  type WeightZeros,
  compressWeight,
  decodeGraph,
  externalTensorField,
  planPortable,
  rawTensorFieldHeader,
  rowZeros,
  streamInitializers,
  zeroElement,
  zeroPointBytes,
} from './portable';
import type { LayerPlan } from '../sparsity/layers';

/** Where a tensor lives: an initializer of `graph`, or the value of Constant `node` in `graph`. */
export interface TensorPlace {
  graph: GraphSkeleton;
  node?: NodeSkeleton;
}

/** Places of every initializer and Constant value in the main graph and its subgraphs (not in functions). */
export function tensorPlaces(model: ModelSkeleton): Map<number, TensorPlace> {
  const places = new Map<number, TensorPlace>();
  const visit = (graph: GraphSkeleton) => {
    for (const t of graph.initializers) places.set(t.fieldStart, { graph });
    for (const node of graph.nodes) {
      for (const attr of node.attributes.values()) {
        if (attr.t && node.opType === 'Constant' && !node.domain) places.set(attr.t.fieldStart, { graph, node });
        if (attr.g) visit(attr.g);
        for (const sub of attr.graphs ?? []) visit(sub);
      }
    }
  };
  visit(model.graph);
  return places;
}

/** Why a weight cannot take the portable format (it is then pruned in place), or undefined when it can. */
export function whyNotPortable(tensor: TensorRef, layer: LayerPlan, place: TensorPlace | undefined, opset: number, pattern: Pattern): string | undefined {
  const dtype = dtypeById(tensor.dtype);
  if (tensor.codes) return `${layer.op} reads its packed codes itself: a decode graph cannot feed it`;
  if (opset < GATHER_DECODE_MIN_OPSET) return `the decode graph needs opset >= ${GATHER_DECODE_MIN_OPSET} (Equal, broadcasting Add and Mul); the model has ${opset}`;
  if (!dtype || ![8, 16, 32].includes(dtype.bits)) return `${dtype?.name ?? 'this type'} is not compressed (8, 16 and 32-bit types are)`;
  // ONNX: bfloat16 joins Gather, Concat and Reshape at opset 13 (a model below 11 has no op that reads one anyway).
  if (dtype.name === 'bfloat16' && opset < SCATTER_DECODE_MIN_OPSET) return `bfloat16 needs opset >= 13 for the gather decode's Gather and Concat; the model has ${opset}`;
  const zeros = weightZeros(dtype, layer);
  if (typeof zeros === 'string') return zeros;
  if (!place) return 'weights inside functions are not compressed (function bodies hold no initializers)';
  if (place.graph.inputs.some((i) => i.name === tensor.name)) return `'${tensor.name}' is also a graph input that callers may override`;
  if (place.graph.nodes.length === 0) return 'its graph has no nodes';
  if (pattern.m > 16) return 'M > 16';
  return undefined;
}

/**
 * The zeros of a weight's pruned places: its zero point (one, or one per channel along an axis other than K), else
 * the type's zero; a reason string where the portable format cannot hold them.
 */
export function weightZeros(dtype: DType, layer: LayerPlan): WeightZeros | string {
  const zp = layer.zeroPoint;
  const size = dtype.bits / 8;
  const values = zp ? Array.from(zp.values) : [];
  // One value, or the same value for every channel: one zero.
  if (!zp || zp.axis < 0 || values.every((v) => v === values[0])) return { bytes: zeroElement(dtype, zp), axis: -1 };
  if (zp.blockSize) return `blockwise zero points (block_size ${zp.blockSize}) are not compressed (one per tensor or per channel are)`;
  if (zp.axis === layer.axis) return `its zero points change along the reduction axis K (axis ${zp.axis}) inside a group: not compressed (per output channel they are)`;
  if (values.length !== layer.shape![zp.axis]) return `${values.length} zero points for ${layer.shape![zp.axis]} channels along axis ${zp.axis}`;
  return { bytes: zeroPointBytes(values, size), axis: zp.axis };
}

export interface PortableWork {
  tensor: TensorRef;
  layer: LayerPlan;
  place: TensorPlace;
  dtype: DType;
  plan: PortablePlan;
  zeros: WeightZeros;
  /** Reads and prunes the weight, returning its pruned raw bytes (the caller's pruning pass, run on demand). */
  prune: () => Uint8Array;
  /** Filled on first use, dropped after writing: one weight in memory at a time. */
  cached?: Streams;
}

/** A weight's compressed streams: values, index, and the mask of its -0.0 when it holds any. */
type Streams = { values: Uint8Array; index: Uint8Array; negativeZeros?: Uint8Array };

/** `negativeZeros`: how many -0.0 the weight holds (the inspection counted them; pruning writes none and keeps those there). */
export function planPortableWork(
  tensor: TensorRef,
  layer: LayerPlan,
  place: TensorPlace,
  pattern: Pattern,
  prune: () => Uint8Array,
  negativeZeros = 0,
  opset = SCATTER_DECODE_MIN_OPSET,
): PortableWork {
  const dtype = dtypeById(tensor.dtype)!;
  // whyNotPortable turned away the zeros the format cannot hold.
  const zeros = weightZeros(dtype, layer) as WeightZeros;
  return {
    tensor,
    layer,
    place,
    dtype,
    // A Constant node's consumers read its output, whatever its value tensor is called: the decode graph must produce that name.
    plan: planPortable(place.node?.outputs[0] || tensor.name || layer.weight, dtype, layer.shape!, layer.axis!, pattern, dtype.integer ? 0 : negativeZeros, opset, zeros.axis),
    zeros,
    prune,
  };
}

/** The compressed streams of a weight, computed once. */
function streams(w: PortableWork, pattern: Pattern): Streams {
  if (!w.cached) {
    const pruned = w.prune();
    const count = w.plan.groups * pattern.m;
    const mags = new Float32Array(count);
    const fragile = toMagnitudes(w.dtype, { bytes: pruned, nibble: 0 }, count, mags, 0, w.layer.shape!, w.layer.zeroPoint);
    // The plan sized the output from the inspection's count of -0.0: a weight that holds some it did not see would lose them.
    if (!w.dtype.integer && fragile !== w.plan.negativeZeros) {
      throw new Error(`'${w.plan.entry.weight}' holds ${fragile} -0.0 where its inspection counted ${w.plan.negativeZeros}: the round trip would not be exact`);
    }
    const nonZero = new Uint8Array(count);
    for (let i = 0; i < count; i++) nonZero[i] = mags[i] !== 0 ? 1 : 0;
    const size = w.dtype.bits / 8;
    w.cached = compressWeight(w.plan, pruned, nonZero, pattern, rowZeros(w.layer.shape!, w.layer.axis!, w.zeros, size), size);
  }
  return w.cached;
}

/** Writes the values then the index stream of a weight (for the external data file), releasing them after. */
export function writeStreams(w: PortableWork, pattern: Pattern, out: Out): void {
  const s = streams(w, pattern);
  out.write(s.values);
  out.write(s.index);
  if (s.negativeZeros) out.write(s.negativeZeros);
  w.cached = undefined;
}

/**
 * The edits that replace a weight by its portable form. With `external`, the values and index live in the data file
 * at the given offsets; otherwise they are written inline as raw_data.
 */
export function portableEdits(w: PortableWork, pattern: Pattern, external?: { location: string; values: number; index: number }): Edit[] {
  const { plan, tensor, place, dtype } = w;
  const edits: Edit[] = [];
  const graph = place.graph;
  const decode = decodeGraph(plan, dtype, pattern, w.zeros);
  const nodes = concat(decode.nodes);
  if (place.node) {
    edits.push({ kind: 'insert', before: place.node.fieldStart, bytes: nodes });
    edits.push({ kind: 'remove', start: place.node.fieldStart, end: place.node.fieldEnd });
  } else {
    edits.push({ kind: 'insert', before: graph.nodes[0].fieldStart, bytes: nodes });
    edits.push({ kind: 'remove', start: tensor.fieldStart, end: tensor.span.offset + tensor.span.length });
  }
  const valuesDims = [plan.groups, pattern.n];
  const append = (bytes: Bytes) => edits.push({ kind: 'append', message: graph.span.offset, end: graph.span.offset + graph.span.length, bytes });
  append(concat(decode.constants));
  const negativeZeros = plan.entry.negativeZeros;
  if (negativeZeros) {
    // The mask goes first (the pair's writer releases the cached streams): after the index in the data file.
    const length = plan.negativeZerosLength;
    if (external) append(externalTensorField(negativeZeros, 2, [length], { location: external.location, offset: external.index + plan.indexLength, length }));
    else {
      const header = rawTensorFieldHeader(negativeZeros, 2, [length], length);
      append({ size: header.length + length, write: (out: Out) => (out.write(header), out.write(streams(w, pattern).negativeZeros!)) });
    }
  }
  const pair = { valuesName: plan.entry.values, valuesType: dtype.id, valuesDims, valuesLength: plan.valuesLength, indexName: plan.entry.index, indexLength: plan.indexLength };
  for (const bytes of streamInitializers(pair, () => streams(w, pattern), () => (w.cached = undefined), external)) append(bytes);
  return edits;
}

export function entries(works: PortableWork[]): CompressedEntry[] {
  return works.map((w) => w.plan.entry);
}
