// Ascend mode: the graph rewrite that Huawei's GE performs for ATC --sparsity=1 (domain.md §4.1), made explicit in
// ONNX for toolchains and inspection. Each rewritten layer's weight becomes two initializers in the Ascend encoding,
// a CompressOp declares the algorithm, and Conv / MatMul / Gemm become Conv2DCompress / MatMulV2Compress /
// FCCompress in the domain ASCEND_DOMAIN, keeping the original node's attributes. ONNX Runtime cannot run this
// model: it is for toolchains and inspection. Ops, inputs and attributes are documented in the README.
import { onnx } from 'onnx-proto';
import { encodeAscend } from '../encode';
import { type DType, dtypeById } from '../onnx/dtypes';
import type { ModelSkeleton, NodeSkeleton, TensorRef } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type Bytes, type Edit, type Out, lenField } from '../onnx/writer';
import { WIRE_LEN, forEachField } from '../onnx/wire';
import type { LayerPlan } from '../sparsity/layers';
import type { TensorPlace } from './compressEdits';
import { concat } from './externalData';
import { weightMatrix } from './matrix';
import { streamInitializers } from './portable';

// Domain, metadata key and op names are read by inspection too: they live with the recognition.
import { ASCEND_DOMAIN, ASCEND_KEY, ASCEND_REPLACEMENT as REPLACEMENT } from '../sparsity/stored';
export { ASCEND_DOMAIN, ASCEND_KEY };

/** One weight rewritten for Ascend, with every layer that consumes it (each gets its own CompressOp). */
export interface AscendWork {
  layers: LayerPlan[];
  /** The first layer: its shape, axis and zero point stand for all (they agree, or the weight was skipped). */
  layer: LayerPlan;
  tensor: TensorRef;
  place: TensorPlace;
  dtype: DType;
  rows: number;
  K: number;
  valuesName: string;
  indexName: string;
  valuesLength: number;
  indexLength: number;
  prune: () => Uint8Array;
  cached?: { values: Uint8Array; index: Uint8Array };
}

/** Why a layer is not rewritten for Ascend (it is then pruned in place), or undefined when it is. */
export function whyNotAscend(layer: LayerPlan, place: TensorPlace | undefined): string | undefined {
  const node = layer.node;
  if (!node || !REPLACEMENT[node.opType]) return `${layer.op} is not rewritten (ATC compresses Conv2D, MatMulV2 and FullyConnection)`;
  if (layer.weightInput !== 1) return 'only a constant weight in the second input (W or B) is rewritten';
  const chain = layer.chain.join('>');
  if (chain !== '' && chain !== 'DequantizeLinear') return `weights behind ${chain} are not rewritten (a constant or one DequantizeLinear)`;
  // The rewritten node keeps a scale and zero point per tensor or along `weight_dequantize_axis`: no block size.
  const blocked = layer.chainNodes?.find((n) => n.opType === 'DequantizeLinear' && (n.attributes.get('block_size')?.i ?? 0) > 0);
  if (blocked) return `a blockwise DequantizeLinear (block_size ${blocked.attributes.get('block_size')!.i}) is not rewritten: the Ascend ops take a scale and zero point per tensor or per channel`;
  if (!place || place.node) return 'only initializers are rewritten (not Constant nodes or weights in functions)';
  if (layer.group > 1) return 'grouped convolutions are not compressed by ATC';
  if (layer.scope?.graph !== place.graph) return 'the weight lives in an outer graph';
  const dtype = dtypeById(layer.tensor!.dtype);
  if (!dtype || ![8, 16, 32].includes(dtype.bits)) return `${dtype?.name ?? 'this type'} is not rewritten (8, 16 and 32-bit types are)`;
  return undefined;
}

export function planAscendWork(layers: LayerPlan[], place: TensorPlace, prune: () => Uint8Array): AscendWork {
  const layer = layers[0];
  const tensor = layer.tensor!;
  const dtype = dtypeById(tensor.dtype)!;
  const dims = layer.shape!;
  const K = dims[layer.axis!];
  const rows = dims.reduce((x, y) => x * y, 1) / K;
  const name = tensor.name || layer.weight;
  return {
    layers,
    layer,
    tensor,
    place,
    dtype,
    rows,
    K,
    valuesName: `${name}.ascend_values`,
    indexName: `${name}.ascend_index`,
    valuesLength: (rows * K * (dtype.bits / 8)) / 2,
    indexLength: Math.ceil((rows * K) / 8),
    prune,
  };
}

/** The Ascend values and index of a weight, computed once. */
function streams(w: AscendWork): { values: Uint8Array; index: Uint8Array } {
  if (!w.cached) {
    const encoded = encodeAscend(weightMatrix(w.dtype, w.prune(), w.layer.shape!, w.layer.axis!, w.layer.zeroPoint));
    w.cached = { values: encoded.values, index: encoded.index };
  }
  return w.cached;
}

export function writeAscendStreams(w: AscendWork, out: Out): void {
  const s = streams(w);
  out.write(s.values);
  out.write(s.index);
  w.cached = undefined;
}

/** The raw bytes of every attribute field of a node, to copy them unchanged into its replacement. */
function attributeFields(src: ByteSource, node: NodeSkeleton): Uint8Array[] {
  const out: Uint8Array[] = [];
  // [fieldStart, fieldEnd) is the node field itself: its one field's value is the NodeProto.
  let valueStart = node.fieldStart;
  forEachField(src, node.fieldStart, node.fieldEnd, (f) => {
    valueStart = f.pos;
  });
  forEachField(src, valueStart, node.fieldEnd, (f) => {
    if (f.no === 5 && f.wire === WIRE_LEN) out.push(src.view(f.start, f.pos + f.len - f.start).slice());
  });
  return out;
}

function stringAttr(name: string, s: string): Uint8Array {
  return lenField(5, onnx.AttributeProto.encode({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) }).finish());
}
function intsAttr(name: string, ints: number[]): Uint8Array {
  return lenField(5, onnx.AttributeProto.encode({ name, type: onnx.AttributeProto.AttributeType.INTS, ints }).finish());
}
function intAttr(name: string, i: number): Uint8Array {
  return lenField(5, onnx.AttributeProto.encode({ name, type: onnx.AttributeProto.AttributeType.INT, i }).finish());
}

function nodeField(base: onnx.INodeProto, extraAttributes: Uint8Array[]): Uint8Array {
  const head = onnx.NodeProto.encode(base).finish();
  const body = new Uint8Array(head.length + extraAttributes.reduce((s, a) => s + a.length, 0));
  body.set(head);
  let at = head.length;
  for (const a of extraAttributes) {
    body.set(a, at);
    at += a.length;
  }
  return lenField(1, body);
}

/** Names every node of `nodes` reads. */
function consumers(nodes: NodeSkeleton[], name: string): NodeSkeleton[] {
  return nodes.filter((n) => n.inputs.includes(name));
}

/**
 * The edits that rewrite every layer of one weight; `external` places its values and index in the data file. The
 * weight (and a DequantizeLinear) is removed when nothing else reads it.
 */
export function ascendEdits(src: ByteSource, w: AscendWork, external?: { location: string; values: number; index: number }): Edit[] {
  const { tensor, place, dtype } = w;
  const dims = w.layer.shape!;
  const graphNodes = place.graph.nodes;
  const edits: Edit[] = [];
  const rewritten = new Set<NodeSkeleton>();
  for (const layer of w.layers) {
    const node = layer.node!;
    const label = node.name || `${node.opType}_${node.index}`;
    const compressed = [`${label}.ascend_cvalues`, `${label}.ascend_cindex`];
    const compressOp = nodeField({ name: `${label}.compress`, opType: 'CompressOp', domain: ASCEND_DOMAIN, input: [w.valuesName, w.indexName], output: compressed }, [
      stringAttr('alg', 'sparsity_2_4'),
      intsAttr('weight_shape', dims),
      intAttr('weight_axis', layer.axis!),
    ]);
    const dq = layer.chainNodes?.find((n) => n.opType === 'DequantizeLinear');
    const inputs = [node.inputs[0], compressed[0], compressed[1], node.opType === 'MatMul' ? '' : (node.inputs[2] ?? '')];
    const extra = [intsAttr('weight_shape', dims)];
    if (dq) {
      inputs.push(dq.inputs[1] ?? '', dq.inputs[2] ?? '');
      const axis = dq.attributes.get('axis')?.i;
      if (axis !== undefined) extra.push(intAttr('weight_dequantize_axis', axis));
    }
    while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
    const replacement = nodeField({ name: node.name, opType: REPLACEMENT[node.opType], domain: ASCEND_DOMAIN, input: inputs, output: node.outputs }, [...attributeFields(src, node), ...extra]);
    edits.push({ kind: 'insert', before: node.fieldStart, bytes: concat([compressOp, replacement]) });
    edits.push({ kind: 'remove', start: node.fieldStart, end: node.fieldEnd });
    rewritten.add(node);
    // The DequantizeLinear goes when this layer was its only reader.
    if (dq && consumers(graphNodes, dq.outputs[0]).every((n) => n === node)) {
      edits.push({ kind: 'remove', start: dq.fieldStart, end: dq.fieldEnd });
      rewritten.add(dq);
    }
  }
  if (consumers(graphNodes, tensor.name).every((n) => rewritten.has(n))) {
    edits.push({ kind: 'remove', start: tensor.fieldStart, end: tensor.span.offset + tensor.span.length });
  }
  const graph = place.graph;
  const append = (bytes: Bytes) => edits.push({ kind: 'append', message: graph.span.offset, end: graph.span.offset + graph.span.length, bytes });
  const pair = { valuesName: w.valuesName, valuesType: dtype.id, valuesDims: [w.rows, w.K / 2], valuesLength: w.valuesLength, indexName: w.indexName, indexLength: w.indexLength };
  for (const bytes of streamInitializers(pair, () => streams(w), () => (w.cached = undefined), external)) append(bytes);
  return edits;
}

/**
 * The opset import of the Ascend domain (ModelProto field 8) and the metadata entry describing the encoding. A model
 * rewritten before keeps its import and the weights its entry lists (the caller removes the old entry).
 */
export function ascendModelFields(layers: AscendWork[], model: ModelSkeleton): Uint8Array {
  const imported = model.opsets.some((o) => o.domain === ASCEND_DOMAIN);
  let before: unknown[] = [];
  try {
    const old = JSON.parse(model.metadata[ASCEND_KEY] ?? '{}') as { weights?: unknown };
    if (Array.isArray(old.weights)) before = old.weights;
  } catch {
    // An unreadable entry is replaced: inspection names weights from their values tensors without it.
  }
  const opset = imported ? new Uint8Array(0) : lenField(8, onnx.OperatorSetIdProto.encode({ domain: ASCEND_DOMAIN, version: 1 }).finish());
  const meta = lenField(
    14,
    onnx.StringStringEntryProto.encode({
      key: ASCEND_KEY,
      value: JSON.stringify({
        encoding: 'ATC --sparsity=1 (2:4)',
        byteOrder: 'values: 2 per group of 4 along K, rows x K/2; index: 2-bit entries index[0], index[1] per group, entry i at bits 2*(i%4)+1..2*(i%4) of byte i/4',
        weights: [...before, ...layers.map((w) => ({ layers: w.layers.map((l) => l.name), weight: w.tensor.name, values: w.valuesName, index: w.indexName, shape: w.layer.shape, axis: w.layer.axis }))],
      }),
    }).finish(),
  );
  return concat([opset, meta]);
}
