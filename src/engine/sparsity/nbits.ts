// Weights stored as bit-packed integer codes by ONNX Runtime's contrib ops (docs/ContribOperators.md in
// microsoft/onnxruntime), and the float expert weights of its MoE:
// - MatMulNBits: B uint8 [N, k_blocks, blob_size], one row per output channel, K packed low bits first within each
//   block of block_size codes (the last block padded when K is not a multiple); per-block zero points, packed like B
//   ([N, ceil(k_blocks * bits / 8)]) or unpacked in A's type ([N, k_blocks]), default 2^(bits - 1).
// - QMoE: fc1/fc2/fc3_experts_weights uint8 [E, N, K / pack_size], packed the same way, scales and zero points per
//   (expert, row) or per (expert, row, block); MoE: the same weights in float, [E, N, K].
// Each weight becomes a layer whose view is the codes themselves, one byte each, [N, K] or [E, N, K] with K last
// (onnx/packedCodes.ts): padding codes are no weights, and groups of M run along K inside one block.
import { dtypeName } from '../onnx/dtypes';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from '../onnx/numbers';
import { type PackedCodes, unpackCodes } from '../onnx/packedCodes';
import type { NodeSkeleton, TensorRef } from '../onnx/skeleton';
import { FileSource, reopenFile } from '../onnx/source';
import { ExternalFiles, TensorError, openTensor } from '../onnx/tensorData';
import { type OpenedBytes, type ZeroPoint, lazyPackedZeroPoints, packedZeroPoints } from './decode';
import { type FindContext, type LayerPlan, type Scope, type Scopes, type Trace, describeConstant, intAttr, trace } from './layers';

type UniqueName = (node: NodeSkeleton, scope: Scope) => string;

const CODE_DTYPE = { 2: 'uint2', 4: 'uint4', 8: 'uint8' } as const;

/** A view of the codes of stored uint8 tensor `tensor` as [...rows, K], one byte per code. */
function codesView(tensor: TensorRef, dims: number[], bits: 2 | 4 | 8, K: number, blockSize: number): TensorRef {
  const codes: PackedCodes = { bits, K, blockSize, storedDims: tensor.dims };
  return { ...tensor, dtype: 2, dims, codes };
}

/** Float values of a small constant in A's type (float32, float16, bfloat16): unpacked zero points. */
function readFloats(ctx: FindContext, tensor: TensorRef): number[] {
  const reader = openTensor(ctx.src, tensor, ctx.externals);
  if (reader.count > 1 << 20) throw new TensorError(`zero point '${tensor.name}' has ${reader.count} values`);
  const bytes = reader.read(0, reader.count).bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i < reader.count; i++) {
    if (tensor.dtype === 1) out.push(view.getFloat32(i * 4, true));
    else if (tensor.dtype === 10) out.push(float16BitsToFloat32(view.getUint16(i * 2, true)));
    else out.push(bfloat16BitsToFloat32(view.getUint16(i * 2, true)));
  }
  return out;
}

/**
 * Zero points packed `bits` to a byte, low bits first, `perRow` to a row of ceil(perRow * bits / 8) bytes: laid out
 * as codes are, with the whole row one blob.
 */
function unpackRows(packed: Uint8Array, rows: number, perRow: number, bits: number): Uint8Array {
  const rowBytes = Math.ceil((perRow * bits) / 8);
  // The layer's codes are read only for 2, 4 and 8 bits, checked before its zero points are.
  return unpackCodes(packed, { bits: bits as PackedCodes['bits'], K: perRow, blockSize: (rowBytes * 8) / bits, storedDims: [rows, rowBytes] }, rows);
}

/**
 * A packed uint8 zero-point tensor's bytes, read only when it holds the `expected` count: an LLM head's hold millions
 * (128256 rows x 128 blocks), past the cap on other zero points, and are bounded by the weight they describe.
 */
function readPackedBytes(ctx: FindContext, tensor: TensorRef, expected: number, mismatch: (count: number) => string): Uint8Array {
  const reader = openTensor(ctx.src, tensor, ctx.externals);
  if (reader.count !== expected) throw new TensorError(mismatch(reader.count));
  // Read once into an array of its own (4-bit ones are kept as read).
  const bytes = new Uint8Array(reader.count);
  reader.readInto(0, reader.count, bytes);
  return bytes;
}

/**
 * Opens `tensor` for one read: through the inspection's files while they are open, else (a zero point first read
 * after the inspection closed them) through the model opened again, the same file, closed after the read.
 */
function tensorOpener(ctx: FindContext, tensor: TensorRef): () => OpenedBytes {
  return () => {
    const { src } = ctx;
    if (!(src instanceof FileSource) || !src.closed) return { reader: openTensor(src, tensor, ctx.externals), done: () => {} };
    const again = reopenFile(src);
    const externals = new ExternalFiles(again.path);
    try {
      return {
        reader: openTensor(again, tensor, externals),
        done: () => {
          externals.close();
          again.close();
        },
      };
    } catch (err) {
      externals.close();
      again.close();
      throw err;
    }
  };
}

/**
 * Packed uint8 zero points, `perRow` to a row: 4-bit ones kept packed (an int4 LLM's 61 M would take 61 MB and,
 * on first touch, a fifth of a second before any scan starts), wider ones unpacked.
 */
function codeZeroPoints(packed: Uint8Array, rows: number, perRow: number, bits: number, axis: number, blockSize: number): ZeroPoint {
  if (bits === 4) return packedZeroPoints({ bytes: packed, perRow, rowBytes: Math.ceil(perRow / 2) }, axis, blockSize);
  return { values: unpackRows(packed, rows, perRow, bits), axis, blockSize, codeBits: bits };
}

/**
 * g_idx (input 4, "deprecated" in the spec) with zero points: which zero point a code has depends on the kernel.
 * ONNX Runtime's unpacked CPU path looks each k's scale and zero point up through g_idx (matmul_nbits_impl.cc), its
 * packed path (ComputeBPacked) takes no g_idx, and ONNX Runtime 1.30 on CPU computed such models, g_idx = k /
 * block_size included, as if every zero point were 2^(bits - 1) (test/matmulnbits.test.ts).
 */
const G_IDX_WITH_ZERO_POINTS =
  "g_idx with zero points is not read: which zero point applies at each k depends on the kernel (ONNX Runtime's unpacked path looks it up through g_idx, its packed path ignores g_idx, and ONNX Runtime 1.30 on CPU computes such a model as if every zero point were 2^(bits-1))";

/** Why pruning cannot write a block's zero point as a code: it is no integer within the codes' range. */
function unwritableZeroPoint(values: readonly number[] | Uint8Array, bits: number): number | undefined {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(Number.isInteger(v) && v >= 0 && v < 1 << bits)) return v;
  }
  return undefined;
}

/**
 * com.microsoft MatMulNBits: Y = A x dequantize(B)^T. The layer's view is the N x K matrix of codes (uint8, one per
 * code, padding left out), K along axis 1, a zero point per (row, block). Undefined for a B that is not constant
 * (the op table's generic listing then applies).
 */
export function planMatMulNBits(ctx: FindContext, scopes: Scopes, node: NodeSkeleton, scope: Scope, uniqueName: UniqueName): LayerPlan | undefined {
  const t = node.inputs[1] ? trace(scopes, node.inputs[1], scope) : undefined;
  if (!t?.constant) return undefined;
  return planCodes(ctx, scopes, node, scope, describeConstant(t, node, scope, uniqueName(node, scope)), t, { input: 1, N: intAttr(node, 'N'), what: 'MatMulNBits', zeroPoints: 3, gIdx: 4 });
}

/**
 * MatMulNBitsMlp (gate_B = 3, up_B = 6, both [N, k_blocks, blob_size]) and MatMulNBitsQkv (q_B = 3 with Nq rows,
 * k_B = 6 and v_B = 9 with Nkv): MatMulNBits weights fused behind one (Skip)SimplifiedLayerNormalization, sharing K,
 * bits and block_size, with no zero-point input (the default 2^(bits - 1)). Each is its own layer '<node>/<input>'.
 */
const FUSED_NBITS: Record<string, { input: number; name: string; n: string }[]> = {
  MatMulNBitsMlp: [
    { input: 3, name: 'gate_B', n: 'N' },
    { input: 6, name: 'up_B', n: 'N' },
  ],
  MatMulNBitsQkv: [
    { input: 3, name: 'q_B', n: 'Nq' },
    { input: 6, name: 'k_B', n: 'Nkv' },
    { input: 9, name: 'v_B', n: 'Nkv' },
  ],
};

export function isFusedNBits(opType: string): boolean {
  return opType in FUSED_NBITS;
}

export function planFusedNBits(ctx: FindContext, scopes: Scopes, node: NodeSkeleton, scope: Scope, uniqueName: UniqueName): LayerPlan[] {
  const base = uniqueName(node, scope);
  const layers: LayerPlan[] = [];
  for (const w of FUSED_NBITS[node.opType]) {
    const t = node.inputs[w.input] ? trace(scopes, node.inputs[w.input], scope) : undefined;
    if (!t?.constant) continue;
    const layer = describeConstant(t, node, scope, `${base}/${w.name}`);
    layers.push(planCodes(ctx, scopes, node, scope, layer, t, { input: w.input, N: intAttr(node, w.n), what: `${node.opType} ${w.name}` }));
  }
  return layers;
}

interface CodesInput {
  input: number;
  N: number | undefined;
  /** Words that start every reason: the op, and for fused ops the input. */
  what: string;
  zeroPoints?: number;
  gIdx?: number;
}

function planCodes(ctx: FindContext, scopes: Scopes, node: NodeSkeleton, scope: Scope, layer: LayerPlan, t: Trace, spec: CodesInput): LayerPlan {
  layer.weightInput = spec.input;
  if (layer.error) return layer;
  const notRead = (why: string) => {
    layer.fixedReason = `${spec.what}: ${why}`;
    return layer;
  };
  const K = intAttr(node, 'K');
  const N = spec.N;
  const bits = intAttr(node, 'bits') ?? 4;
  const blockSize = intAttr(node, 'block_size');
  if ((intAttr(node, 'weight_prepacked') ?? 0) !== 0) {
    layer.error = `${spec.what}: weight_prepacked is set: B holds a GPU-specific layout this tool cannot read`;
    return layer;
  }
  if (!K || !N || !blockSize || K < 1 || N < 1 || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    layer.error = `${spec.what}: attributes K=${K}, N=${N}, block_size=${blockSize} are not a valid layout (K, N >= 1; block_size a power of 2 >= 16)`;
    return layer;
  }
  if (t.chain.length) return notRead(`B reaches the node through ${t.chain.map((n) => n.opType).join(', ')}, not as its packed constant`);
  // g_idx only moves scales and zero points; without zero points every block's zero is 2^(bits - 1) whatever it says.
  const gIdxName = spec.gIdx === undefined ? undefined : node.inputs[spec.gIdx];
  const zpName = spec.zeroPoints === undefined ? undefined : node.inputs[spec.zeroPoints];
  if (gIdxName && zpName) return notRead(G_IDX_WITH_ZERO_POINTS);
  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const tensor = t.constant!.tensor;
  const dims = tensor.dims;
  if (tensor.dtype !== 2 || dims.length !== 3 || dims[0] !== N || dims[1] !== kBlocks || dims[2] !== blob) {
    layer.error = `${spec.what}: B is ${dtypeName(tensor.dtype)} [${dims.join(', ')}] but K=${K}, N=${N}, bits=${bits}, block_size=${blockSize} need uint8 [${N}, ${kBlocks}, ${blob}]`;
    return layer;
  }
  if (bits !== 2 && bits !== 4 && bits !== 8) return notRead(`${bits}-bit codes are not read by this version (2, 4 and 8-bit are)`);
  layer.tensor = codesView(tensor, [N, K], bits, K, blockSize);
  layer.shape = [N, K];
  layer.storedShape = dims;
  layer.storedAs = `N x K = ${N} x ${K}, stored as ${N} x ${kBlocks} blocks x ${blockSize} ${bits}-bit codes${K % blockSize ? ` (the last block padded by ${kBlocks * blockSize - K})` : ''}`;
  layer.dtype = CODE_DTYPE[bits];
  layer.axis = 1;
  layer.outAxis = 0;
  layer.kBlock = blockSize;
  try {
    layer.zeroPoint = nBitsZeroPoint(ctx, scopes, zpName, scope, N, kBlocks, bits, blockSize);
    const zpType = zpName ? trace(scopes, zpName, scope).constant?.tensor.dtype : undefined;
    if (zpType === 10 || zpType === 16) {
      layer.notes = [
        `zero points in ${dtypeName(zpType)}: ONNX Runtime rounds scale x zero point to ${dtypeName(zpType)} before subtracting it from code x scale, so a code equal to its zero point dequantizes to exactly 0 only where that product is exact in ${dtypeName(zpType)}; counted here in the code domain`,
      ];
    }
    // Zero points unpacked from codes of the weight's own width are codes already: only float ones can fail.
    const bad = layer.zeroPoint.codeBits === bits ? undefined : unwritableZeroPoint(layer.zeroPoint.values, bits);
    if (bad !== undefined) layer.noPrune = `${spec.what} zero point ${bad} is no ${bits}-bit code: a pruned code cannot be set to it`;
  } catch (err) {
    layer.error = err instanceof Error ? err.message : String(err);
  }
  return layer;
}

/**
 * MatMulNBits' zero points as one value per (row, block) over the [N, K] view: packed uint8 like B, unpacked in A's
 * type, or the default 2^(bits - 1). ONNX Runtime dequantizes with a float zero point as q * scale - scale * zp
 * (contrib_ops/cpu/quantization/matmul_nbits_impl.cc): the weight is exactly zero when the code equals zp, the same
 * product being subtracted; a zero point between codes makes no code zero, and pruning cannot write it.
 */
function nBitsZeroPoint(ctx: FindContext, scopes: Scopes, name: string | undefined, scope: Scope, N: number, kBlocks: number, bits: number, blockSize: number): ZeroPoint {
  if (!name) return { values: [1 << (bits - 1)], axis: -1, blockSize: 0 };
  const t = trace(scopes, name, scope);
  if (!t.constant) throw new TensorError(`MatMulNBits zero points '${name}' are ${t.dynamic}: cannot tell which codes are zero`);
  const dtype = t.constant.tensor.dtype;
  if (dtype === 1 || dtype === 10 || dtype === 16) {
    const values = readFloats(ctx, t.constant.tensor);
    if (values.length !== N * kBlocks) throw new TensorError(`MatMulNBits zero points '${name}' hold ${values.length} ${dtypeName(dtype)} values; N=${N} rows of ${kBlocks} blocks need ${N * kBlocks}`);
    return { values, axis: 1, blockSize };
  }
  if (dtype !== 2) throw new TensorError(`MatMulNBits zero points '${name}' are ${dtypeName(dtype)}: the spec allows uint8 (packed) or A's float type`);
  const rowBytes = Math.ceil((kBlocks * bits) / 8);
  const mismatch = (count: number) => `MatMulNBits zero points '${name}' hold ${count} bytes; N=${N} rows of ${kBlocks} ${bits}-bit values need ${N * rowBytes}`;
  if (bits === 4) {
    // Left in the file: the scan reads the rows of each part as it reads their codes (lazyPackedZeroPoints).
    const tensor = t.constant.tensor;
    const count = openTensor(ctx.src, tensor, ctx.externals).count;
    if (count !== N * rowBytes) throw new TensorError(mismatch(count));
    return lazyPackedZeroPoints(tensor, count, kBlocks, rowBytes, 1, blockSize, tensorOpener(ctx, tensor));
  }
  const packed = readPackedBytes(ctx, t.constant.tensor, N * rowBytes, mismatch);
  // Over the code view [N, K]: one block of block_size along K per (row, block), the last one possibly short.
  return codeZeroPoints(packed, N, kBlocks, bits, 1, blockSize);
}

/**
 * The expert weights: MoE's inputs are input, router_probs, then (weights, bias) for fc1, fc2, fc3; QMoE's are
 * input, router_probs, then (weights, scales, bias) for each, then fc1/fc2/fc3_zero_points (11, 12, 13).
 */
const EXPERT_WEIGHTS = [
  { moe: 2, qmoe: 2, name: 'fc1_experts_weights', zeroPoints: 11 },
  { moe: 4, qmoe: 5, name: 'fc2_experts_weights', zeroPoints: 12 },
  { moe: 6, qmoe: 8, name: 'fc3_experts_weights', zeroPoints: 13 },
] as const;

/**
 * com.microsoft MoE and QMoE: each expert weight (fc1, fc2, fc3) is its own layer '<node>/<input name>', experts
 * the leading axis. The current spec stores every one as [E, N, K] (QMoE: [E, N, K / pack_size]): fc1
 * (E, fusion_size * inter_size, hidden_size), fc2 (E, hidden_size, inter_size), fc3 (E, inter_size, hidden_size).
 * Earlier versions of the spec wrote (E, hidden_size, inter_size) for fc1: told apart by how fc1 and fc2 fit.
 */
export function planExperts(ctx: FindContext, scopes: Scopes, node: NodeSkeleton, scope: Scope, uniqueName: UniqueName): LayerPlan[] {
  const quantized = node.opType === 'QMoE';
  const bits = quantized ? (intAttr(node, 'expert_weight_bits') ?? 4) : 8;
  const pack = quantized ? 8 / bits : 1;
  const base = uniqueName(node, scope);
  const found = EXPERT_WEIGHTS.map((w) => {
    const input = quantized ? w.qmoe : w.moe;
    return { ...w, input, t: node.inputs[input] ? trace(scopes, node.inputs[input], scope) : undefined };
  });
  const fc1 = found[0].t?.constant?.tensor.dims;
  const hidden = node.inputs[0] ? declaredLastDim(scope, node.inputs[0]) : undefined;
  const layout = fc1?.length === 3 ? expertLayout(fc1, hidden, Number.isInteger(pack) ? pack : 1) : 'current';
  const layers: LayerPlan[] = [];
  for (const w of found) {
    if (!w.t?.constant) continue;
    const layer = describeConstant(w.t, node, scope, `${base}/${w.name}`);
    layer.weightInput = w.input;
    layers.push(layer);
    if (layer.error) continue;
    const tensor = w.t.constant.tensor;
    const dims = tensor.dims;
    const why = (text: string) => (layer.fixedReason = `${node.opType} ${w.name}: ${text}`);
    if (w.t.chain.length) {
      why(`reaches the node through ${w.t.chain.map((n) => n.opType).join(', ')}, not as its stored constant`);
      continue;
    }
    if (dims.length !== 3) {
      layer.error = `${node.opType} ${w.name}: ${dims.length}-D [${dims.join(', ')}]; the spec's expert weights are 3-D [num_experts, N, K]`;
      continue;
    }
    if (layout === 'earlier' || layout === 'ambiguous') {
      why(
        layout === 'ambiguous'
          ? `fc1 [${fc1!.join(', ')}] with hidden size ${hidden} fits both the current spec's [E, N, K] and earlier versions' (E, hidden_size, inter_size): which axis is K cannot be told`
          : `fc1 [${fc1!.join(', ')}] with hidden size ${hidden} is laid out as earlier versions of the spec wrote it, (E, hidden_size, inter_size): not read by this version (the current [E, N, K] is)`,
      );
      continue;
    }
    if (layout === 'undeclared') layer.notes = [`expert weights read as the current spec lays them out, [E, N, K]: the input's hidden size is not declared, so an earlier version's (E, hidden_size, inter_size) could not be ruled out`];
    layer.axis = 2;
    layer.outAxis = 1;
    if (!quantized) continue; // float weights: the generic reading and pruning apply
    const quantType = node.attributes.get('quant_type')?.s ?? 'int';
    if (quantType !== 'int') {
      why(`quant_type '${quantType}' (FP4/FP8 codes with block scales) is not read by this version (quant_type 'int' is)`);
      continue;
    }
    // weights_prepacked: 0 raw [E, N, K / pack_size]; 1 and the default -1 "select prepacked layouts determined by
    // the execution provider" (the spec). ONNX Runtime 1.30's CPU provider reads raw weights whatever the value (its
    // output equals one computed from the raw layout); ORT GenAI writes CUDA's prepacked layout for 1 and the default.
    const prepacked = intAttr(node, 'weights_prepacked') ?? -1;
    if (prepacked === 1) {
      layer.error = `${node.opType}: weights_prepacked=1: the expert weights hold an execution-provider-specific layout this tool cannot read`;
      continue;
    }
    if (prepacked !== 0) {
      const note = `weights_prepacked is ${prepacked === -1 ? 'the default -1' : prepacked}: the execution provider chooses the layout; read as the raw [E, N, K / pack_size] that ONNX Runtime's CPU provider reads (a model written for CUDA's prepacked layout would read wrong)`;
      layer.notes = [...(layer.notes ?? []), note];
    }
    if (bits !== 2 && bits !== 4 && bits !== 8) {
      why(`${bits}-bit codes are not read (2, 4 and 8-bit are)`);
      continue;
    }
    if (tensor.dtype !== 2) {
      layer.error = `${node.opType} ${w.name}: ${dtypeName(tensor.dtype)}; quant_type 'int' stores uint8 codes`;
      continue;
    }
    const [E, N, packedK] = dims;
    const K = packedK * pack;
    const blockSize = intAttr(node, 'block_size') ?? 0;
    if (blockSize && (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)) {
      layer.error = `${node.opType}: block_size=${blockSize} is not a power of 2 >= 16 (the spec requires it)`;
      continue;
    }
    if (blockSize && K % blockSize !== 0) {
      layer.error = `${node.opType} ${w.name}: K=${K} is not a multiple of block_size ${blockSize} (the spec requires it)`;
      continue;
    }
    // Each row's codes are one contiguous run of K / pack_size bytes: one blob of K codes.
    layer.tensor = codesView(tensor, [E, N, K], bits as 2 | 4 | 8, K, K);
    layer.shape = [E, N, K];
    layer.storedShape = dims;
    layer.storedAs = `E x N x K = ${E} x ${N} x ${K}, stored as uint8 [${dims.join(', ')}]${pack > 1 ? ` (${pack} ${bits}-bit codes a byte)` : ''}`;
    layer.dtype = CODE_DTYPE[bits as 2 | 4 | 8];
    if (blockSize) layer.kBlock = blockSize;
    try {
      layer.zeroPoint = expertZeroPoint(ctx, scopes, node, scope, w.name, node.inputs[w.zeroPoints], E, N, K, bits, blockSize);
    } catch (err) {
      layer.error = err instanceof Error ? err.message : String(err);
    }
  }
  return layers;
}

/**
 * Which layout fc1 has, from the input's declared hidden size: the current spec's (E, fusion_size * inter_size,
 * hidden_size / pack_size) or earlier versions' (E, hidden_size, ...). The shapes alone cannot tell: swapping
 * hidden and inter sizes turns one layout into the other.
 */
function expertLayout(fc1: number[], hidden: number | undefined, pack: number): 'current' | 'earlier' | 'ambiguous' | 'undeclared' {
  if (hidden === undefined) return 'undeclared';
  const current = fc1[2] * pack === hidden;
  const earlier = fc1[1] === hidden;
  return current && earlier ? 'ambiguous' : earlier ? 'earlier' : 'current';
}

/** The last dim of value `name` where a graph declares it as a number (inputs, value_info, outputs, outer graphs). */
function declaredLastDim(scope: Scope, name: string): number | undefined {
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    const g = s.graph;
    const info = g.inputs.find((v) => v.name === name) ?? g.valueInfo.find((v) => v.name === name) ?? g.outputs.find((v) => v.name === name);
    const last = info?.dims?.[info.dims.length - 1];
    if (info) return typeof last === 'number' ? last : undefined;
  }
  return undefined;
}

/**
 * QMoE zero points over the [E, N, K] view: packed uint8, (E, N / pack_size) per row without block_size, or
 * (E, N, K / block_size / pack_size) per block; default 2^(bits - 1). Dequantized as (code - zero_point) * scale.
 */
function expertZeroPoint(
  ctx: FindContext,
  scopes: Scopes,
  node: NodeSkeleton,
  scope: Scope,
  weight: string,
  name: string | undefined,
  E: number,
  N: number,
  K: number,
  bits: number,
  blockSize: number,
): ZeroPoint {
  if (!name) return { values: [1 << (bits - 1)], axis: -1, blockSize: 0 };
  const t = trace(scopes, name, scope);
  if (!t.constant) throw new TensorError(`${node.opType} ${weight} zero points '${name}' are ${t.dynamic}: cannot tell which codes are zero`);
  if (t.constant.tensor.dtype !== 2) throw new TensorError(`${node.opType} ${weight} zero points '${name}' are ${dtypeName(t.constant.tensor.dtype)}, not packed uint8`);
  const blocks = blockSize ? K / blockSize : 1;
  // Without block_size the zero points run along N (one per row), packed per expert.
  const [rows, perRow] = blockSize ? [E * N, blocks] : [E, N];
  const need = rows * Math.ceil((perRow * bits) / 8);
  const packed = readPackedBytes(ctx, t.constant.tensor, need, (count) => `${node.opType} ${weight} zero points '${name}' hold ${count} bytes; ${E} experts x ${N} rows${blockSize ? ` x ${blocks} blocks` : ''} of ${bits}-bit values need ${need}`);
  // One value per (expert, row, block) in the order of the view's rows: a block of K / blocks along the last axis.
  return codeZeroPoints(packed, rows, perRow, bits, 2, K / blocks);
}
