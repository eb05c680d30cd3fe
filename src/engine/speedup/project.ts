// The speedup projection of a model: shapes, MACs and bytes per node, times on a hardware profile (roofline.ts),
// per-layer speedups and shares, the end-to-end figure, the traps, and every assumption and unknown spelled out.
import { dtypeById } from '../onnx/dtypes';
import type { ModelSkeleton, NodeSkeleton } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import type { ExternalFiles } from '../onnx/tensorData';
import type { LayerPlan } from '../sparsity/layers';
import type { HardwareProfile } from './profiles';
import { type ComputeType, type NodeTime, type NodeWork, computeTypeOf, nodeTime, sparseEfficiency } from './roofline';
import { type ShapeInference, type TensorShape, gemmDims, inferShapes, nodeIo } from './shapes';
import type { DeployPrecision } from '../deploy/types';
import { ascendAsOriginal } from './ascendOps';

/** What the projection reads of the inspection: per layer, whether it passes and its block ratio. */
export interface LayerFacts {
  name: string;
  plan: LayerPlan;
  eligible: boolean;
  passes24: boolean;
  blockZeroRatio: number | null;
  compliance: number | null;
  /**
   * Whether the deployment rules (src/engine/deploy/rules.ts) let a sparse kernel take this weight on the profile's
   * target (the pattern its compute type needs, the hardware); without it, passing 2:4 decides.
   */
  runsSparse?: boolean;
}

export interface ProjectOptions {
  hardware: HardwareProfile;
  /** Value for a symbolic batch dimension of the inputs. */
  batch?: number;
  /** Values of symbolic dimensions by name. */
  dims?: Record<string, number>;
  /** Project as if every eligible layer passed (what fixing them all would buy). */
  assumePass?: boolean;
  /**
   * 'eager' (default): every ONNX op is its own kernel (PyTorch eager, plain ONNX Runtime). 'fused': a runtime that
   * fuses like TensorRT: elementwise epilogues and residual Adds into the GEMM before them, residual Adds into the
   * LayerNormalization after them, and attention (scores, scale, mask, Softmax, head transposes) into one kernel whose
   * scores never reach memory.
   */
  runtime?: 'eager' | 'fused';
  /** The precision the engine is built with: float weights compute in it (TensorRT --fp16); integer weights stay int8. */
  precision?: DeployPrecision;
}

const EPILOGUE_OPS = new Set(['Relu', 'Gelu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'Clip', 'HardSwish', 'HardSigmoid', 'Silu', 'Mish', 'Erf', 'Add', 'Mul', 'Div', 'Sub']);
const ATTENTION_SCALE_OPS = new Set(['Div', 'Mul', 'Add', 'Where']);
const LAYOUT_OPS = new Set(['Transpose', 'Reshape']);

/** What a fusing runtime removes: nodes with no kernel of their own, and attention GEMMs whose scores stay on chip. */
interface Fusion {
  free: Set<NodeSkeleton>;
  noOutputTraffic: Set<NodeSkeleton>;
  noInputTraffic: Map<NodeSkeleton, number>;
}

function fusion(model: ModelSkeleton, constants: Set<string>, layers: Set<NodeSkeleton>): Fusion {
  const nodes = model.graph.nodes;
  const producer = new Map<string, NodeSkeleton>();
  const readers = new Map<string, NodeSkeleton[]>();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  }
  for (const o of model.graph.outputs) readers.set(o.name, [...(readers.get(o.name) ?? []), undefined as unknown as NodeSkeleton]);
  const only = (name: string) => (readers.get(name)?.length === 1 ? readers.get(name)![0] : undefined);
  const isActGemm = (n: NodeSkeleton | undefined) => !!n && MATMUL_OPS.has(n.opType) && n.inputs.slice(0, 2).every((i) => !constants.has(i) && !layers.has(n));
  const result: Fusion = { free: new Set(), noOutputTraffic: new Set(), noInputTraffic: new Map() };
  // Epilogues: an elementwise op on a GEMM's output (read only there) runs inside the GEMM; chains continue.
  const gemmLike = new Set<string>();
  for (const n of nodes) {
    if (layers.has(n) || isActGemm(n)) n.outputs.forEach((o) => gemmLike.add(o));
    else if (EPILOGUE_OPS.has(n.opType)) {
      const from = n.inputs.find((i) => gemmLike.has(i) && only(i) === n);
      if (from) {
        result.free.add(n);
        n.outputs.forEach((o) => gemmLike.add(o));
      }
    }
  }
  // A residual Add read only by a LayerNormalization is part of it (skip-layer-norm).
  for (const n of nodes) {
    if (n.opType === 'Add' && only(n.outputs[0])?.opType === 'LayerNormalization') result.free.add(n);
  }
  // Attention: scores = A x B (activations) → scale/mask → Softmax → probs x V, one kernel.
  for (const softmax of nodes.filter((n) => n.opType === 'Softmax')) {
    const chain: NodeSkeleton[] = [];
    let n = producer.get(softmax.inputs[0]);
    while (n && ATTENTION_SCALE_OPS.has(n.opType) && only(n.outputs[0])) {
      chain.push(n);
      n = producer.get(n.inputs.find((i) => !constants.has(i)) ?? '');
    }
    const scores = n;
    const context = only(softmax.outputs[0]);
    if (!isActGemm(scores) || !isActGemm(context) || context!.inputs[0] !== softmax.outputs[0]) continue;
    chain.forEach((c) => result.free.add(c));
    result.free.add(softmax);
    result.noOutputTraffic.add(scores!);
    result.noInputTraffic.set(context!, 0);
    // Head layout changes around it are folded into the kernel's addressing.
    for (const g of [scores!, context!]) {
      for (const i of g.inputs) {
        const t = producer.get(i);
        if (t && LAYOUT_OPS.has(t.opType) && only(i) === g) result.free.add(t);
      }
    }
    const after = only(context!.outputs[0]);
    if (after && LAYOUT_OPS.has(after.opType)) result.free.add(after);
  }
  return result;
}

export interface LayerProjection {
  name: string;
  op: string;
  macs: number | null;
  /** GEMM rows (tokens, or batch x output pixels). */
  rows: number | null;
  weightBytes: number;
  activationBytesIn: number | null;
  activationBytesOut: number | null;
  computeType: ComputeType;
  /** Device time, seconds. */
  denseTime: number;
  sparseTime: number;
  bound: 'math' | 'memory' | 'none';
  sparseBound: 'math' | 'memory' | 'none';
  /** denseTime / sparseTime of this layer (1 when it does not pass). */
  speedup: number | null;
  /** Share of the model's dense device time. */
  share: number;
  passes: boolean;
  /** End-to-end speedup if this layer passed too (failing layers only). */
  speedupIfFixed: number | null;
  flags: string[];
}

export interface Projection {
  /** Whether --batch was applied to a symbolic batch dimension. */
  batchUsed: boolean;
  hardware: { name: string; description: string; bandwidth: number; peaks: HardwareProfile['peaks']; sources: string[] };
  batch: number | null;
  symbols: Record<string, number>;
  /** Seconds for the whole model, dense and with the passing layers sparse (the larger of device and host time). */
  denseTime: number;
  sparseTime: number;
  speedup: number | null;
  /** Whether host launch time, not the device, sets the model's time. */
  hostBound: { dense: boolean; sparse: boolean };
  /** The two sums behind denseTime and sparseTime (the larger wins): device time, and host launch time of `kernels` ops. */
  device: { dense: number; sparse: number };
  host: { dense: number; sparse: number; kernels: number; sparseKernels: number };
  /** The runtime projected ('eager' unless --runtime fused). */
  runtime: 'eager' | 'fused';
  /** End-to-end speedup if every eligible layer passed. */
  speedupIfAllPass: number | null;
  layers: LayerProjection[];
  otherOps: { count: number; denseTime: number; share: number };
  unknowns: string[];
  assumptions: string[];
}

/** The end-to-end projection at one batch size of a sweep (the panel shows 1, 8, 64, 256: where the regime changes). */
export interface BatchPoint {
  batch: number;
  speedup: number | null;
  speedupIfAllPass: number | null;
  denseTime: number;
  sparseTime: number;
  /** Host launch time, not the device, sets the sparse model's time. */
  launchBound: boolean;
}

const FLOAT_WEIGHTS = new Set(['float32', 'float64', 'float16', 'bfloat16']);
const CONV_OPS = new Set(['Conv', 'ConvInteger', 'QLinearConv']);
const MATMUL_OPS = new Set(['MatMul', 'MatMulInteger', 'QLinearMatMul']);
/** ONNX Runtime's contrib layers (com.microsoft only) whose GEMM gemmDims reads. */
const CONTRIB_GEMM_OPS = new Set([
  'QGemm', 'GemmFloat8', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'FusedMatMul', 'Attention', 'QAttention', 'MatMulNBits',
  'MatMulBlockQuantizedFp8Weight', 'MatMulBlockQuantizedFp4Weight',
]);
/**
 * Weight-only contrib layers: the weight is dequantized to A's type in the kernel, which computes in that type.
 * MatMulBlockQuantizedFp8Weight is weight-only without a_scale (input 3): "A retains its FP16/BF16 precision".
 */
function weightOnly(node: NodeSkeleton): boolean {
  if (node.domain !== 'com.microsoft') return false;
  if (node.opType === 'MatMulBlockQuantizedFp8Weight') return !node.inputs[3];
  return node.opType === 'MatMulNBits' || node.opType === 'MatMulBlockQuantizedFp4Weight';
}
const SHAPE_OPS = new Set(['Constant', 'Shape', 'Size']);

const product = (dims: readonly (number | null)[]): number | null => dims.reduce<number | null>((a, d) => (a === null || d === null ? null : a * d), 1);

function bytesOf(shape: TensorShape | undefined): number | null {
  if (!shape) return null;
  const count = product(shape.dims);
  const dtype = dtypeById(shape.elemType);
  return count === null || !dtype ? null : (count * dtype.bits) / 8;
}

/** Shape inference for the projection's options: run once and shared by projections on several profiles. */
export function projectionShapes(model: ModelSkeleton, src: ByteSource, externals: ExternalFiles, options: ProjectOptions): ShapeInference {
  return inferShapes(model, src, externals, { dims: options.dims, batch: options.batch });
}

export function projectSpeedup(model: ModelSkeleton, src: ByteSource, externals: ExternalFiles, layers: LayerFacts[], options: ProjectOptions, shapes?: ShapeInference): Projection {
  const profile = options.hardware;
  const inference = shapes ?? projectionShapes(model, src, externals, options);
  const byNode = new Map<NodeSkeleton, LayerFacts>();
  const unknowns: string[] = [];
  // A node holding several layers (MoE, QMoE: one per expert weight) is no single GEMM: its time is its bytes.
  const perNode = new Map<NodeSkeleton, LayerFacts[]>();
  for (const l of layers) if (l.plan.node && l.plan.graph === 'main') perNode.set(l.plan.node, [...(perNode.get(l.plan.node) ?? []), l]);
  for (const [node, held] of perNode) {
    if (held.length === 1) byNode.set(node, held[0]);
    else unknowns.push(`${node.opType} '${node.name || node.opType}' holds ${held.length} layers (${held.map((l) => l.name).join(', ')}): projected as a dense memory-bound op reading all its weights; which experts a token reads depends on its routing`);
  }
  const constants = new Set(model.graph.initializers.map((t) => t.name));
  const works: NodeWork[] = [];
  const readers = new Map<string, number>();
  for (const node of model.graph.nodes) for (const name of node.inputs) if (name) readers.set(name, (readers.get(name) ?? 0) + 1);
  // A graph output is read by the caller: a GEMM output that leaves the graph is not fused into a bias Add.
  for (const output of model.graph.outputs) readers.set(output.name, (readers.get(output.name) ?? 0) + 1);
  const gemmOutputs = new Set<string>();
  const fused = options.runtime === 'fused' ? fusion(model, constants, new Set(byNode.keys())) : undefined;
  for (const io of nodeIo(model, inference)) {
    const node = io.node;
    if (fused?.free.has(node)) continue;
    // Ops on constants only (a weight's DequantizeLinear, Cast, Transpose; shape arithmetic) are folded by
    // runtimes before inference: no time, and their outputs are constants too.
    if (node.inputs.every((name) => !name || constants.has(name)) && !byNode.has(node)) {
      for (const o of node.outputs) constants.add(o);
      continue;
    }
    // A bias Add right after a layer's GEMM runs in the GEMM's epilogue (cuBLAS, TensorRT, ONNX Runtime, addmm).
    if (node.opType === 'Add' && node.inputs.length === 2) {
      const [a, b] = node.inputs;
      const gemm = gemmOutputs.has(a) ? a : gemmOutputs.has(b) ? b : undefined;
      const bias = gemm === a ? b : a;
      const biasShape = inference.shapes.get(bias);
      if (gemm && readers.get(gemm) === 1 && constants.has(bias) && biasShape && biasShape.dims.length <= 1) continue;
    }
    if (byNode.has(node)) for (const o of node.outputs) gemmOutputs.add(o);
    const facts = byNode.get(node);
    let outBytes = io.outputs.reduce<number | null>((s, shape) => (s === null ? null : ((b) => (b === null ? null : s + b))(bytesOf(shape))), 0);
    let inBytes: number | null = 0;
    let weightBytes = 0;
    if (fused?.noOutputTraffic.has(node)) outBytes = 0;
    // An Ascend layer (ascendOps.ts) is its original op: its weight's values, index, scale and zero point are the weight.
    const original = ascendAsOriginal(node);
    const opType = original?.opType ?? node.opType;
    node.inputs.forEach((name, i) => {
      if (!name) return;
      const b = bytesOf(io.inputs[i]);
      if (facts && i === facts.plan.weightInput) return; // the layer's weight is counted below, compressed or not
      if (original && facts && i !== 0 && i !== 3) return;
      if (fused?.noInputTraffic.get(node) === i) return; // attention probabilities stay on chip
      if (constants.has(name)) weightBytes += b ?? 0;
      else inBytes = inBytes === null || b === null ? null : inBytes + b;
    });
    const outTypes = io.outputs.map((s) => s?.elemType);
    const smallInt = io.outputs.every((s) => s && (s.elemType === 7 || s.elemType === 6) && (product(s.dims) ?? Infinity) <= 64);
    const hostOnly = SHAPE_OPS.has(node.opType) || (smallInt && !facts);
    const work: NodeWork = {
      node,
      macs: null,
      rows: null,
      weightBytes,
      activationBytesIn: inBytes,
      activationBytesOut: outBytes,
      computeType: computeTypeOf(outTypes[0] ?? 1),
      passes: false,
      blockZeroRatio: null,
      hostOnly,
    };
    if (facts) {
      const plan = facts.plan;
      const dtype = dtypeById(plan.tensor?.dtype ?? 1);
      work.layer = facts.name;
      // Packed codes (MatMulNBits, QMoE) are read as stored: bits per code, not the byte each is viewed as.
      // --precision: a float weight is converted to the engine's precision (TensorRT --fp16 runs float32 layers in half), read at its bits.
      const converted = options.precision && options.precision !== 'stored' && FLOAT_WEIGHTS.has(dtype?.name ?? '') && !weightOnly(node) ? options.precision : undefined;
      const bits = converted ? (converted === 'fp16' || converted === 'bf16' ? 16 : 8) : (plan.tensor?.codes?.bits ?? dtype?.bits);
      work.weightBytes += plan.shape && bits ? (plan.shape.reduce((a, b) => a * b, 1) * bits) / 8 : 0;
      // MatMulNBits dequantizes its codes and computes in A's type (weight-only int4/int8, as Sparse-Marlin does at 2:4).
      work.computeType = weightOnly(node) ? computeTypeOf(io.inputs[0]?.elemType || 1) : computeTypeOf(plan.tensor?.dtype ?? 1);
      if (converted) work.computeType = converted === 'fp16' || converted === 'bf16' ? 'float16' : 'int8';
      work.weightBits = bits;
      work.passes = facts.eligible && ((facts.runsSparse ?? facts.passes24) || Boolean(options.assumePass));
      work.blockZeroRatio = facts.eligible ? (options.assumePass ? Math.max(facts.blockZeroRatio ?? 0, 0.5) : facts.blockZeroRatio) : null;
    }
    const contribGemm = node.domain === 'com.microsoft' && CONTRIB_GEMM_OPS.has(node.opType);
    if (CONV_OPS.has(opType) || MATMUL_OPS.has(opType) || opType === 'Gemm' || opType === 'ConvTranspose' || contribGemm) {
      const gemm = gemmDims(io);
      if (gemm) {
        work.macs = gemm.batch * gemm.m * gemm.n * gemm.k;
        // Batched MatMuls against one 2-D weight are one GEMM of batch x m rows; convolution groups are separate GEMMs.
        work.rows = CONV_OPS.has(opType) || opType === 'ConvTranspose' ? gemm.m : gemm.batch * gemm.m;
        work.k = gemm.k;
        work.n = gemm.n;
      } else work.unknown = `shapes of ${node.opType} '${node.name || node.outputs[0]}' are unknown`;
    } else if (!hostOnly && (inBytes === null || outBytes === null)) {
      work.unknown = `shapes around ${node.opType} '${node.name || node.outputs[0]}' are unknown`;
    }
    if (work.unknown) unknowns.push(work.unknown);
    works.push(work);
  }
  for (const u of inference.unknown.slice(0, 20)) unknowns.push(`'${u.name}' (${u.op} '${u.node}'): ${u.why}`);
  if (inference.unknown.length > 20) unknowns.push(`... and ${inference.unknown.length - 20} more values of unknown shape`);
  if (options.batch !== undefined && !inference.batchUsed) {
    unknowns.push(`--batch ${options.batch} was not used: no input has a symbolic batch dimension (the model's own sizes are used)`);
  }
  for (const n of inference.notes) unknowns.push(`${n.name}${n.op ? ` (${n.op} '${n.node}')` : ''}: ${n.why}`);
  for (const s of inference.unresolvedSymbols) unknowns.push(`symbolic dimension '${s}' has no value: give --dim ${s}=N${s.toLowerCase().includes('batch') ? ' or --batch N' : ''}`);
  for (const l of layers) if (l.plan.graph !== 'main') unknowns.push(`layer '${l.name}' sits in ${l.plan.graph}: not projected`);

  const times = works.map((w) => nodeTime(w, profile, options.runtime ?? 'eager'));
  const sum = (f: (t: NodeTime) => number) => times.reduce((s, t) => s + f(t), 0);
  const deviceDense = sum((t) => t.dense);
  const deviceSparse = sum((t) => t.sparse);
  const hostDense = sum((t) => t.hostDense);
  const hostSparse = sum((t) => t.hostSparse);
  const denseTime = Math.max(deviceDense, hostDense);
  const sparseTime = Math.max(deviceSparse, hostSparse);
  // If every eligible layer passed: their sparse times, everything else as it is.
  const fixable = (i: number) => Boolean(works[i].layer && byNode.get(works[i].node)?.eligible);
  const ifAll = Math.max(
    times.reduce((s, t, i) => s + (fixable(i) ? t.ifPassed : t.sparse), 0),
    times.reduce((s, t, i) => s + (fixable(i) ? t.hostIfPassed : t.hostSparse), 0),
  );
  const speedupAll = ifAll > 0 ? denseTime / ifAll : null;

  const projections: LayerProjection[] = [];
  works.forEach((w, i) => {
    if (!w.layer) return;
    const t = times[i];
    const facts = byNode.get(w.node)!;
    const flags: string[] = [];
    if (!facts.eligible) flags.push('ineligible: always dense');
    else if (t.bound === 'memory') flags.push(`memory-bound${inference.batchUsed ? ` at batch ${options.batch}` : ' at these sizes'}: sparsity saves only weight bytes, not math`);
    if (facts.eligible && w.k !== undefined && w.n !== undefined && (w.k < 256 || w.n < 256)) flags.push(`channels under 256 (K=${w.k}, N=${w.n}): sparse kernels pay off mainly on large layers`);
    if (facts.eligible && w.k !== undefined && w.n !== undefined && (w.k % 16 !== 0 || w.n % 16 !== 0)) flags.push(`K=${w.k}, N=${w.n} off the kernels' multiples of 16: padded`);
    if (w.passes && t.sparse > t.dense) flags.push('the sparse kernel is slower than the dense one at this size');
    let speedupIfFixed: number | null = null;
    if (!w.passes && facts.eligible) {
      const device = deviceSparse - t.sparse + t.ifPassed;
      const host = hostSparse - t.hostSparse + t.hostIfPassed;
      speedupIfFixed = denseTime / Math.max(device, host);
      if (facts.passes24 && facts.runsSparse === false) flags.push(`holds 2:4, but no sparse kernel takes it here (deploy verdicts: e.g. float32 runs as TF32, which needs 1:2): fixing that would make the model ${speedupIfFixed.toFixed(3)}x`);
      else flags.push(`fails 2:4${facts.compliance !== null ? ` (${((1 - facts.compliance) * 100).toFixed(2)}% of groups violate)` : ''}: fixing it would make the model ${speedupIfFixed.toFixed(3)}x`);
    }
    projections.push({
      name: w.layer,
      op: w.node.opType,
      macs: w.macs,
      rows: w.rows,
      weightBytes: w.weightBytes,
      activationBytesIn: w.activationBytesIn,
      activationBytesOut: w.activationBytesOut,
      computeType: w.computeType,
      denseTime: t.dense,
      sparseTime: t.sparse,
      bound: t.bound,
      sparseBound: t.sparseBound,
      speedup: t.sparse > 0 ? t.dense / t.sparse : null,
      share: deviceDense > 0 ? t.dense / deviceDense : 0,
      passes: w.passes,
      speedupIfFixed,
      flags,
    });
  });
  const other = works.map((w, i) => ({ w, t: times[i] })).filter(({ w }) => !w.layer && !w.hostOnly);
  const otherTime = other.reduce((s, { t }) => s + t.dense, 0);
  return {
    batchUsed: inference.batchUsed,
    hardware: { name: profile.name, description: profile.description, bandwidth: profile.bandwidth, peaks: profile.peaks, sources: profile.sources },
    batch: options.batch ?? null,
    symbols: inference.symbols,
    denseTime,
    sparseTime,
    speedup: sparseTime > 0 ? denseTime / sparseTime : null,
    hostBound: { dense: hostDense > deviceDense, sparse: hostSparse > deviceSparse },
    device: { dense: deviceDense, sparse: deviceSparse },
    host: { dense: hostDense, sparse: hostSparse, kernels: works.filter((w) => !w.hostOnly).length, sparseKernels: times.filter((t) => t.hostSparse > t.hostDense).length },
    runtime: options.runtime ?? 'eager',
    speedupIfAllPass: speedupAll,
    layers: projections,
    otherOps: { count: other.length, denseTime: otherTime, share: deviceDense > 0 ? otherTime / deviceDense : 0 },
    unknowns,
    assumptions: [
      `roofline per op: time = max(2 x MACs / (peak x efficiency), bytes / (${profile.bandwidth} GB/s x ${profile.memoryEfficiency})); dense efficiency ${profile.denseEfficiency}, sparse ${profile.sparseEfficiency} x rows / (rows + ${profile.sparseHalfRows})`,
      options.runtime === 'fused'
        ? `host launch ${profile.hostOverheadUs} us per kernel, sparse ones included (the engine picked them when it was built), overlaps device time: the model takes the larger sum`
        : `host launch ${profile.hostOverheadUs} us per op (+${profile.sparseHostOverheadUs} us per sparse op) overlaps device time: the model takes the larger sum`,
      'only layers a sparse kernel takes get the sparse time (the deploy rules: 2:4 for 16- and 8-bit types, 1:2 for float32 as TF32); compressed weights read 9/16 (fp16), 10/16 (int8), 12/16 (int4 codes) of the dense bytes',
      'integer weights behind DequantizeLinear are computed as int8 (a runtime that fuses Q/DQ); float32 as TF32 on tensor cores',
      ...(options.precision && options.precision !== 'stored' ? [`--precision ${options.precision}: float weights are converted to it and read at its width; activations keep their declared types`] : []),
      'non-GEMM ops are memory-bound: bytes in + out at the profile bandwidth; shape computations and ops on constants have no time; a bias Add after a layer runs in its epilogue',
      options.runtime === 'fused'
        ? 'runtime fused (TensorRT-like): epilogues and residual Adds fused into GEMMs, Adds into LayerNormalization, attention scores kept on chip'
        : 'runtime eager: every ONNX op is its own kernel (use --runtime fused for TensorRT-like fusion)',
      `sparse efficiency at 128 rows: ${sparseEfficiency(profile, 128).toFixed(3)}, at 4096 rows: ${sparseEfficiency(profile, 4096).toFixed(3)}`,
      ...(works.some((w) => w.layer && w.node.opType === 'MatMulNBits' && w.node.domain === 'com.microsoft')
        ? ["MatMulNBits computes in A's type (its codes dequantized in the kernel); its weight reads the packed codes (K x N x bits / 8) plus scales and zero points"]
        : []),
      ...profile.assumed,
    ],
  };
}
