// Shape rules of the compute layers: convolutions, pools, matrix products, Einsum. Formulas follow the ONNX
// operator spec (https://onnx.ai/onnx/operators/), section "Outputs" of each op.
import {
  type Dim,
  INT32,
  type RuleContext,
  type RuleOutput,
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

