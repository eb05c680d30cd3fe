// From a layer whose input channels are to be permuted, back to the layer that produces those channels: every tensor
// that must take the same permutation (the layer's weight along K, the producer's weight and bias along its output
// axis, per-channel constants in between), or the reason it cannot be done. Output channel c of the producer feeds
// input channel c of the layer; permuting both the same way leaves the model's function unchanged.
import { dtypeById } from '../../onnx/dtypes';
import type { GraphSkeleton, ModelSkeleton, NodeSkeleton, TensorRef } from '../../onnx/skeleton';
import { elementCount } from '../../onnx/skeleton';
import { type LayerPlan, intAttr } from '../../sparsity/layers';
import { CHANNEL_RULES, PERMUTABLE_LAYERS, SEARCHABLE_TYPES, stopReason } from './channelOps';

/** One tensor to permute along one axis, and why (for the report). */
export interface TensorPermutation {
  tensor: TensorRef;
  axis: number;
  role: string;
}

export interface PermutationChain {
  layer: LayerPlan;
  /** The layer's weight and its K axis (input channels), and the number of channels. */
  weight: TensorRef;
  kAxis: number;
  channels: number;
  producer: NodeSkeleton;
  /** Every tensor to permute, the layer's weight first. */
  tensors: TensorPermutation[];
  /** The ops walked through, from the layer back to the producer. */
  through: string[];
}

/** Names, producers and readers of the main graph (readers in subgraphs and graph outputs counted too). */
export class GraphIndex {
  readonly producers = new Map<string, NodeSkeleton>();
  readonly readers = new Map<string, number>();
  readonly initializers = new Map<string, TensorRef>();
  readonly inputs = new Set<string>();

  constructor(model: ModelSkeleton) {
    const g = model.graph;
    for (const t of g.initializers) this.initializers.set(t.name, t);
    for (const i of g.inputs) this.inputs.add(i.name);
    for (const n of g.nodes) for (const o of n.outputs) if (o) this.producers.set(o, n);
    const count = (name: string) => name && this.readers.set(name, (this.readers.get(name) ?? 0) + 1);
    const visit = (graph: GraphSkeleton, depth: number) => {
      for (const n of graph.nodes) {
        n.inputs.forEach(count);
        if (depth > 64) continue;
        for (const a of n.attributes.values()) {
          if (a.g) visit(a.g, depth + 1);
          for (const sub of a.graphs ?? []) visit(sub, depth + 1);
        }
      }
    };
    visit(g, 0);
    for (const o of g.outputs) count(o.name);
  }

  readerCount(name: string): number {
    return this.readers.get(name) ?? 0;
  }
}

/** The chain of a layer, or why its input channels cannot be permuted. */
export function findChain(layer: LayerPlan, index: GraphIndex): PermutationChain | string {
  const node = layer.node;
  if (!node || layer.graph !== 'main') return 'inside a subgraph or function: not permuted by this version';
  if (!PERMUTABLE_LAYERS.includes(node.opType) || node.domain) return `${node.opType} layers are not permuted (${PERMUTABLE_LAYERS.join(', ')} are)`;
  if (layer.weightInput !== 1) return `the weight is input ${layer.weightInput} (the activation side): only a constant B / W is permuted`;
  if (layer.chain.length || layer.folded || layer.zeroPoint || layer.tensor?.codes) {
    return `the weight comes through ${layer.chain.join(', ') || 'a transform'} (quantized or transformed weights are not permuted by this version)`;
  }
  const weight = constant(index, node.inputs[1], 'weight');
  if (typeof weight === 'string') return weight;
  const type = dtypeById(weight.dtype)?.name ?? 'unknown';
  if (!SEARCHABLE_TYPES.has(type)) return `weight type ${type}: only float weights are searched by this version`;
  const rank = weight.dims.length;
  let kAxis: number;
  // Channel axis of the activation, counted from the end (broadcasting aligns from the right); `axisOne` when it is axis 1.
  let channelAxis: number;
  let axisOne: boolean;
  if (node.opType === 'Conv') {
    const group = intAttr(node, 'group') ?? 1;
    if (group !== 1) return `grouped convolution (group=${group}${group === weight.dims[0] ? ', depthwise' : ''}): its input channels are tied to their groups`;
    if (rank < 3) return `Conv weight of rank ${rank}`;
    kAxis = 1;
    channelAxis = -(rank - 1);
    axisOne = true;
  } else if (node.opType === 'Gemm') {
    if ((intAttr(node, 'transA') ?? 0) !== 0) return 'Gemm with transA=1: its input channels are not the last axis of A';
    kAxis = (intAttr(node, 'transB') ?? 0) ? 1 : 0;
    channelAxis = -1;
    axisOne = true;
  } else {
    if (rank < 2) return `MatMul weight of rank ${rank}`;
    kAxis = rank - 2;
    channelAxis = -1;
    axisOne = false;
  }
  const channels = weight.dims[kAxis];
  const tensors: TensorPermutation[] = [{ tensor: weight, axis: kAxis, role: `weight of ${node.opType} '${layer.name}', input channels` }];
  const through: string[] = [];
  let x = node.inputs[0];
  for (let step = 0; step < 256; step++) {
    const readers = index.readerCount(x);
    if (readers !== 1) return `'${x}' is read by ${readers} nodes or graph outputs (e.g. a residual connection): every reader would need the permutation`;
    const p = index.producers.get(x);
    if (!p) return index.initializers.has(x) ? `its input '${x}' is a constant` : `its input '${x}' is a graph input: there is no producer to permute`;
    for (const o of p.outputs.slice(1)) if (o && index.readerCount(o)) return `'${p.opType}' node '${p.name}' has a second output '${o}' in use`;
    const where = `'${p.opType}' node '${p.name}'`;
    if (p.opType === 'Conv' && !p.domain && axisOne && isDepthwise(p, index, channels)) {
      // Output channel c of a depthwise convolution reads input channel c alone: it passes the permutation back.
      const passed = depthwiseTensors(p, index, channels);
      if (typeof passed === 'string') return `depthwise ${where}: ${passed}`;
      tensors.push(...passed);
      through.push('Conv (depthwise)');
      x = p.inputs[0];
      continue;
    }
    if (PERMUTABLE_LAYERS.includes(p.opType) && !p.domain) {
      const produced = producerTensors(p, index, channels, channelAxis);
      if (typeof produced === 'string') return `producer ${where}: ${produced}`;
      return { layer, weight, kAxis, channels, producer: p, tensors: [...tensors, ...produced], through };
    }
    const rule = p.domain ? undefined : CHANNEL_RULES.get(p.opType);
    if (!rule || rule.kind === 'mixes') return `${where} between the producer and the layer ${stopReason(p.opType, p.domain)}`;
    through.push(p.opType);
    if (rule.kind === 'elementwise') {
      for (const extra of p.inputs.slice(1)) {
        if (!extra) continue;
        const t = index.initializers.get(extra);
        if (!t || elementCount(t.dims) > 1) return `${where} has an input '${extra}' that is not a scalar constant`;
      }
      x = p.inputs[0];
    } else if (rule.kind === 'axisOne' || rule.kind === 'perChannel') {
      if (!axisOne) return `${where} works along axis 1, which need not be the channel axis of a MatMul's input`;
      if (rule.kind === 'perChannel') {
        for (const i of rule.params) {
          if (!p.inputs[i]) continue;
          const t = constant(index, p.inputs[i], `input ${i} of ${where}`);
          if (typeof t === 'string') return t;
          if (t.dims.length !== 1 || t.dims[0] !== channels) return `input '${t.name}' of ${where} has dims [${t.dims.join(', ')}], not [${channels}]`;
          tensors.push({ tensor: t, axis: 0, role: `${p.opType} '${p.name}' input ${i}` });
        }
      }
      x = p.inputs[0];
    } else {
      const [a, b] = p.inputs;
      const constA = index.initializers.has(a) && !index.producers.has(a);
      const constB = index.initializers.has(b) && !index.producers.has(b);
      if (p.opType === 'PRelu' && !constB) return `${where}: its slope is not a constant`;
      if (!constA && !constB) {
        const fromConstantNode = [a, b].some((n) => index.producers.get(n)?.opType === 'Constant');
        return !fromConstantNode
          ? `${where} combines two computed tensors (a residual connection?): both sides would need the permutation`
          : `${where} has an operand from a Constant node: not permuted by this version`;
      }
      if (constA && constB) return `${where} has two constant operands`;
      const cName = constA ? a : b;
      const c = constant(index, cName, `operand of ${where}`);
      if (typeof c === 'string') return c;
      const along = broadcastAxis(c.dims, channelAxis, channels);
      if (typeof along === 'string') return `constant '${c.name}' of ${where} ${along}`;
      if (along !== null) tensors.push({ tensor: c, axis: along, role: `${p.opType} '${p.name}' constant` });
      x = constA ? b : a;
    }
  }
  return 'more than 256 ops between the producer and the layer';
}

/** A convolution with one input and one output channel per group, over all the channels: depthwise, multiplier 1. */
function isDepthwise(p: NodeSkeleton, index: GraphIndex, channels: number): boolean {
  const w = index.initializers.get(p.inputs[1]);
  return (intAttr(p, 'group') ?? 1) === channels && channels > 1 && w !== undefined && w.dims[0] === channels && w.dims[1] === 1;
}

/** A depthwise convolution's weight and bias along its channels (axis 0). */
function depthwiseTensors(p: NodeSkeleton, index: GraphIndex, channels: number): TensorPermutation[] | string {
  const w = constant(index, p.inputs[1], 'weight');
  if (typeof w === 'string') return w;
  const out: TensorPermutation[] = [{ tensor: w, axis: 0, role: `weight of depthwise Conv '${p.name}', channels` }];
  if (p.inputs[2]) {
    const bias = constant(index, p.inputs[2], 'bias');
    if (typeof bias === 'string') return bias;
    if (bias.dims.length !== 1 || bias.dims[0] !== channels) return `bias '${bias.name}' has dims [${bias.dims.join(', ')}], not [${channels}]`;
    out.push({ tensor: bias, axis: 0, role: `bias of depthwise Conv '${p.name}'` });
  }
  return out;
}

/** The producer's weight and bias along its output channels, or why they cannot be permuted. */
function producerTensors(p: NodeSkeleton, index: GraphIndex, channels: number, channelAxis: number): TensorPermutation[] | string {
  const w = constant(index, p.inputs[1], 'weight');
  if (typeof w === 'string') return `${w} (quantized or computed producers are not permuted by this version)`;
  let axis: number;
  let outAxis: number;
  if (p.opType === 'Conv') {
    const group = intAttr(p, 'group') ?? 1;
    if (group !== 1) return `grouped convolution (group=${group}): its output channels are tied to their groups`;
    axis = 0;
    outAxis = -(w.dims.length - 1);
  } else if (p.opType === 'Gemm') {
    axis = (intAttr(p, 'transB') ?? 0) ? 0 : 1;
    outAxis = -1;
  } else {
    if (w.dims.length < 2) return `MatMul weight of rank ${w.dims.length}`;
    axis = w.dims.length - 1;
    outAxis = -1;
  }
  if (outAxis !== channelAxis) return `its channels lie on another axis than the layer's input channels (${p.opType} feeding a layer of another kind)`;
  if (w.dims[axis] !== channels) return `weight '${w.name}' has ${w.dims[axis]} output channels, the layer ${channels} input channels`;
  const out: TensorPermutation[] = [{ tensor: w, axis, role: `weight of ${p.opType} '${p.name}', output channels` }];
  if (p.inputs[2] && (p.opType === 'Conv' || p.opType === 'Gemm')) {
    const bias = constant(index, p.inputs[2], 'bias');
    if (typeof bias === 'string') return bias;
    const along = broadcastAxis(bias.dims, -1, channels);
    if (typeof along === 'string') return `bias '${bias.name}' ${along}`;
    if (along !== null) out.push({ tensor: bias, axis: along, role: `bias of ${p.opType} '${p.name}'` });
  }
  return out;
}

/**
 * The axis of a constant broadcast against the activation that holds the channels (`channelAxis` from the end);
 * null when it has none (or size 1 there: the same value for every channel).
 */
function broadcastAxis(dims: number[], channelAxis: number, channels: number): number | null | string {
  const at = dims.length + channelAxis;
  if (at < 0 || dims[at] === 1) return null;
  if (dims[at] !== channels) return `has ${dims[at]} values along the channel axis, not ${channels}`;
  return at;
}

/** A plain initializer of the main graph, read by one node only, stored where this version rewrites it. */
function constant(index: GraphIndex, name: string, what: string): TensorRef | string {
  const t = index.initializers.get(name);
  if (!t) {
    const from = index.producers.get(name);
    if (from?.opType === 'Constant') return `${what} '${name}' comes from a Constant node: not permuted by this version`;
    return `${what} '${name}' is ${from ? `computed by '${from.opType}' node '${from.name}'` : 'not a constant'}`;
  }
  if (index.inputs.has(name)) return `${what} '${name}' is also a graph input (it can be fed at run time)`;
  if (index.readerCount(name) !== 1) return `${what} '${name}' is read by ${index.readerCount(name)} nodes`;
  if (t.data.kind === 'external') return `${what} '${name}' lives in external data: not permuted by this version`;
  if (t.data.kind !== 'raw' && t.data.kind !== 'typed') return `${what} '${name}' has no data this version can rewrite`;
  const dtype = dtypeById(t.dtype);
  if (!dtype || dtype.bits < 8) return `${what} '${name}' has type ${dtype?.name ?? t.dtype}: not permuted by this version`;
  return t;
}
