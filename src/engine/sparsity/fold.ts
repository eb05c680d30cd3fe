// Layer weights that are constants only after folding: Mul by a constant mask, Where(mask, W, 0), Reshape / Squeeze /
// Unsqueeze / Flatten / Concat / Slice of constants, as TensorRT and ONNX Runtime fold them at build time. Builds the
// recipe of the effective weight (onnx/folded.ts) with its dims and type per the ONNX op specs, says what was folded
// from what, and why a chain cannot be folded, naming the op and the input.
import { dtypeById, dtypeName } from '../onnx/dtypes';
import { type FoldExpr, type ValueStats, codecFor, evaluate, foldCost, foldLimits, sizeText, valueStats } from '../onnx/folded';
import { type GraphSkeleton, type ModelSkeleton, type NodeSkeleton, type TensorRef, elementCount } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { type ExternalFiles, TensorError, openTensor } from '../onnx/tensorData';
import { FOLD_OPS, isChainOp } from './opTable';

/** What a layer's effective weight was folded from, shown on the layer (README, "Folded weights"). */
export interface FoldedWeight {
  /** The folded ops, constant side first. */
  ops: string[];
  /** The constants it was folded from. */
  from: string[];
  /** In words: "effective weight = 'W' x mask 'M' (0/1 mask, 50% zeros)". */
  note: string;
  /** Why convert --mode prune cannot write the pruned effective weight back exactly; absent when it can. */
  unwritable?: string;
}

/** How a name resolves (layers.ts' Scopes, seen through this narrow window so that this module does not import it). */
export type Resolved<S> = { kind: 'constant'; tensor: TensorRef; name: string } | { kind: 'node'; node: NodeSkeleton; scope: S } | { kind: 'input' } | undefined;

export interface FoldContext<S> {
  lookup(name: string, scope: S): Resolved<S>;
  src: ByteSource;
  externals: ExternalFiles;
  /** How many node inputs and graph outputs read `name`, anywhere in the model (a constant read elsewhere is not rewritten). */
  uses(name: string): number;
}

export type FoldOutcome =
  | { ok: true; tensor: TensorRef; name: string; folded: FoldedWeight; nodes: NodeSkeleton[] }
  /** `runtime`: an operand is only known at run time (an activation), not a constant this tool could not fold. */
  | { ok: false; reason: string; runtime: boolean; nodes: NodeSkeleton[] };

export function isFoldOp(domain: string, opType: string): boolean {
  return (domain === '' || domain === 'ai.onnx') && FOLD_OPS.has(opType);
}

class FoldFailure extends Error {
  constructor(
    message: string,
    readonly runtime = false,
  ) {
    super(message);
  }
}

/** One folded operand: its expression and what the note and the prune need to know about it. */
interface Built {
  expr: FoldExpr;
  /** How the note names it: the constant's name, or the output of the op that built it. */
  label: string;
  /** The one constant whose elements the result holds in the same order (a weight seen through reshapes). */
  primary?: { tensor: TensorRef; name: string };
  constants: string[];
  ops: string[];
  notes: string[];
  nodes: NodeSkeleton[];
  unwritable?: string;
  /** Set while the last steps were reshapes: the dims before them and their ops (one note for a run of reshapes). */
  reshaped?: { from: number[]; ops: string[] };
}

const MAX_DEPTH = 32;

/** Folds the value `node` computes (a FOLD_OPS node on the way to a layer's weight input). */
export function foldWeight<S>(ctx: FoldContext<S>, node: NodeSkeleton, scope: S): FoldOutcome {
  const nodes: NodeSkeleton[] = [];
  try {
    const built = buildNode(ctx, node, scope, 0, nodes);
    const expr = built.expr;
    const base = built.primary?.tensor ?? firstConstant(expr);
    const name = built.primary?.name ?? node.outputs[0] ?? built.label;
    const folded: FoldedWeight = { ops: built.ops, from: built.constants, note: built.notes.join('; ') };
    if (built.unwritable) folded.unwritable = built.unwritable;
    else if (built.primary && ctx.uses(built.primary.name) > 1) folded.unwritable = `'${built.primary.name}' is read by other nodes too: pruning it would change them`;
    // Same bytes, new dims: a view of the stored constant, streamed like any other (no memory, no cap).
    if (isView(expr) && base.data.kind !== 'sparse') return { ok: true, tensor: { ...base, dims: expr.dims }, name, folded, nodes: built.nodes };
    const cost = foldCost(expr);
    if (cost > foldLimits.bytes) {
      throw new FoldFailure(`${label(node)}: folding would take ${sizeText(cost)}, more than this tool folds (${sizeText(foldLimits.bytes)})`);
    }
    return { ok: true, tensor: { ...base, name, dims: expr.dims, dtype: expr.dtype, fold: expr }, name, folded, nodes: built.nodes };
  } catch (err) {
    if (err instanceof FoldFailure || err instanceof TensorError) return { ok: false, reason: err.message, runtime: err instanceof FoldFailure && err.runtime, nodes };
    throw err;
  }
}

function isView(expr: FoldExpr): boolean {
  return expr.op === 'constant' || (expr.op === 'reshape' && isView(expr.input));
}

function firstConstant(expr: FoldExpr): TensorRef {
  switch (expr.op) {
    case 'constant':
      return expr.tensor;
    case 'reshape':
    case 'slice':
      return firstConstant(expr.input);
    case 'mul':
      return firstConstant(expr.a);
    case 'where':
      return firstConstant(expr.x);
    case 'concat':
      return firstConstant(expr.inputs[0]);
  }
}

function label(node: NodeSkeleton): string {
  return `${node.opType} '${node.name || node.outputs[0] || ''}'`;
}

const quoted = (names: string[]) => names.map((n) => `'${n}'`).join(', ');
const dimsText = (dims: number[]) => `[${dims.join(', ')}]`;
const percent = (part: number, whole: number) => {
  const p = whole ? (100 * part) / whole : 0;
  return `${Number.isInteger(p) ? p : p.toFixed(1)}%`;
};

/** Resolves operand `name` of `parent` into a folded expression, or says why it cannot be folded. */
function buildOperand<S>(ctx: FoldContext<S>, name: string, scope: S, parent: NodeSkeleton, depth: number, nodes: NodeSkeleton[]): Built {
  if (depth > MAX_DEPTH) throw new FoldFailure(`${label(parent)}: more than ${MAX_DEPTH} folded ops deep`);
  const found = ctx.lookup(name, scope);
  if (!found) throw new FoldFailure(`${label(parent)}: its operand '${name}' is not defined`, true);
  if (found.kind === 'input') throw new FoldFailure(`${label(parent)}: its operand '${name}' is a graph input`, true);
  if (found.kind === 'constant') {
    const t = found.tensor;
    if (t.problem) throw new FoldFailure(`${label(parent)}: its operand '${name}': ${t.problem}`);
    if (!dtypeById(t.dtype) || dtypeById(t.dtype)!.bits === 0) throw new FoldFailure(`${label(parent)}: its operand '${name}' has type ${dtypeName(t.dtype)}, which this tool does not fold`);
    return { expr: { op: 'constant', tensor: t, dims: t.dims, dtype: t.dtype }, label: name, primary: { tensor: t, name }, constants: [name], ops: [], notes: [], nodes: [] };
  }
  const { node } = found;
  if ((node.domain === '' || node.domain === 'ai.onnx') && node.opType === 'Identity') return buildOperand(ctx, node.inputs[0] ?? '', found.scope, node, depth + 1, nodes);
  if (isFoldOp(node.domain, node.opType)) return buildNode(ctx, node, found.scope, depth + 1, nodes);
  if (isChainOp(node.domain, node.opType)) throw new FoldFailure(`${label(parent)}: its operand '${name}' comes through ${label(node)}, which this tool does not fold below a ${parent.opType}`);
  throw new FoldFailure(`${label(parent)}: its operand '${name}' is computed at run time by ${label(node)}`, true);
}

function buildNode<S>(ctx: FoldContext<S>, node: NodeSkeleton, scope: S, depth: number, nodes: NodeSkeleton[]): Built {
  nodes.push(node);
  if (node.problem) throw new FoldFailure(`${label(node)}: ${node.problem}`);
  const input = (i: number) => {
    const name = node.inputs[i];
    if (!name) throw new FoldFailure(`${label(node)}: input ${i} is missing`);
    return buildOperand(ctx, name, scope, node, depth, nodes);
  };
  const out = node.outputs[0] || label(node);
  switch (node.opType) {
    case 'Reshape':
    case 'Flatten':
    case 'Squeeze':
    case 'Unsqueeze': {
      const data = input(0);
      const dims = reshapedDims(ctx, node, scope, data.expr.dims);
      // A run of reshapes reads as one view: "'W' [8, 16] viewed as [16, 8] by Unsqueeze, Reshape".
      const reshaped = data.reshaped ? { from: data.reshaped.from, ops: [...data.reshaped.ops, node.opType] } : { from: data.expr.dims, ops: [node.opType] };
      const earlier = data.reshaped ? data.notes.slice(0, -1) : data.notes;
      return {
        ...data,
        expr: { op: 'reshape', input: data.expr, dims, dtype: data.expr.dtype },
        label: data.label,
        ops: [...data.ops, node.opType],
        notes: [...earlier, `'${data.label}' ${dimsText(reshaped.from)} viewed as ${dimsText(dims)} by ${reshaped.ops.join(', ')} (same elements)`],
        nodes: [...data.nodes, node],
        reshaped,
      };
    }
    case 'Concat':
      return concat(node, node.inputs.map((_, i) => input(i)), out);
    case 'Slice':
      return sliceOf(ctx, node, scope, input(0), out);
    case 'Mul':
      return mul(ctx, node, input(0), input(1), out);
    case 'Where':
      return whereOf(ctx, node, input(0), input(1), input(2), out);
  }
  throw new FoldFailure(`${label(node)}: not an op this tool folds`);
}

/** Integers of a small constant input (a shape, axes, starts), or why they are not known before run time. */
function constantInts<S>(ctx: FoldContext<S>, node: NodeSkeleton, scope: S, index: number, what: string): number[] | undefined {
  const name = node.inputs[index];
  if (!name) return undefined;
  const found = ctx.lookup(name, scope);
  if (found?.kind !== 'constant') throw new FoldFailure(`${label(node)}: ${what} '${name}' is computed at run time`, true);
  const reader = openTensor(ctx.src, found.tensor, ctx.externals);
  if (reader.dtype.name !== 'int64' && reader.dtype.name !== 'int32') throw new FoldFailure(`${label(node)}: ${what} '${name}' is ${reader.dtype.name}, not int64`);
  if (reader.count > 64) throw new FoldFailure(`${label(node)}: ${what} '${name}' has ${reader.count} values`);
  const bytes = reader.read(0, reader.count).bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i < reader.count; i++) out.push(reader.dtype.name === 'int64' ? Number(view.getBigInt64(i * 8, true)) : view.getInt32(i * 4, true));
  return out;
}

/** The input's value, else the attribute of the same meaning (opsets before Reshape-5, Squeeze-13, Slice-10 use attributes). */
function intsOf<S>(ctx: FoldContext<S>, node: NodeSkeleton, scope: S, index: number, attribute: string, what: string): number[] | undefined {
  return constantInts(ctx, node, scope, index, what) ?? node.attributes.get(attribute)?.ints;
}

function normalizeAxis(node: NodeSkeleton, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) throw new FoldFailure(`${label(node)}: axis ${axis} is outside the ${rank} axes of its input`);
  return a;
}

/** ONNX Reshape (0 copies a dim unless allowzero, -1 is inferred), Flatten, Squeeze and Unsqueeze. */
function reshapedDims<S>(ctx: FoldContext<S>, node: NodeSkeleton, scope: S, dims: number[]): number[] {
  const count = elementCount(dims);
  const rank = dims.length;
  switch (node.opType) {
    case 'Reshape': {
      const shape = intsOf(ctx, node, scope, 1, 'shape', 'shape');
      if (!shape) throw new FoldFailure(`${label(node)}: no shape`);
      const allowZero = (node.attributes.get('allowzero')?.i ?? 0) !== 0;
      const out = shape.map((s, i) => (s === 0 && !allowZero ? dims[i] : s));
      const inferred = out.indexOf(-1);
      if (inferred >= 0) {
        const known = out.reduce((p, d, i) => (i === inferred ? p : p * d), 1);
        out[inferred] = known > 0 && count % known === 0 ? count / known : NaN;
      }
      if (out.some((d) => !(d >= 0)) || elementCount(out) !== count) {
        throw new FoldFailure(`${label(node)}: shape ${dimsText(shape)} does not fit the ${count} elements of ${dimsText(dims)}`);
      }
      return out;
    }
    case 'Flatten': {
      const axis = node.attributes.get('axis')?.i ?? 1;
      const a = axis < 0 ? axis + rank : axis;
      if (!(a >= 0 && a <= rank)) throw new FoldFailure(`${label(node)}: axis ${axis} is outside the ${rank} axes of its input`);
      return [elementCount(dims.slice(0, a)), elementCount(dims.slice(a))];
    }
    case 'Squeeze': {
      const axes = intsOf(ctx, node, scope, 1, 'axes', 'axes');
      if (!axes) return dims.filter((d) => d !== 1);
      const drop = new Set(axes.map((a) => normalizeAxis(node, a, rank)));
      for (const a of drop) if (dims[a] !== 1) throw new FoldFailure(`${label(node)}: axis ${a} has size ${dims[a]}, not 1`);
      return dims.filter((_, i) => !drop.has(i));
    }
    default: {
      const axes = intsOf(ctx, node, scope, 1, 'axes', 'axes');
      if (!axes) throw new FoldFailure(`${label(node)}: no axes`);
      const outRank = rank + axes.length;
      const insert = new Set(axes.map((a) => normalizeAxis(node, a, outRank)));
      const out: number[] = [];
      let next = 0;
      for (let i = 0; i < outRank; i++) out.push(insert.has(i) ? 1 : dims[next++]);
      return out;
    }
  }
}

/** Numpy-style broadcast of several dims (ONNX multidirectional broadcasting), or why they do not broadcast. */
function broadcastDims(node: NodeSkeleton, all: number[][]): number[] {
  const rank = Math.max(...all.map((d) => d.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let size = 1;
    for (const dims of all) {
      const d = dims[dims.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (size !== 1 && size !== d) throw new FoldFailure(`${label(node)}: operands ${all.map(dimsText).join(' and ')} do not broadcast`);
      size = d;
    }
    out.push(size);
  }
  return out;
}

function sameType(node: NodeSkeleton, operands: Built[]): number {
  const dtype = operands[0].expr.dtype;
  const other = operands.find((o) => o.expr.dtype !== dtype);
  if (other) throw new FoldFailure(`${label(node)}: '${operands[0].label}' is ${dtypeName(dtype)} but '${other.label}' is ${dtypeName(other.expr.dtype)} (ONNX wants one type)`);
  wholeBytes(node, operands[0]);
  return dtype;
}

/** Ops other than reshapes move whole elements: 4-bit constants (two a byte) are folded only by reshaping. */
function wholeBytes(node: NodeSkeleton, operand: Built): void {
  const dtype = dtypeById(operand.expr.dtype)!;
  if (dtype.bits < 8) throw new FoldFailure(`${label(node)}: '${operand.label}' is ${dtype.name}: 4-bit constants are folded only by reshaping`);
}

/** What a constant operand (a mask or a zero branch) holds, read while planning: at most the fold cap. */
function valuesOf<S>(ctx: FoldContext<S>, node: NodeSkeleton, operand: Built): ValueStats {
  const cost = foldCost(operand.expr);
  if (cost > foldLimits.bytes) throw new FoldFailure(`${label(node)}: reading '${operand.label}' would take ${sizeText(cost)}, more than this tool folds (${sizeText(foldLimits.bytes)})`);
  return valueStats(operand.expr.dtype, evaluate(ctx.src, operand.expr, ctx.externals));
}

function merged(parts: Built[], node: NodeSkeleton): Pick<Built, 'constants' | 'ops' | 'notes' | 'nodes'> {
  return {
    constants: parts.flatMap((p) => p.constants),
    ops: [...parts.flatMap((p) => p.ops), node.opType],
    notes: parts.flatMap((p) => p.notes),
    nodes: [...parts.flatMap((p) => p.nodes), node],
  };
}

/**
 * Why the pruned effective weight cannot be written into `weight`'s constant exactly, or undefined when it can: the
 * constant must hold the effective weight's elements in its order (a view), be read by this chain only, and have its type.
 */
function whyNotWritable<S>(ctx: FoldContext<S>, weight: Built, dims: number[], dtype: number, mask?: string): string | undefined {
  if (weight.unwritable) return weight.unwritable;
  if (!weight.primary || !isView(weight.expr)) return `'${weight.label}' is not a stored constant: the pruned result is not written back by this version`;
  if (elementCount(weight.expr.dims) !== elementCount(dims)) return `'${weight.label}' is broadcast to ${dimsText(dims)}: the pruned weight cannot be written back into it`;
  if (weight.expr.dtype !== dtype) return `'${weight.label}' has another type than the folded weight`;
  if (ctx.uses(weight.primary.name) > 1) return `'${weight.primary.name}' is read by other nodes too: pruning it would change them`;
  return mask;
}

function mul<S>(ctx: FoldContext<S>, node: NodeSkeleton, a: Built, b: Built, out: string): Built {
  const dtype = sameType(node, [a, b]);
  if (!codecFor(dtype)) throw new FoldFailure(`${label(node)}: a product of ${dtypeName(dtype)} constants is not folded by this version`);
  const dims = broadcastDims(node, [a.expr.dims, b.expr.dims]);
  const count = elementCount(dims);
  const full = (x: Built) => elementCount(x.expr.dims) === count;
  // The weight is the full-shape operand; of two, the one that is not a 0/1 tensor (the mask is), else the first.
  const values = new Map<Built, ValueStats>();
  const numbers = (x: Built) => values.get(x) ?? values.set(x, valuesOf(ctx, node, x)).get(x)!;
  const binary = (x: Built) => numbers(x).binary;
  let weight = a;
  if (full(b) && !full(a)) weight = b;
  else if (full(a) && full(b) && binary(a) && !binary(b)) weight = b;
  const mask = weight === a ? b : a;
  const m = numbers(mask);
  const isMask = m.binary;
  const shape = full(mask) ? '' : ` ${dimsText(mask.expr.dims)} broadcast to ${dimsText(dims)}`;
  const what =
    m.count === 1
      ? `'${weight.label}' x '${mask.label}' (a scalar ${+m.first.toPrecision(6)}, not a mask)`
      : isMask
        ? `'${weight.label}' x mask '${mask.label}'${shape} (0/1 mask, ${percent(m.zeros, m.count)} zeros)`
        : `'${weight.label}' x '${mask.label}'${shape} (not a 0/1 mask: folded as the product)`;
  const unwritable = whyNotWritable(
    ctx,
    weight,
    dims,
    dtype,
    isMask ? undefined : `'${mask.label}' is not a 0/1 mask: the pruned product cannot be written back into '${weight.label}' exactly`,
  );
  return {
    ...merged([a, b], node),
    expr: { op: 'mul', a: a.expr, b: b.expr, dims, dtype },
    label: out,
    primary: weight.primary && isView(weight.expr) && full(weight) ? weight.primary : undefined,
    notes: [...a.notes, ...b.notes, `effective weight = ${what}`],
    unwritable,
  };
}

function whereOf<S>(ctx: FoldContext<S>, node: NodeSkeleton, cond: Built, x: Built, y: Built, out: string): Built {
  if (dtypeName(cond.expr.dtype) !== 'bool') throw new FoldFailure(`${label(node)}: condition '${cond.label}' is ${dtypeName(cond.expr.dtype)}, not bool`);
  const dtype = sameType(node, [x, y]);
  const dims = broadcastDims(node, [cond.expr.dims, x.expr.dims, y.expr.dims]);
  const count = elementCount(dims);
  const isZero = (b: Built) => {
    if (elementCount(b.expr.dims) >= count) return false;
    const stats = valuesOf(ctx, node, b);
    return stats.zeros === stats.count;
  };
  const c = valuesOf(ctx, node, cond);
  const kept = c.count - c.zeros;
  const maskText = `mask '${cond.label}'${elementCount(cond.expr.dims) === count ? '' : ` ${dimsText(cond.expr.dims)} broadcast to ${dimsText(dims)}`}`;
  let note: string;
  let weight: Built | undefined;
  if (isZero(y)) {
    weight = x;
    note = `effective weight = Where(${maskText}, '${x.label}', 0) (mask keeps ${percent(kept, c.count)})`;
  } else if (isZero(x)) {
    weight = y;
    note = `effective weight = Where(${maskText}, 0, '${y.label}') (mask zeroes ${percent(kept, c.count)})`;
  } else {
    note = `effective weight = Where('${cond.label}', '${x.label}', '${y.label}') (neither branch is a constant zero)`;
  }
  return {
    ...merged([cond, x, y], node),
    expr: { op: 'where', cond: cond.expr, x: x.expr, y: y.expr, dims, dtype },
    label: out,
    primary: weight?.primary && isView(weight.expr) && elementCount(weight.expr.dims) === count ? weight.primary : undefined,
    notes: [...cond.notes, ...x.notes, ...y.notes, note],
    unwritable: weight
      ? whyNotWritable(ctx, weight, dims, dtype)
      : `neither branch of ${label(node)} is a constant zero: the pruned result cannot be written back`,
  };
}

function concat(node: NodeSkeleton, parts: Built[], out: string): Built {
  if (!parts.length) throw new FoldFailure(`${label(node)}: no inputs`);
  const dtype = sameType(node, parts);
  const rank = parts[0].expr.dims.length;
  const odd = parts.find((p) => p.expr.dims.length !== rank);
  if (odd) throw new FoldFailure(`${label(node)}: Concat of a ${rank}-D and a ${odd.expr.dims.length}-D constant`);
  const axisAttr = node.attributes.get('axis')?.i;
  if (axisAttr === undefined) throw new FoldFailure(`${label(node)}: no axis attribute`);
  const axis = normalizeAxis(node, axisAttr, rank);
  const dims = [...parts[0].expr.dims];
  dims[axis] = 0;
  for (const p of parts) {
    if (p.expr.dims.some((d, i) => i !== axis && d !== dims[i])) throw new FoldFailure(`${label(node)}: ${parts.map((q) => dimsText(q.expr.dims)).join(', ')} differ off axis ${axis}`);
    dims[axis] += p.expr.dims[axis];
  }
  return {
    ...merged(parts, node),
    expr: { op: 'concat', inputs: parts.map((p) => p.expr), axis, dims, dtype },
    label: out,
    notes: [...parts.flatMap((p) => p.notes), `effective weight = Concat of ${quoted(parts.map((p) => p.label))} along axis ${axis} ${dimsText(dims)}`],
    unwritable: `${label(node)} joins ${parts.length} constants: the pruned result is not written back by this version`,
  };
}

/** ONNX Slice: starts/ends/axes/steps from inputs 1-4 (opset 10+) or attributes (opset 1); bounds clamped as the spec says. */
function sliceOf<S>(ctx: FoldContext<S>, node: NodeSkeleton, scope: S, data: Built, out: string): Built {
  wholeBytes(node, data);
  const inDims = data.expr.dims;
  const rank = inDims.length;
  const starts = intsOf(ctx, node, scope, 1, 'starts', 'starts');
  const ends = intsOf(ctx, node, scope, 2, 'ends', 'ends');
  if (!starts || !ends || starts.length !== ends.length) throw new FoldFailure(`${label(node)}: starts and ends are missing or of different lengths`);
  const axes = (intsOf(ctx, node, scope, 3, 'axes', 'axes') ?? starts.map((_, i) => i)).map((a) => normalizeAxis(node, a, rank));
  const steps = constantInts(ctx, node, scope, 4, 'steps') ?? starts.map(() => 1);
  const first = inDims.map(() => 0);
  const step = inDims.map(() => 1);
  const dims = [...inDims];
  axes.forEach((axis, i) => {
    const size = inDims[axis];
    const s = steps[i];
    if (!s) throw new FoldFailure(`${label(node)}: step 0 on axis ${axis}`);
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + size : v, lo), hi);
    const start = s > 0 ? clamp(starts[i], 0, size) : clamp(starts[i], 0, size - 1);
    const end = s > 0 ? clamp(ends[i], 0, size) : clamp(ends[i], -1, size - 1);
    first[axis] = start;
    step[axis] = s;
    dims[axis] = Math.max(0, Math.ceil((end - start) / s));
  });
  return {
    ...merged([data], node),
    expr: { op: 'slice', input: data.expr, starts: first, steps: step, dims, dtype: data.expr.dtype },
    label: out,
    notes: [...data.notes, `effective weight = Slice of '${data.label}' ${dimsText(inDims)} to ${dimsText(dims)}`],
    unwritable: `${label(node)} takes part of '${data.label}': the pruned result is not written back by this version`,
  };
}

/** How many node inputs and graph outputs name each value, in every graph and function of the model. */
export function useCounts(model: ModelSkeleton): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (name: string) => name && counts.set(name, (counts.get(name) ?? 0) + 1);
  const visit = (g: GraphSkeleton) => {
    for (const o of g.outputs) add(o.name);
    for (const node of g.nodes) {
      for (const input of node.inputs) add(input);
      for (const attr of node.attributes.values()) {
        if (attr.g) visit(attr.g);
        for (const sub of attr.graphs ?? []) visit(sub);
      }
    }
  };
  visit(model.graph);
  model.functions.forEach(visit);
  return counts;
}
