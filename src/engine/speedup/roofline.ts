// The projection: per node, device time on a hardware profile by a roofline (math at the profile's dense or sparse
// peak times an efficiency, memory at its bandwidth, the larger wins), host launch time alongside (it overlaps the
// device: the model's time is the larger of the two sums), and only layers that pass 2:4 get the sparse time, with
// compressed weight bytes (9/16 fp16, 10/16 int8, 12/16 int4). Every non-GEMM op is memory-bound time, so the
// end-to-end figure is Amdahl-correct. Inputs (MACs, bytes, peaks, bandwidth, batch) are all in the output, so a user can check it.
import { dtypeById } from '../onnx/dtypes';
import type { NodeSkeleton } from '../onnx/skeleton';
import type { HardwareProfile, Peak } from './profiles';

export type ComputeType = 'float16' | 'int8' | 'float32';

/** What the projection needs to know about one node. */
export interface NodeWork {
  node: NodeSkeleton;
  /** Layer name when the node is a layer (it has a constant weight). */
  layer?: string;
  /** Multiply-adds of a GEMM-like node (layers and activation x activation products); null when unknown. */
  macs: number | null;
  /** GEMM rows (tokens, or batch x output pixels for convolutions): small GEMMs get less of the sparse peak. */
  rows: number | null;
  weightBytes: number;
  activationBytesIn: number | null;
  activationBytesOut: number | null;
  computeType: ComputeType;
  /** Bits per stored weight element (4 for int4 codes): what the compressed weight is measured in; else the compute type's. */
  weightBits?: number;
  /** The weight passes 2:4 (nm24 profiles) or its block-zero ratio (block profiles). */
  passes: boolean;
  blockZeroRatio: number | null;
  /** Layer shape facts for the traps: K (reduction) and out features. */
  k?: number;
  n?: number;
  /** Shape-only computation (Shape, Gather on int64 shapes...): no device kernel in practice. */
  hostOnly: boolean;
  /** Why its time is unknown, if it is. */
  unknown?: string;
}

export interface NodeTime {
  /** Device time dense and sparse, seconds. */
  dense: number;
  sparse: number;
  /** Device time if the layer passed (what fixing it would buy). */
  ifPassed: number;
  bound: 'math' | 'memory' | 'none';
  sparseBound: 'math' | 'memory' | 'none';
  hostDense: number;
  hostSparse: number;
  hostIfPassed: number;
}

/** Compressed weight bytes over dense at 2:4: 2 values + 2 two-bit indexes per 4 elements. */
export function compressedRatio(bytesPerElement: number): number {
  return (2 * bytesPerElement + 0.5) / (4 * bytesPerElement);
}

export function computeTypeOf(dtypeId: number): ComputeType {
  const name = dtypeById(dtypeId)?.name ?? 'float32';
  if (name === 'float16' || name === 'bfloat16') return 'float16';
  if (name === 'float32' || name === 'float64') return 'float32';
  return 'int8'; // int8, uint8, fp8, int4: the int8/fp8 tensor-core path
}

function bytesPerElement(type: ComputeType): number {
  return type === 'float16' ? 2 : type === 'int8' ? 1 : 4;
}

/** Efficiency of sparse kernels for a GEMM of `rows` rows: effS x rows / (rows + half). */
export function sparseEfficiency(profile: HardwareProfile, rows: number | null): number {
  if (!profile.sparseHalfRows || rows === null) return profile.sparseEfficiency;
  return (profile.sparseEfficiency * rows) / (rows + profile.sparseHalfRows);
}

/**
 * Device and host time of one node on `profile`. The extra host time of a sparse op (`sparseHostOverheadUs`, fitted on
 * PyTorch's semi-structured tensors, whose dispatch checks and wraps each call) is an eager runtime's: a fused
 * (TensorRT-like) engine chose its sparse kernels when it was built and launches them as any other.
 */
export function nodeTime(w: NodeWork, profile: HardwareProfile, runtime: 'eager' | 'fused' = 'eager'): NodeTime {
  const host = w.hostOnly ? 0 : profile.hostOverheadUs * 1e-6;
  const sparseHost = host + (w.layer && runtime === 'eager' ? profile.sparseHostOverheadUs * 1e-6 : 0);
  const none: NodeTime = { dense: 0, sparse: 0, ifPassed: 0, bound: 'none', sparseBound: 'none', hostDense: host, hostSparse: host, hostIfPassed: host };
  if (w.hostOnly || w.unknown) return none;
  const bw = profile.bandwidth * 1e9 * profile.memoryEfficiency;
  const act = (w.activationBytesIn ?? 0) + (w.activationBytesOut ?? 0);
  const peak: Peak = profile.peaks[w.computeType];
  const denseMem = (w.weightBytes + act) / bw;
  if (w.macs === null) {
    // Not a GEMM: memory-bound, the same dense or sparse.
    return { ...none, dense: denseMem, sparse: denseMem, ifPassed: denseMem, bound: 'memory', sparseBound: 'memory' };
  }
  const denseMath = (2 * w.macs) / (peak.dense * 1e12 * profile.denseEfficiency);
  const dense = Math.max(denseMath, denseMem);
  const bound = denseMath >= denseMem ? 'math' : 'memory';
  if (!w.layer) return { ...none, dense, sparse: dense, ifPassed: dense, bound, sparseBound: bound };
  let passedTime: number;
  let passedBound: 'math' | 'memory';
  if (profile.sparsity === 'block') {
    // Software block sparsity: zero blocks are skipped in the math and not stored.
    const ratio = w.blockZeroRatio ?? 0;
    const math = denseMath * (1 - ratio * (profile.blockSparseEfficiency ?? 1));
    const mem = (w.weightBytes * (1 - ratio) + act) / bw;
    passedTime = Math.max(math, mem);
    passedBound = math >= mem ? 'math' : 'memory';
  } else {
    const math = (2 * w.macs) / (peak.sparse * 1e12 * sparseEfficiency(profile, w.rows));
    const mem = (w.weightBytes * compressedRatio(w.weightBits ? w.weightBits / 8 : bytesPerElement(w.computeType)) + act) / bw;
    passedTime = Math.max(math, mem);
    passedBound = math >= mem ? 'math' : 'memory';
  }
  const passes = profile.sparsity === 'block' ? (w.blockZeroRatio ?? 0) > 0 : w.passes;
  return {
    dense,
    sparse: passes ? passedTime : dense,
    ifPassed: passedTime,
    bound,
    sparseBound: passes ? passedBound : bound,
    hostDense: host,
    hostSparse: passes ? sparseHost : host,
    hostIfPassed: sparseHost,
  };
}
