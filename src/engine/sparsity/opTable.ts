// Which input of which op is a weight, and which axis of it is the reduction axis K (domain.md §2).
// Kept as data in one place, as Polygraphy's sparsity tool does. An op is looked up by domain and type:
// standard ops only in '' / 'ai.onnx', ONNX Runtime's contrib ops only in 'com.microsoft' (its
// docs/ContribOperators.md; the quoted input names and shapes below are that spec's wording).

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
}

export interface OpRule {
  /** Slots in priority order: MatMul's constant B is the weight when both operands are constant. */
  slots: WeightSlot[];
  convolution: boolean;
  /** Both operands may be activations (attention products): with no constant operand the node is no layer at all. */
  activationProduct: boolean;
}

/** The domains this table knows: '' and 'ai.onnx' are the same (ONNX's default domain). */
export type OpDomain = 'ai.onnx' | 'com.microsoft';

export function opDomain(domain: string): OpDomain | undefined {
  if (domain === '' || domain === 'ai.onnx') return 'ai.onnx';
  if (domain === 'com.microsoft') return 'com.microsoft';
  return undefined;
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
};

export function unacceleratedFor(domain: string, opType: string): UnacceleratedOp | undefined {
  const known = opDomain(domain);
  return known ? UNACCELERATED_OPS[known][opType] : undefined;
}

/** Ops a weight may pass through between its constant and the layer (domain.md §2), all in the default domain. */
export const CHAIN_OPS = new Set(['DequantizeLinear', 'QuantizeLinear', 'Cast', 'Identity', 'Transpose']);
/** ONNX Runtime's contrib Q/DQ (same inputs and meaning as the standard ones) may sit in a chain too. */
const CONTRIB_CHAIN_OPS = new Set(['DequantizeLinear', 'QuantizeLinear']);

export function isChainOp(domain: string, opType: string): boolean {
  const known = opDomain(domain);
  return known === 'ai.onnx' ? CHAIN_OPS.has(opType) : known === 'com.microsoft' && CONTRIB_CHAIN_OPS.has(opType);
}

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
