// Shape rules of every op the speedup projection knows, as one table from op type to rule (the layers'
// rules live in shape-layers.ts). Each follows the ONNX operator spec (https://onnx.ai/onnx/operators/);
// ops that carry shape arithmetic (Shape, Gather, Concat, Unsqueeze, Slice, Cast...) also compute small values,
// so a Reshape whose target is built from Shape → Gather → Unsqueeze → Concat still gets its shape.
import type { NodeSkeleton } from '../onnx/skeleton';
import {
  BOOL,
  type ConstValue,
  type Dim,
  FLOAT,
  INT64,
  type KnownOutput,
  MAX_VALUE_ELEMENTS,
  STRING,
  type RuleContext,
  type RuleOutput,
  type ShapeRule,
  ShapeUnknown,
  UINT8,
  attrFloats,
  attrInt,
  attrInts,
  attrString,
  broadcast,
  inputName,
  intsFrom,
  isIntegerType,
  isKnown,
  knownInts,
  mapValues,
  mergeDim,
  normalizeAxes,
  normalizeAxis,
  product,
  reshapeValue,
  unknown,
} from './shape-core';
import { CONTRIB_LAYER_RULES, LAYER_RULES } from './shape-layers';
import { ascendAsOriginal, ascendWeightDims, isCompressOp } from './ascendOps';

/** The element type of input i, 0 when not known (types are a detail: a missing one never blocks a shape). */
function typeOf(ctx: RuleContext, i: number): number {
  try {
    return ctx.has(i) ? ctx.shape(i).elemType : 0;
  } catch (err) {
    if (err instanceof ShapeUnknown) return 0;
    throw err;
  }
}

/** Input 0 passed through: same dims, same type (or `elemType`). */
function same(ctx: RuleContext, elemType?: number): KnownOutput {
  const input = ctx.shape(0);
  return { dims: input.dims, elemType: elemType ?? input.elemType };
}

/** All inputs' values, or undefined when one is missing. */
function allValues(ctx: RuleContext): ConstValue[] | undefined {
  const values: ConstValue[] = [];
  for (let i = 0; i < ctx.node.inputs.length; i++) {
    const v = ctx.value(i);
    if (!v) return undefined;
    values.push(v);
  }
  return values;
}

// ---------------------------------------------------------------------------
// Elementwise

const unary: ShapeRule = (ctx) => [same(ctx)];

/** Unary ops cheap enough to apply to tracked values too. */
function unaryValue(fn: (x: number) => number): ShapeRule {
  return (ctx) => {
    const out = same(ctx);
    const v = ctx.value(0);
    if (v) out.value = { dims: v.dims, data: v.data.map((x) => (x === null ? null : fn(x))) };
    return [out];
  };
}

const toBool: ShapeRule = (ctx) => [same(ctx, BOOL)];

function cast(ctx: RuleContext): RuleOutput[] {
  const to = attrInt(ctx.node, 'to', 0);
  if (to === 0) unknown('attribute to is missing');
  const out = same(ctx, to);
  const v = ctx.value(0);
  if (v && to !== STRING) {
    const convert = to === BOOL ? (x: number) => (x !== 0 ? 1 : 0) : isIntegerType(to) ? Math.trunc : (x: number) => x;
    out.value = { dims: v.dims, data: v.data.map((x) => (x === null ? null : convert(x))) };
  }
  return [out];
}

const castLike: ShapeRule = (ctx) => [same(ctx, typeOf(ctx, 1))];

/** Integer division truncates toward zero (as ONNX Runtime's C++ does); by zero it is not known. */
function divide(a: number, b: number, integer: boolean): number | null {
  if (integer) return b === 0 ? null : Math.trunc(a / b);
  return a / b;
}

/** Broadcasting ops over all their inputs; `fn` computes tracked values, `elemType` overrides the output type. */
function broadcasting(fn?: (args: number[], integer: boolean, node: NodeSkeleton) => number | null, elemType?: (ctx: RuleContext) => number): ShapeRule {
  return (ctx) => {
    const shapes = ctx.node.inputs.map((_, i) => ctx.shape(i));
    const dims = broadcast(shapes.map((s) => s.dims));
    const type = elemType ? elemType(ctx) : shapes[0]?.elemType ?? 0;
    const out: KnownOutput = { dims, elemType: type };
    if (fn && isKnown(dims)) {
      const values = allValues(ctx);
      const integer = isIntegerType(shapes[0]?.elemType ?? 0);
      const computed = values && mapValues(values, dims, (args) => fn(args, integer, ctx.node));
      if (computed) out.value = computed;
    }
    return [out];
  };
}

const bool = () => BOOL;
const flag = (b: boolean) => (b ? 1 : 0);

const where = broadcasting(([c, x, y]) => (c ? x : y), (ctx) => typeOf(ctx, 1));

// ---------------------------------------------------------------------------
// Quantization and normalization

function quantizeLinear(ctx: RuleContext): RuleOutput[] {
  // y has the zero point's type, uint8 without one; opset 21 may name it in output_dtype.
  const declared = attrInt(ctx.node, 'output_dtype', 0);
  return [same(ctx, declared || (ctx.has(2) ? typeOf(ctx, 2) : UINT8))];
}

function dequantizeLinear(ctx: RuleContext): RuleOutput[] {
  return [same(ctx, attrInt(ctx.node, 'output_dtype', 0) || typeOf(ctx, 1) || FLOAT)];
}

// y, y_scale (a scalar), y_zero_point (a scalar).
const dynamicQuantizeLinear: ShapeRule = (ctx) => [same(ctx, UINT8), { dims: [], elemType: FLOAT }, { dims: [], elemType: UINT8 }];

function batchNormalization(ctx: RuleContext): RuleOutput[] {
  const out: RuleOutput[] = [same(ctx)];
  // Training mode: running (or saved) mean and variance, one per channel, shaped like scale.
  const perChannel: RuleOutput = ctx.has(1) ? ctx.shape(1) : { unknown: 'scale is missing' };
  for (let i = 1; i < ctx.node.outputs.length; i++) out.push(perChannel);
  return out;
}

function layerNormalization(ctx: RuleContext): RuleOutput[] {
  const x = ctx.shape(0);
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), x.dims.length);
  // Mean and InvStdDev keep the leading dims and reduce the normalized ones to 1, in stash_type.
  const stats = { dims: x.dims.map((d, i) => (i < axis ? d : 1)), elemType: attrInt(ctx.node, 'stash_type', FLOAT) };
  return [same(ctx), stats, stats];
}

// ---------------------------------------------------------------------------
// Shape manipulation

function reshape(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const x = input.dims;
  let target: Dim[];
  const fromAttr = attrInts(ctx.node, 'shape'); // Reshape-1 to -4
  if (fromAttr) target = fromAttr;
  else {
    const v = ctx.value(1);
    if (!v) unknown(`the target shape '${inputName(ctx, 1)}' is neither a constant nor computed from known shapes`);
    if (v.dims.length !== 1) unknown(`the target shape '${inputName(ctx, 1)}' has rank ${v.dims.length}, not 1`);
    target = v.data;
  }
  const allowZero = attrInt(ctx.node, 'allowzero', 0) !== 0;
  const dims: Dim[] = target.map((d, i) => {
    if (d === 0 && !allowZero) {
      if (i >= x.length) unknown(`target ${i} is 0 (copy) but the input has rank ${x.length}`);
      return x[i];
    }
    if (d !== null && (d < -1 || !Number.isInteger(d))) unknown(`target shape [${target}] holds ${d}`);
    return d;
  });
  const inferred = dims.indexOf(-1);
  if (inferred !== dims.lastIndexOf(-1)) unknown(`target shape [${target}] holds -1 more than once`);
  const total = product(x);
  if (inferred >= 0) {
    const rest = product(dims.filter((_, i) => i !== inferred));
    if (total === null || rest === null) dims[inferred] = null;
    else if (rest === 0 || total % rest !== 0) unknown(`${total} elements do not reshape to [${target}]`);
    else dims[inferred] = total / rest;
  }
  const count = product(dims);
  if (total !== null && count !== null && total !== count) unknown(`${total} elements do not reshape to [${dims}]`);
  return [{ dims, elemType: input.elemType, value: reshapeValue(ctx.value(0), dims) }];
}

function flatten(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const rank = input.dims.length;
  let axis = attrInt(ctx.node, 'axis', 1);
  if (axis < -rank || axis > rank) unknown(`axis ${axis} is out of range for rank ${rank}`);
  if (axis < 0) axis += rank;
  const dims = [product(input.dims.slice(0, axis)), product(input.dims.slice(axis))];
  return [{ dims, elemType: input.elemType, value: reshapeValue(ctx.value(0), dims) }];
}

function transpose(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const rank = input.dims.length;
  const perm = attrInts(ctx.node, 'perm') ?? input.dims.map((_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    unknown(`perm [${perm}] is not a permutation of ${rank} axes`);
  }
  return [{ dims: perm.map((p) => input.dims[p]), elemType: input.elemType }];
}

function squeeze(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const x = input.dims;
  const given = intsFrom(ctx, 'axes', 1, 'axes'); // an attribute before opset 13, an input since
  let axes: number[];
  if (given) {
    axes = normalizeAxes(given, x.length);
    for (const a of axes) if (x[a] !== null && x[a] !== 1) unknown(`axis ${a} has size ${x[a]}, not 1`);
  } else {
    if (!isKnown(x)) unknown('no axes given and which dims are 1 is not known');
    axes = x.flatMap((d, i) => (d === 1 ? [i] : []));
  }
  const dims = x.filter((_, i) => !axes.includes(i));
  return [{ dims, elemType: input.elemType, value: reshapeValue(ctx.value(0), dims) }];
}

function unsqueeze(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const given = intsFrom(ctx, 'axes', 1, 'axes');
  if (!given) unknown('axes are missing');
  const rank = input.dims.length + given.length;
  const axes = normalizeAxes(given, rank);
  const rest = [...input.dims];
  const dims = Array.from({ length: rank }, (_, i) => (axes.includes(i) ? 1 : (rest.shift() as Dim)));
  return [{ dims, elemType: input.elemType, value: reshapeValue(ctx.value(0), dims) }];
}

function concat(ctx: RuleContext): RuleOutput[] {
  const shapes = ctx.node.inputs.map((_, i) => ctx.shape(i));
  if (shapes.length === 0) unknown('no inputs');
  const rank = shapes[0].dims.length;
  if (shapes.some((s) => s.dims.length !== rank)) unknown(`inputs of ranks ${shapes.map((s) => s.dims.length).join(', ')}`);
  if (!ctx.node.attributes.has('axis')) unknown('attribute axis is missing');
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), rank);
  const dims = shapes[0].dims.map((_, a) =>
    a === axis ? sumDims(shapes.map((s) => s.dims[a])) : shapes.reduce<Dim>((d, s) => mergeDim(d, s.dims[a], `dim ${a} of the inputs`), null),
  );
  const out: KnownOutput = { dims, elemType: shapes[0].elemType };
  if (rank === 1) {
    const values = allValues(ctx);
    if (values) out.value = { dims: [values.reduce((n, v) => n + v.data.length, 0)], data: values.flatMap((v) => v.data) };
  }
  return [out];
}

function sumDims(dims: Dim[]): Dim {
  let n = 0;
  for (const d of dims) {
    if (d === null) return null;
    n += d;
  }
  return n;
}

function split(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), input.dims.length);
  const size = input.dims[axis];
  const outputs = ctx.node.outputs.length;
  let sizes: Dim[];
  const given = intsFrom(ctx, 'split', 1, 'split'); // an attribute before opset 13, an input since
  if (given && given.length > 0) {
    if (given.length !== outputs) unknown(`split [${given}] gives ${given.length} parts for ${outputs} outputs`);
    if (size !== null && given.reduce((a, b) => a + b, 0) !== size) unknown(`split [${given}] does not add up to ${size}`);
    sizes = given;
  } else {
    const parts = attrInt(ctx.node, 'num_outputs', outputs);
    if (parts !== outputs || parts < 1) unknown(`num_outputs ${parts} for ${outputs} outputs`);
    if (size === null) sizes = new Array<Dim>(parts).fill(null);
    else {
      // Opset 18: parts of ceil(size / n), the last one smaller; before, the dim must divide evenly.
      const chunk = Math.ceil(size / parts);
      if (ctx.node.attributes.has('num_outputs') ? size - chunk * (parts - 1) < 0 : size % parts !== 0) unknown(`dim ${size} does not split into ${parts} parts`);
      sizes = Array.from({ length: parts }, (_, i) => (i < parts - 1 ? chunk : size - chunk * (parts - 1)));
    }
  }
  return sizes.map((s) => ({ dims: input.dims.map((d, a) => (a === axis ? s : d)), elemType: input.elemType }));
}

/** Which elements of an axis of `size` a Slice keeps (https://onnx.ai/onnx/operators/onnx__Slice.html). */
export function sliceRange(size: number, start: number, end: number, step: number): { first: number; count: number } {
  if (step === 0 || Number.isNaN(step)) unknown(`step ${step} is not a usable step`);
  if (Number.isNaN(start)) unknown('a start beyond ±2^53 is not readable from an attribute');
  // Attribute ints beyond 2^53 read as NaN: an end that far means "to the far end" in the step's direction.
  if (Number.isNaN(end)) end = step > 0 ? Infinity : -Infinity;
  if (start < 0) start += size;
  if (end < 0) end += size;
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  if (step > 0) {
    start = clamp(start, 0, size);
    end = clamp(end, 0, size);
    return { first: start, count: Math.max(0, Math.ceil((end - start) / step)) };
  }
  start = clamp(start, 0, size - 1);
  end = clamp(end, -1, size - 1);
  return { first: start, count: Math.max(0, Math.ceil((start - end) / -step)) };
}

function slice(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const rank = input.dims.length;
  const fromAttrs = ctx.node.attributes.has('starts'); // Slice-1: attributes; since opset 10: inputs
  const starts = fromAttrs ? attrInts(ctx.node, 'starts') ?? [] : knownInts(ctx, 1, 'starts');
  const ends = fromAttrs ? attrInts(ctx.node, 'ends') ?? [] : knownInts(ctx, 2, 'ends');
  const axesGiven = fromAttrs ? attrInts(ctx.node, 'axes') : ctx.has(3) ? knownInts(ctx, 3, 'axes') : undefined;
  const steps = !fromAttrs && ctx.has(4) ? knownInts(ctx, 4, 'steps') : starts.map(() => 1);
  const axes = normalizeAxes(axesGiven ?? starts.map((_, i) => i), rank);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    unknown(`starts, ends, axes and steps have ${starts.length}, ${ends.length}, ${axes.length} and ${steps.length} entries`);
  }
  const dims = [...input.dims];
  const ranges = new Map<number, { first: number; step: number }>();
  axes.forEach((axis, i) => {
    const size = input.dims[axis];
    if (size === null) return; // an unknown dim stays unknown
    const { first, count } = sliceRange(size, starts[i], ends[i], steps[i]);
    dims[axis] = count;
    ranges.set(axis, { first, step: steps[i] });
  });
  const out: KnownOutput = { dims, elemType: input.elemType };
  const v = ctx.value(0);
  const range = ranges.get(0);
  if (v && rank === 1 && dims[0] !== null) {
    out.value = { dims: [dims[0]], data: Array.from({ length: dims[0] }, (_, i) => (range ? v.data[range.first + i * range.step] : v.data[i])) };
  }
  return [out];
}

function gather(ctx: RuleContext): RuleOutput[] {
  const data = ctx.shape(0);
  const indices = ctx.shape(1).dims;
  const rank = data.dims.length;
  if (rank === 0) unknown('data is a scalar');
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), rank);
  const dims = [...data.dims.slice(0, axis), ...indices, ...data.dims.slice(axis + 1)];
  const out: KnownOutput = { dims, elemType: data.elemType };
  // Shape → Gather: picking dims out of a tracked shape.
  const values = ctx.value(0);
  const picks = ctx.value(1);
  if (values && picks && rank === 1 && isKnown(picks.data)) {
    const size = values.data.length;
    if (picks.data.some((i) => i < -size || i >= size)) unknown(`indices [${picks.data}] out of range for ${size} values`);
    out.value = { dims: picks.dims, data: picks.data.map((i) => values.data[i < 0 ? i + size : i]) };
  }
  return [out];
}

const gatherElements: ShapeRule = (ctx) => [{ dims: ctx.shape(1).dims, elemType: ctx.shape(0).elemType }];

function gatherND(ctx: RuleContext): RuleOutput[] {
  const data = ctx.shape(0);
  const indices = ctx.shape(1).dims;
  const batchDims = attrInt(ctx.node, 'batch_dims', 0);
  const last = indices[indices.length - 1];
  if (last === undefined || last === null) unknown('the last dim of indices is not known');
  if (batchDims + last > data.dims.length) unknown(`indices address ${batchDims + last} dims of a rank-${data.dims.length} tensor`);
  return [{ dims: [...indices.slice(0, -1), ...data.dims.slice(batchDims + last)], elemType: data.elemType }];
}

/** The dims held in the value of input i (Expand, ConstantOfShape): sizes, or null where not known. */
function dimsFromValue(ctx: RuleContext, i: number): Dim[] {
  const target = ctx.value(i);
  if (!target) unknown(`the shape '${inputName(ctx, i)}' is neither a constant nor computed from known shapes`);
  if (target.dims.length !== 1) unknown(`the shape '${inputName(ctx, i)}' has rank ${target.dims.length}, not 1`);
  const bad = target.data.find((d) => d !== null && !(Number.isSafeInteger(d) && d >= 0));
  if (bad !== undefined) unknown(`the shape '${inputName(ctx, i)}' holds ${bad}`);
  return target.data;
}

function expand(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const dims = broadcast([input.dims, dimsFromValue(ctx, 1)]);
  const out: KnownOutput = { dims, elemType: input.elemType };
  const v = ctx.value(0);
  if (v && isKnown(dims)) out.value = mapValues([v], dims, ([x]) => x);
  return [out];
}

function tile(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const repeats = knownInts(ctx, 1, 'repeats');
  if (repeats.length !== input.dims.length) unknown(`${repeats.length} repeats for rank ${input.dims.length}`);
  return [{ dims: input.dims.map((d, i) => (d === null ? null : d * repeats[i])), elemType: input.elemType }];
}

function pad(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const rank = input.dims.length;
  const pads = intsFrom(ctx, 'pads', 1, 'pads') ?? attrInts(ctx.node, 'paddings'); // Pad-1 called them paddings
  if (!pads) unknown('pads are missing');
  const axes = ctx.has(3) ? normalizeAxes(knownInts(ctx, 3, 'axes'), rank) : input.dims.map((_, i) => i);
  if (pads.length !== 2 * axes.length) unknown(`${pads.length} pads for ${axes.length} axes`);
  const dims = [...input.dims];
  axes.forEach((axis, i) => {
    const d = dims[axis];
    if (d === null) return;
    const padded = d + pads[i] + pads[i + axes.length];
    if (padded < 0) unknown(`pads [${pads}] remove more than dim ${d}`);
    dims[axis] = padded;
  });
  return [{ dims, elemType: input.elemType }];
}

/** A value given as a non-empty input (Resize takes '' or an empty tensor for "not given"). */
function nonEmptyValue(ctx: RuleContext, i: number): ConstValue | undefined | 'unknown' {
  if (!ctx.has(i)) return undefined;
  const v = ctx.value(i);
  if (!v) {
    const shape = ctx.shape(i).dims;
    return shape.length === 1 && shape[0] === 0 ? undefined : 'unknown';
  }
  return v.data.length === 0 ? undefined : v;
}

function resize(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const x = input.dims;
  const op = ctx.node.opType;
  // Upsample-7 scales: attribute; Upsample-9 and Resize-10: input 1; Resize-11+: roi, scales, sizes at 1, 2, 3.
  const modern = op === 'Resize' && (ctx.opset >= 11 || ctx.node.inputs.length > 2);
  const floats = attrFloats(ctx.node, 'scales');
  const scalesIn = floats ? { dims: [floats.length], data: floats } : nonEmptyValue(ctx, modern ? 2 : 1);
  const sizesIn = modern ? nonEmptyValue(ctx, 3) : undefined;
  const axesGiven = attrInts(ctx.node, 'axes'); // Resize-18
  const axes = axesGiven ? normalizeAxes(axesGiven, x.length) : x.map((_, i) => i);
  const dims = [...x];
  if (sizesIn === 'unknown') unknown(`sizes '${inputName(ctx, 3)}' is not a constant`);
  if (sizesIn) {
    const sizes = sizesIn.data;
    if (sizes.length !== axes.length) unknown(`${sizes.length} sizes for ${axes.length} axes`);
    const policy = attrString(ctx.node, 'keep_aspect_ratio_policy', 'stretch');
    if (policy === 'stretch') axes.forEach((a, i) => (dims[a] = sizes[i]));
    else {
      // Resize-18: one scale for all axes, the largest that fits (not_larger) or the smallest that covers (not_smaller).
      const ratios = axes.map((a, i) => (x[a] === null || sizes[i] === null ? null : (sizes[i] as number) / (x[a] as number)));
      if (!isKnown(ratios)) axes.forEach((a) => (dims[a] = null));
      else {
        const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
        axes.forEach((a) => (dims[a] = Math.floor(scale * (x[a] as number) + 0.5)));
      }
    }
    return [{ dims, elemType: input.elemType }];
  }
  if (scalesIn === 'unknown') unknown(`scales '${inputName(ctx, modern ? 2 : 1)}' is not a constant`);
  if (!scalesIn) unknown('neither scales nor sizes are given');
  const scales = scalesIn.data;
  if (scales.length !== axes.length) unknown(`${scales.length} scales for ${axes.length} axes`);
  axes.forEach((a, i) => {
    const d = x[a];
    const s = scales[i];
    dims[a] = d === null || s === null ? null : Math.floor(d * s);
  });
  return [{ dims, elemType: input.elemType }];
}

function reduce(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const rank = input.dims.length;
  const keepDims = attrInt(ctx.node, 'keepdims', 1) !== 0;
  // axes: an attribute before opset 18 (ReduceSum: 13), an input since.
  let axes = intsFrom(ctx, 'axes', 1, 'axes') ?? [];
  if (axes.length === 0) {
    if (attrInt(ctx.node, 'noop_with_empty_axes', 0) !== 0) return [same(ctx)];
    axes = input.dims.map((_, i) => i);
  }
  const reduced = normalizeAxes(axes, rank);
  const dims = input.dims.flatMap((d, i) => (reduced.includes(i) ? (keepDims ? [1] : []) : [d]));
  return [{ dims, elemType: input.elemType }];
}

function argReduce(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), input.dims.length);
  const keepDims = attrInt(ctx.node, 'keepdims', 1) !== 0;
  return [{ dims: input.dims.flatMap((d, i) => (i === axis ? (keepDims ? [1] : []) : [d])), elemType: INT64 }];
}

function topK(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), input.dims.length);
  const k = ctx.node.attributes.has('k') ? attrInt(ctx.node, 'k', 0) : knownInts(ctx, 1, 'K')[0];
  if (k === undefined || !Number.isSafeInteger(k) || k < 0) unknown('K is not a usable count');
  const size = input.dims[axis];
  if (size !== null && k > size) unknown(`K ${k} is larger than dim ${size}`);
  const dims = input.dims.map((d, i) => (i === axis ? k : d));
  return [{ dims, elemType: input.elemType }, { dims, elemType: INT64 }];
}

function depthToSpace(ctx: RuleContext): RuleOutput[] {
  const input = ctx.shape(0);
  if (input.dims.length !== 4) unknown(`input of rank ${input.dims.length}, not 4`);
  const b = attrInt(ctx.node, 'blocksize', 0);
  if (b < 1) unknown('blocksize is missing');
  const [n, c, h, w] = input.dims;
  const toSpace = ctx.node.opType === 'DepthToSpace';
  if (c !== null && toSpace && c % (b * b) !== 0) unknown(`${c} channels do not divide by blocksize² ${b * b}`);
  const scale = (d: Dim, up: boolean) => (d === null ? null : up ? d * b : d / b);
  if (!toSpace && ((h !== null && h % b !== 0) || (w !== null && w % b !== 0))) unknown(`spatial dims ${h}×${w} do not divide by blocksize ${b}`);
  const channels = c === null ? null : toSpace ? c / (b * b) : c * b * b;
  return [{ dims: [n, channels, scale(h, toSpace), scale(w, toSpace)], elemType: input.elemType }];
}

function oneHot(ctx: RuleContext): RuleOutput[] {
  const indices = ctx.shape(0).dims;
  const depth = knownInts(ctx, 1, 'depth')[0];
  if (depth === undefined || depth < 0) unknown('depth is not a usable count');
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), indices.length + 1);
  const dims = [...indices.slice(0, axis), Math.trunc(depth), ...indices.slice(axis)];
  return [{ dims, elemType: typeOf(ctx, 2) }];
}

// ---------------------------------------------------------------------------
// Shapes as values

function shape(ctx: RuleContext): RuleOutput[] {
  const dims = ctx.shape(0).dims;
  const rank = dims.length;
  // Shape-15 start/end: negative counts from the end, then clamped.
  const bound = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = bound(attrInt(ctx.node, 'start', 0));
  const end = bound(attrInt(ctx.node, 'end', rank));
  const picked = dims.slice(start, Math.max(start, end));
  return [{ dims: [picked.length], elemType: INT64, value: { dims: [picked.length], data: picked } }];
}

function size(ctx: RuleContext): RuleOutput[] {
  return [{ dims: [], elemType: INT64, value: { dims: [], data: [product(ctx.shape(0).dims)] } }];
}

function constantOfShape(ctx: RuleContext): RuleOutput[] {
  const dims = dimsFromValue(ctx, 0);
  const fill = ctx.node.attributes.get('value')?.t;
  const elemType = fill?.dtype ?? FLOAT; // default: a float32 zero
  const out: KnownOutput = { dims, elemType };
  const count = product(dims);
  if (isKnown(dims) && count !== null && count <= MAX_VALUE_ELEMENTS) {
    const v = fill ? ctx.tensorValue(fill)?.data[0] : 0;
    if (v !== undefined) out.value = { dims, data: new Array<number | null>(count).fill(v) };
  }
  return [out];
}

function range(ctx: RuleContext): RuleOutput[] {
  const elemType = typeOf(ctx, 0);
  const [start, limit, delta] = [0, 1, 2].map((i) => ctx.value(i)?.data[0]);
  if (start == null || limit == null || delta == null) {
    return [{ dims: [null], elemType, why: 'the bounds of Range are not known before running the model' }];
  }
  if (delta === 0) unknown('Range with delta 0');
  const count = Math.max(Math.ceil((limit - start) / delta), 0);
  const out: KnownOutput = { dims: [count], elemType };
  if (count <= MAX_VALUE_ELEMENTS) out.value = { dims: [count], data: Array.from({ length: count }, (_, i) => start + i * delta) };
  return [out];
}

function constant(ctx: RuleContext): RuleOutput[] {
  const attrs = ctx.node.attributes;
  const t = attrs.get('value')?.t ?? attrs.get('sparse_value')?.t;
  if (t) return [{ dims: t.dims, elemType: t.dtype, value: ctx.tensorValue(t) }];
  const scalar = (elemType: number, v: number | undefined): KnownOutput => ({ dims: [], elemType, value: v === undefined ? undefined : { dims: [], data: [v] } });
  const vector = (elemType: number, vs: number[] | undefined): KnownOutput => ({ dims: [vs?.length ?? 0], elemType, value: vs && { dims: [vs.length], data: vs } });
  if (attrs.has('value_int')) return [scalar(INT64, attrs.get('value_int')?.i)];
  if (attrs.has('value_ints')) return [vector(INT64, attrs.get('value_ints')?.ints ?? [])];
  if (attrs.has('value_float')) return [scalar(FLOAT, attrs.get('value_float')?.f)];
  if (attrs.has('value_floats')) return [vector(FLOAT, attrs.get('value_floats')?.floats ?? [])];
  if (attrs.has('value_string')) return [scalar(STRING, undefined)];
  if (attrs.has('value_strings')) return [{ dims: [attrs.get('value_strings')?.strings?.length ?? 0], elemType: STRING }];
  return unknown('the Constant holds no value attribute');
}

function dropout(ctx: RuleContext): RuleOutput[] {
  const out = same(ctx);
  return [out, { dims: ctx.shape(0).dims, elemType: BOOL }]; // output 1: the mask
}

const nonZero: ShapeRule = (ctx) => [{ dims: [ctx.shape(0).dims.length, null], elemType: INT64, why: 'the number of non-zeros depends on the data' }];

// ---------------------------------------------------------------------------
// The table

/** Ops whose output 0 has input 0's shape and type. */
const SAME_SHAPE = [
  'Relu', 'Sigmoid', 'Tanh', 'Erf', 'Gelu', 'Exp', 'Log', 'Clip', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Softplus',
  'Softsign', 'Mish', 'Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'Shrink', 'Round', 'Reciprocal', 'Sign', 'Swish',
  'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'BitwiseNot', 'Not',
  'Softmax', 'LogSoftmax', 'Hardmax', 'CumSum', 'Trilu', 'EyeLike', 'LRN', 'MeanVarianceNormalization',
  'InstanceNormalization', 'GroupNormalization', 'LpNormalization', 'RMSNormalization',
  // ONNX spec: Scatter's output has the shape of its data (the portable format's decode graph scatters into zeros).
  'ScatterElements', 'ScatterND',
];

const arithmetic = (fn: (a: number, b: number, integer: boolean, node: NodeSkeleton) => number | null) =>
  broadcasting((args, integer, node) => (args.length === 2 ? fn(args[0], args[1], integer, node) : null));
const comparison = (fn: (a: number, b: number) => boolean) => broadcasting(([a, b]) => flag(fn(a, b)), bool);

export const SHAPE_RULES: Record<string, ShapeRule> = {
  ...LAYER_RULES,
  ...Object.fromEntries(SAME_SHAPE.map((op) => [op, unary])),
  Identity: unaryValue((x) => x),
  Neg: unaryValue((x) => -x),
  Abs: unaryValue(Math.abs),
  // Scale arithmetic in torch's interpolate export: Shape → Cast → Mul → Floor → Cast → Resize sizes.
  Floor: unaryValue(Math.floor),
  Ceil: unaryValue(Math.ceil),
  Sqrt: unaryValue(Math.sqrt),
  IsNaN: toBool,
  IsInf: toBool,
  Cast: cast,
  CastLike: castLike,
  Add: arithmetic((a, b) => a + b),
  Sub: arithmetic((a, b) => a - b),
  Mul: arithmetic((a, b) => a * b),
  Div: arithmetic((a, b, integer) => divide(a, b, integer)),
  Pow: arithmetic((a, b) => a ** b),
  // Mod with fmod 0 takes the divisor's sign, as Python's %.
  Mod: arithmetic((a, b, _i, node) => (b === 0 ? null : attrInt(node, 'fmod', 0) ? a % b : ((a % b) + b) % b)),
  Max: broadcasting((args) => Math.max(...args)),
  Min: broadcasting((args) => Math.min(...args)),
  Sum: broadcasting((args) => args.reduce((a, b) => a + b, 0)),
  Mean: broadcasting(),
  PRelu: broadcasting(),
  BitShift: broadcasting(),
  BitwiseAnd: broadcasting(),
  BitwiseOr: broadcasting(),
  BitwiseXor: broadcasting(),
  Equal: comparison((a, b) => a === b),
  Greater: comparison((a, b) => a > b),
  Less: comparison((a, b) => a < b),
  GreaterOrEqual: comparison((a, b) => a >= b),
  LessOrEqual: comparison((a, b) => a <= b),
  And: comparison((a, b) => a !== 0 && b !== 0),
  Or: comparison((a, b) => a !== 0 || b !== 0),
  Xor: comparison((a, b) => (a !== 0) !== (b !== 0)),
  Where: where,
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: gatherND,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Resize: resize,
  Upsample: resize,
  ...Object.fromEntries(
    ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'].map((op) => [op, reduce]),
  ),
  ArgMax: argReduce,
  ArgMin: argReduce,
  TopK: topK,
  DepthToSpace: depthToSpace,
  SpaceToDepth: depthToSpace,
  OneHot: oneHot,
  Shape: shape,
  Size: size,
  ConstantOfShape: constantOfShape,
  Range: range,
  Constant: constant,
  Dropout: dropout,
  NonZero: nonZero,
};

/** ONNX Runtime's contrib ops that exporters leave in transformer graphs: activations that keep their input's shape, and the layers. */
const MICROSOFT_RULES: Record<string, ShapeRule> = { Gelu: unary, FastGelu: unary, BiasGelu: unary, QuickGelu: unary, ...CONTRIB_LAYER_RULES };

/** The rule for a node, by domain and op type; undefined when there is none. */
export function ruleFor(node: NodeSkeleton): ShapeRule | undefined {
  if (node.domain === '' || node.domain === 'ai.onnx') return Object.hasOwn(SHAPE_RULES, node.opType) ? SHAPE_RULES[node.opType] : undefined;
  if (node.domain === 'com.microsoft') return Object.hasOwn(MICROSOFT_RULES, node.opType) ? MICROSOFT_RULES[node.opType] : undefined;
  return ascendRule(node);
}

/** This tool's Ascend rewrite (ascendOps.ts): CompressOp passes values and index through; a layer is its original op. */
function ascendRule(node: NodeSkeleton): ShapeRule | undefined {
  if (isCompressOp(node)) return (ctx) => [0, 1].map((i) => ({ dims: ctx.shape(i).dims, elemType: ctx.shape(i).elemType }));
  const original = ascendAsOriginal(node);
  const dims = ascendWeightDims(node);
  if (!original || !dims) return undefined;
  const rule = SHAPE_RULES[original.opType];
  // The original op's inputs: X, the dense weight, bias (inputs 0, weight_shape, 3 of the rewritten node).
  const from = [0, -1, 3];
  return (ctx) =>
    rule({
      node: original,
      opset: ctx.opset,
      has: (i) => i === 1 || (i < 3 && ctx.has(from[i])),
      shape: (i) => {
        if (i === 1) return { dims, elemType: ctx.has(4) ? ctx.shape(4).elemType : ctx.shape(1).elemType }; // dequantized: the scale's type
        return i < 3 ? ctx.shape(from[i]) : unknown(`${original.opType} has no input ${i}`);
      },
      value: (i) => (i === 1 || i >= 3 ? undefined : ctx.value(from[i])),
      tensorValue: (t) => ctx.tensorValue(t),
    });
}
