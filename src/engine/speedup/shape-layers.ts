// Shape rules of the compute layers: convolutions, pools, matrix products, Einsum, and ONNX Runtime's contrib
// layers. Formulas follow the ONNX operator spec (https://onnx.ai/onnx/operators/), section "Outputs" of each op.
import {
  type Dim,
  FLOAT,
  INT32,
  type RuleContext,
  type RuleOutput,
  ShapeUnknown,
  attrInt,
  attrInts,
  attrString,
  broadcast,
  mergeDim,
  unknown,
} from './shape-core';

// ---------------------------------------------------------------------------
// Sliding windows (Conv, pools)

interface WindowOptions {
  /** Pools only: ceil instead of floor, dropping a last window that would start in the end padding. */
  ceilMode: boolean;
}

/** A per-spatial-axis INTS attribute of length `length`, or `fallback` filled in. */
function spatialInts(ctx: RuleContext, name: string, length: number, fallback: number): number[] {
  const values = attrInts(ctx.node, name);
  if (!values) return new Array<number>(length).fill(fallback);
  if (values.length !== length || values.some((v) => !Number.isSafeInteger(v))) {
    unknown(`attribute ${name} [${values.join(', ')}] does not give ${length} spatial values`);
  }
  return values;
}

/** Output spatial dims of a sliding window over `input` (spatial dims only) with `kernel`. */
function windowOutput(ctx: RuleContext, input: Dim[], kernel: Dim[], options: WindowOptions): Dim[] {
  const n = input.length;
  const strides = spatialInts(ctx, 'strides', n, 1);
  const dilations = spatialInts(ctx, 'dilations', n, 1);
  const pads = spatialInts(ctx, 'pads', 2 * n, 0);
  const autoPad = attrString(ctx.node, 'auto_pad', 'NOTSET');
  if (strides.some((s) => s < 1) || dilations.some((d) => d < 1) || pads.some((p) => p < 0)) {
    unknown(`strides [${strides}], dilations [${dilations}] or pads [${pads}] out of range`);
  }
  return input.map((size, i) => {
    const k = kernel[i];
    if (size === null || k === null) return null;
    const extent = dilations[i] * (k - 1) + 1;
    let out: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out = Math.ceil(size / strides[i]);
    else if (autoPad === 'VALID') out = Math.floor((size - extent) / strides[i]) + 1;
    else if (autoPad === 'NOTSET' || autoPad === '') {
      const span = size + pads[i] + pads[i + n] - extent;
      out = (options.ceilMode ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1;
      // ONNX (MaxPool spec) and PyTorch: a window that would start in the end padding is dropped.
      if (options.ceilMode && (out - 1) * strides[i] >= size + pads[i]) out--;
    } else unknown(`auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
    if (out < 1) unknown(`a window of ${extent} does not fit in spatial dim ${size} with pads [${pads}]`);
    return out;
  });
}

function convolution(ctx: RuleContext, x: number, w: number, elemType: number): RuleOutput {
  const input = ctx.shape(x).dims;
  const weight = ctx.shape(w).dims;
  if (input.length < 3) unknown(`input of rank ${input.length}: a convolution needs rank 3 or more`);
  if (weight.length !== input.length) unknown(`weight of rank ${weight.length} against input of rank ${input.length}`);
  const group = attrInt(ctx.node, 'group', 1);
  if (group < 1) unknown(`group ${group} is not positive`);
  const inChannels = weight[1] === null ? null : weight[1] * group;
  mergeDim(input[1], inChannels, 'input channels and weight channels × group');
  const kernel = attrInts(ctx.node, 'kernel_shape') ?? weight.slice(2);
  if (kernel.length !== input.length - 2) unknown(`kernel_shape [${kernel}] does not match ${input.length - 2} spatial dims`);
  return { dims: [input[0], weight[0], ...windowOutput(ctx, input.slice(2), kernel, { ceilMode: false })], elemType };
}

const conv = (ctx: RuleContext): RuleOutput[] => [convolution(ctx, 0, 1, ctx.shape(0).elemType)];
const convInteger = (ctx: RuleContext): RuleOutput[] => [convolution(ctx, 0, 1, INT32)];
// QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B; y has y_zero_point's type.
const qlinearConv = (ctx: RuleContext): RuleOutput[] => [convolution(ctx, 0, 3, ctx.shape(7).elemType)];

function convTranspose(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const weight = ctx.shape(1).dims;
  const x = input.dims;
  if (x.length < 3) unknown(`input of rank ${x.length}: a convolution needs rank 3 or more`);
  if (weight.length !== x.length) unknown(`weight of rank ${weight.length} against input of rank ${x.length}`);
  const n = x.length - 2;
  const group = attrInt(ctx.node, 'group', 1);
  if (group < 1) unknown(`group ${group} is not positive`);
  mergeDim(x[1], weight[0], 'input channels and weight dim 0');
  const kernel = attrInts(ctx.node, 'kernel_shape') ?? weight.slice(2);
  if (kernel.length !== n) unknown(`kernel_shape [${kernel}] does not match ${n} spatial dims`);
  const strides = spatialInts(ctx, 'strides', n, 1);
  const dilations = spatialInts(ctx, 'dilations', n, 1);
  const outputPadding = spatialInts(ctx, 'output_padding', n, 0);
  const pads = spatialInts(ctx, 'pads', 2 * n, 0);
  const autoPad = attrString(ctx.node, 'auto_pad', 'NOTSET');
  const outputShape = attrInts(ctx.node, 'output_shape');
  let spatial: Dim[];
  if (outputShape) {
    // The spec gives spatial dims only; a full-rank list (seen in the wild) ends with them.
    if (outputShape.length !== n && outputShape.length !== n + 2) unknown(`output_shape [${outputShape}] does not give ${n} spatial dims`);
    spatial = outputShape.slice(outputShape.length - n);
  } else {
    spatial = x.slice(2).map((size, i) => {
      const k = kernel[i];
      if (size === null || k === null) return null;
      const extent = (k - 1) * dilations[i] + 1;
      // SAME aims at size × stride, but pads cannot be negative: a kernel narrower than the stride gives less
      // (onnx/defs/nn/defs.cc, convTransposeShapeInference).
      const same = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER';
      const padTotal = same ? Math.max(extent - strides[i], 0) : autoPad === 'VALID' ? 0 : pads[i] + pads[i + n];
      const out = strides[i] * (size - 1) + outputPadding[i] + extent - padTotal;
      if (out < 1) unknown(`output spatial dim ${out} is not positive`);
      return out;
    });
  }
  const outChannels = weight[1] === null ? null : weight[1] * group;
  return [{ dims: [x[0], outChannels, ...spatial], elemType: input.elemType }];
}

// ---------------------------------------------------------------------------
// Pools

function pool(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const x = input.dims;
  if (x.length < 3) unknown(`input of rank ${x.length}: a pool needs rank 3 or more`);
  const kernel = attrInts(ctx.node, 'kernel_shape');
  if (!kernel) unknown('attribute kernel_shape is missing');
  if (kernel.length !== x.length - 2 || kernel.some((k) => !Number.isSafeInteger(k) || k < 1)) {
    unknown(`kernel_shape [${kernel}] does not match ${x.length - 2} spatial dims`);
  }
  const ceilMode = attrInt(ctx.node, 'ceil_mode', 0) !== 0;
  const dims = [x[0], x[1], ...windowOutput(ctx, x.slice(2), kernel, { ceilMode })];
  // MaxPool's optional second output: the flat indices of the maxima.
  return [{ dims, elemType: input.elemType }, { dims, elemType: 7 }];
}

function globalPool(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  if (input.dims.length < 3) unknown(`input of rank ${input.dims.length}: a pool needs rank 3 or more`);
  return [{ dims: [input.dims[0], input.dims[1], ...input.dims.slice(2).map(() => 1)], elemType: input.elemType }];
}

// ---------------------------------------------------------------------------
// Matrix products

/** numpy.matmul: batch dims broadcast, a 1-D operand gains and then loses a unit dim. */
export function matmulDims(a: Dim[], b: Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) unknown('a MatMul operand is a scalar');
  const left = a.length === 1 ? [1, a[0]] : a;
  const right = b.length === 1 ? [b[0], 1] : b;
  mergeDim(left[left.length - 1], right[right.length - 2], 'inner dims of the product');
  const dims = broadcast([left.slice(0, -2), right.slice(0, -2)]);
  if (a.length > 1) dims.push(left[left.length - 2]);
  if (b.length > 1) dims.push(right[right.length - 1]);
  return dims;
}

const matmul = (ctx: RuleContext): RuleOutput[] => [{ dims: matmulDims(ctx.shape(0).dims, ctx.shape(1).dims), elemType: ctx.shape(0).elemType }];
const matmulInteger = (ctx: RuleContext): RuleOutput[] => [{ dims: matmulDims(ctx.shape(0).dims, ctx.shape(1).dims), elemType: INT32 }];
// QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
const qlinearMatmul = (ctx: RuleContext): RuleOutput[] => [{ dims: matmulDims(ctx.shape(0).dims, ctx.shape(3).dims), elemType: ctx.shape(7).elemType }];

function gemm(ctx: RuleContext): RuleOutput[] {
  const a = ctx.shape(0);
  const b = ctx.shape(1).dims;
  if (a.dims.length !== 2 || b.length !== 2) unknown(`Gemm needs 2-D A and B, got ranks ${a.dims.length} and ${b.length}`);
  const [m, kA] = attrInt(ctx.node, 'transA', 0) ? [a.dims[1], a.dims[0]] : [a.dims[0], a.dims[1]];
  const [kB, n] = attrInt(ctx.node, 'transB', 0) ? [b[1], b[0]] : [b[0], b[1]];
  mergeDim(kA, kB, 'inner dims of A and B');
  return [{ dims: [m, n], elemType: a.elemType }];
}

// ---------------------------------------------------------------------------
// ONNX Runtime's contrib layers (com.microsoft). Inputs and outputs follow its contrib operator spec
// (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md).

/** The type of input i when it is given and known, else `fallback`. */
function typeOr(ctx: RuleContext, i: number, fallback: number): number {
  if (!ctx.has(i)) return fallback;
  try {
    return ctx.shape(i).elemType || fallback;
  } catch (e) {
    if (e instanceof ShapeUnknown) return fallback; // a scale or zero point of unknown shape still says nothing of Y's dims
    throw e;
  }
}

/** A and B of a Gemm-like op at inputs `a` and `b`, with transA/transB: [M, N]. */
function gemmOutput(ctx: RuleContext, a: number, b: number): Dim[] {
  const left = ctx.shape(a).dims;
  const right = ctx.shape(b).dims;
  if (left.length !== 2 || right.length !== 2) unknown(`${ctx.node.opType} needs 2-D A and B, got ranks ${left.length} and ${right.length}`);
  const [m, kA] = attrInt(ctx.node, 'transA', 0) ? [left[1], left[0]] : [left[0], left[1]];
  const [kB, n] = attrInt(ctx.node, 'transB', 0) ? [right[1], right[0]] : [right[0], right[1]];
  mergeDim(kA, kB, 'inner dims of A and B');
  return [m, n];
}

// QGemm: A, a_scale, a_zero_point, B, b_scale, b_zero_point, C, y_scale, y_zero_point. "TR: float32 or 8-bit":
// Y has y_zero_point's type when it is given, float otherwise.
const qgemm = (ctx: RuleContext): RuleOutput[] => [{ dims: gemmOutput(ctx, 0, 3), elemType: typeOr(ctx, 8, FLOAT) }];
// GemmFloat8: A, B, C, scaleA, scaleB, scaleY; "Y: Output tensor of shape (M, N)", of the type attribute dtype
// gives ("same definition as attribute 'to' for operator Cast"); without it, float is assumed.
const gemmFloat8 = (ctx: RuleContext): RuleOutput[] => [{ dims: gemmOutput(ctx, 0, 1), elemType: attrInt(ctx.node, 'dtype', FLOAT) }];
// DynamicQuantizeMatMul: A (float, quantized at run time), B, b_scale, b_zero_point, bias; Y is float.
const dynamicQuantizeMatmul = (ctx: RuleContext): RuleOutput[] => [{ dims: matmulDims(ctx.shape(0).dims, ctx.shape(1).dims), elemType: typeOr(ctx, 2, FLOAT) }];
// MatMulIntegerToFloat: A, B, a_scale, b_scale, ...; "T3: a_scale, b_scale and output Y" share one float type.
const matmulIntegerToFloat = (ctx: RuleContext): RuleOutput[] => [{ dims: matmulDims(ctx.shape(0).dims, ctx.shape(1).dims), elemType: typeOr(ctx, 2, FLOAT) }];

/** FusedMatMul: MatMul with the last two dims of A and/or B transposed (transA/transB), times alpha. */
function fusedMatmul(ctx: RuleContext): RuleOutput[] {
  if (attrInt(ctx.node, 'transBatchA', 0) || attrInt(ctx.node, 'transBatchB', 0)) unknown('transBatchA/transBatchB move batch axes: not inferred by this version');
  const swapLast = (dims: Dim[], on: boolean): Dim[] => (on && dims.length >= 2 ? [...dims.slice(0, -2), dims[dims.length - 1], dims[dims.length - 2]] : dims);
  const a = ctx.shape(0);
  const dims = matmulDims(swapLast(a.dims, attrInt(ctx.node, 'transA', 0) !== 0), swapLast(ctx.shape(1).dims, attrInt(ctx.node, 'transB', 0) !== 0));
  return [{ dims, elemType: a.elemType }];
}

/**
 * Attention / QAttention: input [batch, seq, input_hidden] times weights [input_hidden, 3 * hidden] (Q, K and V side
 * by side; Attention's qkv_hidden_sizes may make them unequal), output [batch, seq, v_hidden]. `outputType` is the
 * input that carries the float output's type (Attention: the input itself; QAttention: bias, input 2).
 */
function attention(outputType: number): (ctx: RuleContext) => RuleOutput[] {
  return (ctx) => {
    const input = ctx.shape(0).dims;
    const weights = ctx.shape(1).dims;
    if (input.length !== 3 || weights.length !== 2) unknown(`${ctx.node.opType} needs input [batch, seq, hidden] and 2-D weights, got ranks ${input.length} and ${weights.length}`);
    mergeDim(input[2], weights[0], 'input hidden size and weights dim 0');
    const sizes = attrInts(ctx.node, 'qkv_hidden_sizes');
    if (sizes && (sizes.length !== 3 || sizes.some((s) => !Number.isSafeInteger(s) || s < 1))) unknown(`qkv_hidden_sizes [${sizes}] is not three positive sizes`);
    const total = weights[1];
    if (!sizes && total !== null && total % 3 !== 0) unknown(`weights dim 1 (${total}) is not 3 x hidden size`);
    if (sizes) mergeDim(total, sizes[0] + sizes[1] + sizes[2], 'weights dim 1 and the sum of qkv_hidden_sizes');
    const vHidden = sizes ? sizes[2] : total === null ? null : total / 3;
    const outputs: RuleOutput[] = [{ dims: [input[0], input[1], vHidden], elemType: typeOr(ctx, outputType, FLOAT) }];
    // present (K and V caches) is not a layer's concern: its shape is left unknown rather than guessed.
    if (ctx.node.outputs.length > 1) outputs.push({ unknown: `${ctx.node.opType}'s present (the K/V cache) is not inferred by this version` });
    return outputs;
  };
}

/** MatMulNBits: A [..., K] times B (N x K, packed codes) gives [..., N] in A's type; K and N are attributes. */
function matmulNBits(ctx: RuleContext): RuleOutput[] {
  const a = ctx.shape(0);
  const K = attrInt(ctx.node, 'K', -1);
  const N = attrInt(ctx.node, 'N', -1);
  if (K < 1 || N < 1) unknown(`attributes K (${K}) and N (${N}) must both be given and positive`);
  if (a.dims.length === 0) unknown('A is a scalar');
  mergeDim(a.dims[a.dims.length - 1], K, "A's last dim and attribute K");
  return [{ dims: [...a.dims.slice(0, -1), N], elemType: a.elemType }];
}

/**
 * MatMulBlockQuantizedFp8Weight / Fp4Weight: A [..., K] times the transpose of B ([N, K] FP8, or [N, K/2] packed
 * FP4 bytes: "K = 2 * B.shape[1]"): "The output has shape [..., N] and the same element type as A".
 */
function blockQuantizedWeight(packedPerByte: number): (ctx: RuleContext) => RuleOutput[] {
  return (ctx) => {
    const a = ctx.shape(0);
    const b = ctx.shape(1).dims;
    if (a.dims.length === 0 || b.length !== 2) unknown(`${ctx.node.opType} needs A [..., K] and a 2-D B, got ranks ${a.dims.length} and ${b.length}`);
    mergeDim(a.dims[a.dims.length - 1], b[1] === null ? null : b[1] * packedPerByte, "A's last dim and B's K");
    return [{ dims: [...a.dims.slice(0, -1), b[0]], elemType: a.elemType }];
  };
}

/** Contrib layers by op type: used for the com.microsoft domain only (see ruleFor in shape-rules.ts). */
export const CONTRIB_LAYER_RULES = {
  QGemm: qgemm,
  GemmFloat8: gemmFloat8,
  DynamicQuantizeMatMul: dynamicQuantizeMatmul,
  MatMulIntegerToFloat: matmulIntegerToFloat,
  FusedMatMul: fusedMatmul,
  Attention: attention(0),
  QAttention: attention(2),
  MatMulNBits: matmulNBits,
  MatMulBlockQuantizedFp8Weight: blockQuantizedWeight(1),
  MatMulBlockQuantizedFp4Weight: blockQuantizedWeight(2),
};

// ---------------------------------------------------------------------------
// Einsum

/** One term of an Einsum equation: letters before and after an optional '...'. */
function parseTerm(term: string): { before: string[]; after: string[]; ellipsis: boolean } {
  const parts = term.split('...');
  if (parts.length > 2) unknown(`term '${term}' has more than one ellipsis`);
  const [before, after = ''] = parts;
  if (!/^[a-zA-Z]*$/.test(before) || !/^[a-zA-Z]*$/.test(after)) unknown(`term '${term}' holds characters other than letters and '...'`);
  return { before: [...before], after: [...after], ellipsis: parts.length === 2 };
}

/** numpy.einsum's output shape: letters take their operand dims, '...' broadcasts, implicit outputs sort the single letters. */
function einsum(ctx: RuleContext): RuleOutput[] {
  const equation = attrString(ctx.node, 'equation', '').replace(/\s/g, '');
  const sides = equation.split('->');
  if (sides.length > 2 || equation === '') unknown(`equation '${equation}' is not an Einsum equation`);
  const terms = sides[0].split(',').map(parseTerm);
  if (terms.length !== ctx.node.inputs.length) unknown(`equation '${equation}' names ${terms.length} operands, the node has ${ctx.node.inputs.length}`);
  const letterDims = new Map<string, Dim>();
  const seen = new Map<string, number>();
  let ellipsisDims: Dim[] = [];
  terms.forEach((term, i) => {
    const dims = ctx.shape(i).dims;
    const named = term.before.length + term.after.length;
    if (term.ellipsis ? dims.length < named : dims.length !== named) unknown(`operand ${i} has rank ${dims.length}, term ${i} names ${named} dims`);
    const tail = dims.length - term.after.length;
    const bind = (letter: string, d: Dim) => {
      seen.set(letter, (seen.get(letter) ?? 0) + 1);
      const before = letterDims.get(letter);
      // A size-1 dim broadcasts against the letter's other sizes, as in numpy.
      letterDims.set(letter, before === undefined || before === 1 ? d : d === 1 ? before : mergeDim(before, d, `dims of '${letter}'`));
    };
    term.before.forEach((letter, j) => bind(letter, dims[j]));
    term.after.forEach((letter, j) => bind(letter, dims[tail + j]));
    if (term.ellipsis) ellipsisDims = broadcast([ellipsisDims, dims.slice(term.before.length, tail)]);
  });
  let output: { before: string[]; after: string[]; ellipsis: boolean };
  if (sides.length === 2) output = parseTerm(sides[1]);
  else {
    const single = [...seen.keys()].filter((l) => seen.get(l) === 1).sort();
    output = { before: [], after: single, ellipsis: terms.some((t) => t.ellipsis) };
  }
  const letterDim = (letter: string): Dim => {
    const d = letterDims.get(letter);
    if (d === undefined) unknown(`output letter '${letter}' appears in no operand`);
    return d;
  };
  const dims = [...output.before.map(letterDim), ...(output.ellipsis ? ellipsisDims : []), ...output.after.map(letterDim)];
  return [{ dims, elemType: ctx.shape(0).elemType }];
}

export const LAYER_RULES = {
  Conv: conv,
  ConvInteger: convInteger,
  QLinearConv: qlinearConv,
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  LpPool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  MatMul: matmul,
  MatMulInteger: matmulInteger,
  QLinearMatMul: qlinearMatmul,
  Gemm: gemm,
  Einsum: einsum,
};

