// Which input of which op is a weight, and which axis of it is the reduction axis K (domain.md §2).
// Kept as data in one place, as Polygraphy's sparsity tool does.

export interface WeightSlot {
  /** Input index of the weight. */
  input: number;
  /** Which operand it is: B (the usual weight), A (a constant left operand), W (a convolution kernel). */
  role: 'A' | 'B' | 'W';
  /** Input index of the op's own zero point for this weight (integer ops). */
  zeroPointInput?: number;
  /** K axis and output-feature axis of a weight of rank `rank`, given the node's attributes. */
  axes(rank: number, attr: (name: string) => number | undefined): { k: number; r: number };
}

export interface OpRule {
  /** Slots in priority order: MatMul's constant B is the weight when both operands are constant. */
  slots: WeightSlot[];
  convolution: boolean;
}

const conv = (input: number, zeroPointInput?: number): OpRule => ({
  slots: [{ input, role: 'W', zeroPointInput, axes: () => ({ k: 1, r: 0 }) }],
  convolution: true,
});

const matmul = (b: number, bZp: number | undefined, a: number, aZp: number | undefined): OpRule => ({
  slots: [
    { input: b, role: 'B', zeroPointInput: bZp, axes: (rank) => ({ k: rank - 2, r: rank - 1 }) },
    { input: a, role: 'A', zeroPointInput: aZp, axes: (rank) => ({ k: rank - 1, r: rank - 2 }) },
  ],
  convolution: false,
});

export const OP_RULES: Record<string, OpRule> = {
  Conv: conv(1),
  ConvInteger: conv(1, 3),
  QLinearConv: conv(3, 5),
  MatMul: matmul(1, undefined, 0, undefined),
  MatMulInteger: matmul(1, 3, 0, 2),
  QLinearMatMul: matmul(3, 5, 0, 2),
  Gemm: {
    slots: [
      { input: 1, role: 'B', axes: (_rank, attr) => (attr('transB') ? { k: 1, r: 0 } : { k: 0, r: 1 }) },
      { input: 0, role: 'A', axes: (_rank, attr) => (attr('transA') ? { k: 0, r: 1 } : { k: 1, r: 0 }) },
    ],
    convolution: false,
  },
};

/** Ops that take constant weights but that no mainstream runtime accelerates with N:M sparsity: listed, not hidden. */
export const UNACCELERATED_WEIGHT_INPUTS: Record<string, number[]> = {
  ConvTranspose: [1],
  DeformConv: [1],
  LSTM: [1, 2],
  GRU: [1, 2],
  RNN: [1, 2],
  Einsum: [0, 1],
};

/** Ops a weight may pass through between its constant and the layer (domain.md §2). */
export const CHAIN_OPS = new Set(['DequantizeLinear', 'QuantizeLinear', 'Cast', 'Identity', 'Transpose']);

/** Hardware shape advice (domain.md §2): warnings on an eligible layer, not ineligibility. */
export const LARGE_CHANNELS = 256;
export const KERNEL_MULTIPLE = 16;
