// What every shape rule shares: dims that may be unknown, small constant values, attribute readers, broadcasting.
// Rules signal "cannot know" by throwing ShapeUnknown with a reason; the driver turns it into an `unknown` entry.
import type { NodeSkeleton, TensorRef } from '../onnx/skeleton';

/** A dimension: a number, or null when it is not known. */
export type Dim = number | null;

export interface TensorShape {
  /** null = unknown dimension. */
  dims: Dim[];
  /** ONNX TensorProto.DataType; 0 when not known. */
  elemType: number;
}

/** The values of a small tensor known before running the model (a shape, axes, scales): null where one is not known. */
export interface ConstValue {
  dims: number[];
  data: (number | null)[];
}

/** An output whose rank is known: its dims (null where unknown, with `why`), and its values when tracked. */
export type KnownOutput = TensorShape & { value?: ConstValue; why?: string };

/** One output of a rule: its shape, or why it cannot be known. */
export type RuleOutput = KnownOutput | { unknown: string };

export interface RuleContext {
  readonly node: NodeSkeleton;
  /** Version of the default ONNX domain the model imports. */
  readonly opset: number;
  /** Whether input i is given (optional inputs may be missing or named ''). */
  has(i: number): boolean;
  /** The shape of input i; throws ShapeUnknown when it is not known. */
  shape(i: number): TensorShape;
  /** The values of input i when it is a small constant or a value computed from shapes. */
  value(i: number): ConstValue | undefined;
  /** The values of a tensor held in an attribute (Constant, ConstantOfShape), when small. */
  tensorValue(tensor: TensorRef): ConstValue | undefined;
}

export type ShapeRule = (ctx: RuleContext) => RuleOutput[];

/** Why an output's shape cannot be known: thrown by rules, caught by the driver. */
export class ShapeUnknown extends Error {}

export function unknown(why: string): never {
  throw new ShapeUnknown(why);
}

// ONNX TensorProto.DataType numbers the rules produce.
export const FLOAT = 1;
export const UINT8 = 2;
export const INT32 = 6;
export const INT64 = 7;
export const STRING = 8;
export const BOOL = 9;

/** Values computed from shapes are tracked up to this many elements: shapes, axes, scales, small ranges. */
export const MAX_VALUE_ELEMENTS = 4096;

/** Stored constants (initializers, Constant nodes) are read up to this many: shapes, axes and scales are tiny, weights are not. */
export const MAX_CONSTANT_ELEMENTS = 64;

// ---------------------------------------------------------------------------
// Attributes

/** An INT attribute, or `fallback` when absent; a non-integer value is a broken model. */
export function attrInt(node: NodeSkeleton, name: string, fallback: number): number {
  const a = node.attributes.get(name);
  if (!a || a.i === undefined) return fallback;
  if (!Number.isSafeInteger(a.i)) unknown(`attribute ${name} is not a usable integer`);
  return a.i;
}

/** An INTS attribute, or undefined when absent. Entries beyond 2^53 read as NaN (see Slice). */
export function attrInts(node: NodeSkeleton, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  return a?.ints ? [...a.ints] : undefined;
}

export function attrString(node: NodeSkeleton, name: string, fallback: string): string {
  return node.attributes.get(name)?.s ?? fallback;
}

export function attrFloats(node: NodeSkeleton, name: string): number[] | undefined {
  return node.attributes.get(name)?.floats;
}

/** The name of input i, for messages. */
export function inputName(ctx: RuleContext, i: number): string {
  return ctx.node.inputs[i] ?? '';
}

/** An attribute when present, else the fully known values of input `input` (ops that moved attributes to inputs at opset 10-18). */
export function intsFrom(ctx: RuleContext, attribute: string, input: number, what: string): number[] | undefined {
  const fromAttr = attrInts(ctx.node, attribute);
  if (fromAttr) return fromAttr;
  if (!ctx.has(input)) return undefined;
  return knownInts(ctx, input, what);
}

/** The values of input i, all of them known; throws ShapeUnknown otherwise. */
export function knownInts(ctx: RuleContext, i: number, what: string): number[] {
  const v = ctx.value(i);
  if (!v) unknown(`${what} '${inputName(ctx, i)}' is not a constant`);
  if (v.data.some((d) => d === null)) unknown(`${what} '${inputName(ctx, i)}' is only partly known`);
  return v.data as number[];
}

// ---------------------------------------------------------------------------
// Dims

/** The axis `axis` (negative counts from the end) of a tensor of rank `rank`. */
export function normalizeAxis(axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) unknown(`${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Normalized, distinct axes. */
export function normalizeAxes(axes: number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normalizeAxis(a, rank, what));
  if (new Set(out).size !== out.length) unknown(`${what} [${axes.join(', ')}] repeat an axis`);
  return out;
}

/** Product of dims; null when any is unknown. */
export function product(dims: readonly Dim[]): Dim {
  let n = 1;
  for (const d of dims) {
    if (d === null) return null;
    n *= d;
  }
  return n;
}

export function isKnown(dims: readonly Dim[]): dims is number[] {
  return dims.every((d) => d !== null);
}

/** Two descriptions of one dim: equal, or one unknown; anything else is a contradiction. */
export function mergeDim(a: Dim, b: Dim, what: string): Dim {
  if (a === null) return b;
  if (b === null || a === b) return a;
  return unknown(`${what}: ${a} and ${b} differ`);
}

/** Numpy broadcasting (https://onnx.ai/onnx/repo-docs/Broadcasting.html). An unknown dim against n > 1 is n. */
export function broadcast(shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let a = 0; a < rank; a++) {
    let dim: Dim = 1;
    let unknownSeen = false;
    for (const s of shapes) {
      const d = s[a - (rank - s.length)];
      if (d === undefined || d === 1) continue;
      if (d === null) {
        unknownSeen = true;
        continue;
      }
      if (dim !== 1 && dim !== d) unknown(`dims ${dim} and ${d} do not broadcast`);
      dim = d;
    }
    out.push(dim === 1 && unknownSeen ? null : dim);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Values

/** Elementwise op over values with broadcasting; undefined when the result would be too large to track. */
export function mapValues(inputs: ConstValue[], outDims: number[], fn: (args: number[]) => number | null): ConstValue | undefined {
  const count = outDims.reduce((a, d) => a * d, 1);
  if (count > MAX_VALUE_ELEMENTS) return undefined;
  const data: (number | null)[] = new Array(count);
  const index = new Array<number>(outDims.length).fill(0);
  const args = new Array<number>(inputs.length);
  for (let n = 0; n < count; n++) {
    let rest = n;
    for (let a = outDims.length - 1; a >= 0; a--) {
      index[a] = rest % outDims[a];
      rest = Math.floor(rest / outDims[a]);
    }
    let missing = false;
    for (let v = 0; v < inputs.length; v++) {
      const { dims, data: values } = inputs[v];
      const shift = outDims.length - dims.length;
      let offset = 0;
      for (let a = 0; a < dims.length; a++) offset = offset * dims[a] + (dims[a] === 1 ? 0 : index[a + shift]);
      const x = values[offset];
      if (x === null || x === undefined) missing = true;
      else args[v] = x;
    }
    data[n] = missing ? null : fn(args);
  }
  return { dims: outDims, data };
}

/** The same values under new dims (Reshape, Squeeze, Identity...), when those dims are all known. */
export function reshapeValue(value: ConstValue | undefined, dims: Dim[]): ConstValue | undefined {
  if (!value || !isKnown(dims) || product(dims) !== value.data.length) return undefined;
  return { dims, data: value.data };
}

export function isIntegerType(elemType: number): boolean {
  return elemType === 2 || elemType === 3 || elemType === 4 || elemType === 5 || elemType === 6 || elemType === 7 || elemType === 12 || elemType === 13;
}
