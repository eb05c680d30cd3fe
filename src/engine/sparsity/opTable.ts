// Which input of which op is a weight, and which axis of it is the reduction axis K (domain.md §2).
// Kept as data in one place, as Polygraphy's sparsity tool does. An op is looked up by domain and type:
// standard ops only in '' / 'ai.onnx', ONNX Runtime's contrib ops only in 'com.microsoft' (its
// docs/ContribOperators.md; the quoted input names and shapes below are that spec's wording), TensorRT's own
// Q/DQ ops only in 'trt' (as TensorRT's ONNX parser, onnx-tensorrt, imports them).

export interface WeightSlot {
  /** Input index of the weight. */
  input: number;
  /** Which operand it is: B (the usual weight), A (a constant left operand), W (a convolution kernel or an attention projection). */
  role: 'A' | 'B' | 'W';
  /** Input index of the op's own zero point for this weight (integer ops). */
  zeroPointInput?: number;
  /** K axis and output-feature axis of a weight of rank `rank`, given the node's attributes. */
  axes(rank: number, attr: (name: string) => number | undefined): { k: number; r: number };
  /** Why this tool does not read the weight with these attributes (a layout it does not map), or undefined. */
  unread?(rank: number, attr: (name: string) => number | undefined): string | undefined;
  /** A weight stored packed in another type: the bytes are read as `dtype` with these dims (read from a plain constant only). */
  packed?: { stored: number; dtype: number; dims(stored: readonly number[]): number[] | undefined; what: string };
}

export interface OpRule {
  /** Slots in priority order: MatMul's constant B is the weight when both operands are constant. */
  slots: WeightSlot[];
  convolution: boolean;
  /** Both operands may be activations (attention products): with no constant operand the node is no layer at all. */
  activationProduct: boolean;
}

/** The domains this table knows: '' and 'ai.onnx' are the same (ONNX's default domain). */
export type OpDomain = 'ai.onnx' | 'com.microsoft' | 'trt';

const DOMAINS: ReadonlyMap<string, OpDomain> = new Map([
  ['', 'ai.onnx'],
  ['ai.onnx', 'ai.onnx'],
  ['com.microsoft', 'com.microsoft'],
  // NVIDIA Model Optimizer and Transformer Engine export TensorRT's own Q/DQ ops in domain "trt".
  ['trt', 'trt'],
]);

export function opDomain(domain: string): OpDomain | undefined {
  return DOMAINS.get(domain);
}

const conv = (input: number, zeroPointInput?: number): OpRule => ({
  slots: [{ input, role: 'W', zeroPointInput, axes: () => ({ k: 1, r: 0 }) }],
  convolution: true,
  activationProduct: false,
});

const matmulB = (input: number, zeroPointInput?: number): WeightSlot => ({ input, role: 'B', zeroPointInput, axes: (rank) => ({ k: rank - 2, r: rank - 1 }) });
const matmulA = (input: number, zeroPointInput?: number): WeightSlot => ({ input, role: 'A', zeroPointInput, axes: (rank) => ({ k: rank - 1, r: rank - 2 }) });

const matmul = (b: number, bZp: number | undefined, a: number, aZp: number | undefined): OpRule => ({
  slots: [matmulB(b, bZp), matmulA(a, aZp)],
  convolution: false,
  activationProduct: true,
});

/** Gemm-style 2-D operands: B is (K, N), or (N, K) with transB; A is (M, K), or (K, M) with transA. */
const gemm = (b: number, bZp: number | undefined, a: number, aZp: number | undefined): OpRule => ({
  slots: [
    { input: b, role: 'B', zeroPointInput: bZp, axes: (_rank, attr) => (attr('transB') ? { k: 1, r: 0 } : { k: 0, r: 1 }) },
    { input: a, role: 'A', zeroPointInput: aZp, axes: (_rank, attr) => (attr('transA') ? { k: 0, r: 1 } : { k: 1, r: 0 }) },
  ],
  convolution: false,
  activationProduct: false,
});

/**
 * Attention / QAttention: "weight: 2D input tensor with shape (input_hidden_size, 3 * hidden_size)", the Q, K and V
 * projections side by side, so K (the reduction axis) is axis 0 and the output features run along axis 1.
 */
const attention = (zeroPointInput?: number): OpRule => ({
  slots: [{ input: 1, role: 'W', zeroPointInput, axes: () => ({ k: 0, r: 1 }) }],
  convolution: false,
  activationProduct: false,
});

/** FusedMatMul's transBatchA/B move the first axis among the batch axes: a layout this version does not map (at any rank). */
const transBatch = (name: 'transBatchA' | 'transBatchB') => (_rank: number, attr: (name: string) => number | undefined) =>
  attr(name) ? `FusedMatMul with ${name}=${attr(name)}: batch-transposed weights are not read by this version` : undefined;

export const OP_RULES: Record<OpDomain, Record<string, OpRule>> = {
  'ai.onnx': {
    Conv: conv(1),
    ConvInteger: conv(1, 3),
    QLinearConv: conv(3, 5),
    MatMul: matmul(1, undefined, 0, undefined),
    MatMulInteger: matmul(1, 3, 0, 2),
    QLinearMatMul: matmul(3, 5, 0, 2),
    Gemm: gemm(1, undefined, 0, undefined),
  },
  'com.microsoft': {
    // QGemm inputs: A, a_scale, a_zero_point, B, b_scale, b_zero_point, C, y_scale, y_zero_point. "The shape of B
    // should be (K, N) if transB is 0, or (N, K) if transB is non-zero"; b_zero_point is "a scalar or a 1-D tensor,
    // which means a per-tensor or per-column quantization".
    QGemm: gemm(3, 5, 0, 2),
    // GemmFloat8 inputs: A, B, C, scaleA, scaleB, scaleY. "The shape of B should be (K, N) if transB is 0, or (N, K)
    // if transB is non-zero"; A, B: float8e4m3fn, float8e5m2, float16, bfloat16 or float (FP8 has no zero point).
    GemmFloat8: gemm(1, undefined, 0, undefined),
    // MatMulBlockQuantizedFp8Weight inputs: A, B, b_scale, a_scale, bias. "B: Row-major FP8 E4M3 weight of shape
    // [N, K]"; the op "multiplies the activation by the transpose of B_scaled": K is axis 1.
    MatMulBlockQuantizedFp8Weight: { slots: [{ input: 1, role: 'B', axes: () => ({ k: 1, r: 0 }) }], convolution: false, activationProduct: false },
    // MatMulBlockQuantizedFp4Weight inputs: A, B, weight_scale, weight_scale_2, input_scale, bias. "B: Packed NVFP4
    // weight of shape [N, K/2] stored as uint8 (two E2M1 values per byte, low nibble first)": its bytes read as
    // float4e2m1 [N, K], K is axis 1.
    MatMulBlockQuantizedFp4Weight: {
      slots: [
        {
          input: 1,
          role: 'B',
          axes: () => ({ k: 1, r: 0 }),
          packed: { stored: 2, dtype: 23, dims: (d) => (d.length === 2 ? [d[0], 2 * d[1]] : undefined), what: 'uint8 [N, K/2] (two E2M1 values per byte)' },
        },
      ],
      convolution: false,
      activationProduct: false,
    },
    // DynamicQuantizeMatMul inputs: A, B, b_scale, b_zero_point, bias. A is float (quantized at run time): only B is a weight.
    DynamicQuantizeMatMul: { slots: [matmulB(1, 3)], convolution: false, activationProduct: true },
    // MatMulIntegerToFloat inputs: A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias.
    MatMulIntegerToFloat: matmul(1, 5, 0, 4),
    // FusedMatMul inputs: A, B. "transA/transB: whether A/B should be transposed on the last two dimensions";
    // "transBatchA/B: whether A/B should be transposed on the 1st dimension and batch dimensions (dim-1 to dim-rank-2)".
    FusedMatMul: {
      slots: [
        { input: 1, role: 'B', axes: (rank, attr) => (attr('transB') ? { k: rank - 1, r: rank - 2 } : { k: rank - 2, r: rank - 1 }), unread: transBatch('transBatchB') },
        { input: 0, role: 'A', axes: (rank, attr) => (attr('transA') ? { k: rank - 2, r: rank - 1 } : { k: rank - 1, r: rank - 2 }), unread: transBatch('transBatchA') },
      ],
      convolution: false,
      activationProduct: true,
    },
    // Attention inputs: input, weight, bias, mask_index, past, extra_add.
    Attention: attention(),
    // QAttention inputs: input, weight, bias, input_scale, weight_scale, mask_index, input_zero_point,
    // weight_zero_point, past. weight_zero_point is "a scalar or a 1D tensor, which means a per-tensor/per-column
    // quantization. Its size should be 3 * hidden_size if it is per-column quantization".
    QAttention: attention(7),
  },
  // TensorRT's layers are the standard ops: its 'trt' domain adds Q/DQ ops only (CHAIN_STEPS below).
  trt: {},
};

export function ruleFor(domain: string, opType: string): OpRule | undefined {
  const known = opDomain(domain);
  return known ? OP_RULES[known][opType] : undefined;
}

/** An op that takes constant weights which no N:M kernel reads: listed as ineligible with `reason`, not hidden. */
export interface UnacceleratedOp {
  /** Weight inputs, in order: the first constant one is listed. */
  inputs: number[];
  reason: string;
  /** Smallest rank of a weight worth listing (packed formats store 2-D weights as 1-D bytes). */
  minRank: number;
}

const noRuntime = (op: string): UnacceleratedOp => ({ inputs: [1], reason: `${op}: no mainstream runtime accelerates N:M sparsity for this op`, minRank: 2 });

export const UNACCELERATED_OPS: Record<OpDomain, Record<string, UnacceleratedOp>> = {
  'ai.onnx': {
    ConvTranspose: noRuntime('ConvTranspose'),
    DeformConv: noRuntime('DeformConv'),
    LSTM: { ...noRuntime('LSTM'), inputs: [1, 2] },
    GRU: { ...noRuntime('GRU'), inputs: [1, 2] },
    RNN: { ...noRuntime('RNN'), inputs: [1, 2] },
    Einsum: { ...noRuntime('Einsum'), inputs: [0, 1] },
  },
  'com.microsoft': {
    // GatherBlockQuantized inputs: data, indices, scales, zero_points: a block-quantized embedding table, gathered by row.
    GatherBlockQuantized: { inputs: [0], reason: 'GatherBlockQuantized: an embedding lookup, not a matrix product: no N:M kernel applies', minRank: 2 },
    // MatMulBnb4 inputs: A, B, absmax; B holds the FP4/NF4 codes packed two per byte in a 1-D uint8 tensor.
    MatMulBnb4: { inputs: [1], reason: 'MatMulBnb4: no mainstream runtime accelerates N:M sparsity for 4-bit bitsandbytes (FP4/NF4) weights', minRank: 1 },
    // MatMulNBits (inputs A, B, scales, zero_points, g_idx, bias; B uint8 [N, k_blocks, blob_size] of packed codes),
    // MatMulNBitsMlp/Qkv, QMoE and MoE are read by sparsity/nbits.ts: their attributes decide how the weights' bytes
    // are viewed, and the fused ones hold one layer per weight.
  },
  trt: {},
};

export function unacceleratedFor(domain: string, opType: string): UnacceleratedOp | undefined {
  const known = opDomain(domain);
  return known ? UNACCELERATED_OPS[known][opType] : undefined;
}

/** What an op between a weight's constant and its layer does to the weight (domain.md §2). */
export interface ChainStep {
  kind: 'dequantize' | 'quantize' | 'cast' | 'identity' | 'transpose';
  /**
   * Dequantize ops: the input holding the zero point, read with the standard `axis` (default 1) and `block_size`
   * attributes; none for ops that have no zero point (FP8 and MX formats are symmetric).
   */
  zeroPointInput?: number;
}

const dequantize: ChainStep = { kind: 'dequantize', zeroPointInput: 2 };
const quantize: ChainStep = { kind: 'quantize' };

/** Ops a weight may pass through between its constant and the layer, by domain. */
export const CHAIN_STEPS: Record<OpDomain, Record<string, ChainStep>> = {
  'ai.onnx': {
    DequantizeLinear: dequantize,
    QuantizeLinear: quantize,
    Cast: { kind: 'cast' },
    Identity: { kind: 'identity' },
    Transpose: { kind: 'transpose' },
  },
  // ONNX Runtime's contrib Q/DQ: same inputs and meaning as the standard ones.
  'com.microsoft': { DequantizeLinear: dequantize, QuantizeLinear: quantize },
  // TensorRT's Q/DQ (onnx-tensorrt imports each as an IQuantizeLayer / IDequantizeLayer of a fixed type, with the
  // standard inputs and `axis` / `block_size`): TRT_FP8* (x, scale), no zero point; TRT_INT4* (x, scale, zero_point),
  // per tensor, per axis or blockwise, as Model Optimizer's INT4 export writes them; TRT_MXFP8* (x, e8m0 scale) with
  // axis and block_size 32, no zero point.
  trt: {
    TRT_FP8DequantizeLinear: { kind: 'dequantize' },
    TRT_FP8QuantizeLinear: quantize,
    TRT_INT4DequantizeLinear: dequantize,
    TRT_INT4QuantizeLinear: quantize,
    TRT_MXFP8DequantizeLinear: { kind: 'dequantize' },
    TRT_MXFP8QuantizeLinear: quantize,
  },
};

/** The default domain's chain ops (they also carry no weight of their own: NOT_WEIGHT_BEARING). */
export const CHAIN_OPS = new Set(Object.keys(CHAIN_STEPS['ai.onnx']));

export function chainStep(domain: string, opType: string): ChainStep | undefined {
  const known = opDomain(domain);
  return known && Object.hasOwn(CHAIN_STEPS[known], opType) ? CHAIN_STEPS[known][opType] : undefined;
}

export function isChainOp(domain: string, opType: string): boolean {
  return chainStep(domain, opType) !== undefined;
}

/**
 * Ops a runtime folds when all their inputs are constants, so that a layer's weight may be their result (TensorRT and
 * ONNX Runtime constant folding): a masked weight (Mul, Where), reshapes, a fused weight joined or cut (Concat, Slice).
 * All in the default domain; sparsity/fold.ts evaluates them.
 */
export const FOLD_OPS = new Set(['Mul', 'Where', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Concat', 'Slice']);

/**
 * Default-domain ops that consume constants without carrying weights of their own: shapes, indices and data
 * movement on the way to another op (which then reports the weight as computed at run time). A constant these
 * consume is not counted as an unread weight.
 */
export const NOT_WEIGHT_BEARING = new Set([
  ...CHAIN_OPS,
  'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Concat', 'Split', 'Slice', 'Expand', 'Tile', 'Pad',
  'Shape', 'Size', 'ConstantOfShape', 'Range', 'Constant', 'Resize', 'Upsample',
]);

/** A constant counts as a weight of an unknown op only from this rank and element count (not a shape, scalar or bias). */
export const UNRECOGNIZED_MIN_RANK = 2;
export const UNRECOGNIZED_MIN_ELEMENTS = 16;

/** Hardware shape advice (domain.md §2): warnings on an eligible layer, not ineligibility. */
export const LARGE_CHANNELS = 256;
export const KERNEL_MULTIPLE = 16;
