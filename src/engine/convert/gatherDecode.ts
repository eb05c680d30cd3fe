// The portable decode graph for models below opset 11 (Paddle exports at opset 9 are common), from ops opset 7
// already has. No BitShift: a position is floor(byte / 2^(b*i)) - 2^b * floor(byte / 2^(b*(i+1))) in float32, exact
// for bytes. No ScatterElements: each dense place gets the flat index of its value (Z + g*N + j, Z the zeros before the values, from
// Equal(position, 0..M-1) times the slot's index, summed over the N slots) or of its zero (the channel c, for
// zero points per channel), and one Gather copies [zeros..., -0.0?, values...] into place. ONNX Runtime's Where
// does not copy bits (it drops the sign of -0.0, quiets float16 signalling NaNs, has no int8 kernel), so values are
// only ever moved by Gather, Concat and Reshape: the rebuilt weight is the pruned weight bit for bit.
import { onnx } from 'onnx-proto';
import type { Pattern } from '../sparsity/pattern';
import type { PortablePlan } from './portable';

/** A small constant initializer: int64 (7), int32 (6), float32 (1) or uint8 (2). */
export function constant(name: string, dataType: number, dims: number[], values: number[]): onnx.ITensorProto {
  const typed =
    dataType === 7 ? new BigInt64Array(values.map(BigInt)) : dataType === 6 ? Int32Array.from(values) : dataType === 1 ? Float32Array.from(values) : Uint8Array.from(values);
  return { name, dataType, dims, rawData: new Uint8Array(typed.buffer) };
}

export const attr = {
  int: (name: string, i: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i }),
  ints: (name: string, ints: number[]): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints }),
  string: (name: string, s: string): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) }),
  tensor: (name: string, t: onnx.ITensorProto): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.TENSOR, t }),
};

/** The lowest default-domain opset the gather decode runs at (Equal and the broadcasting Add/Mul/Sub/Div are opset 7). */
export const GATHER_DECODE_MIN_OPSET = 7;

interface Graph {
  nodes: onnx.INodeProto[];
  consts: onnx.ITensorProto[];
}

/**
 * Nodes turning the uint8 stream `input` (`bytes` long, `bits`-bit fields LSB first) into its first `count` fields as
 * float32 of shape `shape`. `tag` keeps node and constant names apart.
 */
function unpackFields(g: Graph, pre: string, tag: string, input: string, bytes: number, bits: number, count: number, shape: number[], opset: number): string {
  const perByte = 8 / bits;
  const t = (s: string) => `${pre}/${tag}_${s}`;
  const c = (s: string) => `${pre}_${tag}_${s}`;
  const low = [...Array(perByte).keys()].map((i) => 2 ** (bits * i));
  g.consts.push(
    constant(c('bytes_shape'), 7, [2], [bytes, 1]),
    constant(c('low'), 1, [perByte], low),
    constant(c('high'), 1, [perByte], low.map((x) => x * 2 ** bits)),
    constant(c('radix'), 1, [1], [2 ** bits]),
    constant(c('flat'), 7, [1], [-1]),
    constant(c('shape'), 7, [shape.length], shape),
  );
  g.nodes.push(
    { name: t('reshape'), opType: 'Reshape', input: [input, c('bytes_shape')], output: [t('bytes')] },
    { name: t('float'), opType: 'Cast', input: [t('bytes')], output: [t('x')], attribute: [attr.int('to', 1)] },
    // floor(x / 2^(b*i)) keeps fields i.. of the byte; subtracting 2^b * floor(x / 2^(b*(i+1))) drops fields i+1..
    { name: t('div_low'), opType: 'Div', input: [t('x'), c('low')], output: [t('x_low')] },
    { name: t('floor_low'), opType: 'Floor', input: [t('x_low')], output: [t('from_i')] },
    { name: t('div_high'), opType: 'Div', input: [t('x'), c('high')], output: [t('x_high')] },
    { name: t('floor_high'), opType: 'Floor', input: [t('x_high')], output: [t('above_i')] },
    { name: t('shift'), opType: 'Mul', input: [t('above_i'), c('radix')], output: [t('above_shifted')] },
    { name: t('field'), opType: 'Sub', input: [t('from_i'), t('above_shifted')], output: [t('fields')] },
    { name: t('flatten'), opType: 'Reshape', input: [t('fields'), c('flat')], output: [t('flat')] },
  );
  // Slice takes attributes before opset 10 and inputs from 10 on.
  if (opset >= 10) {
    g.consts.push(constant(c('start'), 7, [1], [0]), constant(c('end'), 7, [1], [count]));
    g.nodes.push({ name: t('drop_padding'), opType: 'Slice', input: [t('flat'), c('start'), c('end')], output: [t('used')] });
  } else {
    g.nodes.push({ name: t('drop_padding'), opType: 'Slice', input: [t('flat')], output: [t('used')], attribute: [attr.ints('starts', [0]), attr.ints('ends', [count]), attr.ints('axes', [0])] });
  }
  g.nodes.push({ name: t('shape'), opType: 'Reshape', input: [t('used'), c('shape')], output: [t('out')] });
  return t('out');
}

/** What the gather decode needs besides the plan: the zeros constant and how it is laid out. */
export interface GatherZeros {
  /** Initializer holding one zero ([1]) or one per channel ([C] along `axis` of the weight). */
  name: string;
  /** Axis of the weight the zeros run along; -1 for one zero. */
  axis: number;
  count: number;
  /** The -0.0 element, when the weight has a negative-zero mask (floats: one zero, so the mask needs no channel). */
  negativeZero?: Uint8Array;
  dtypeId: number;
}

/**
 * The gather decode for one weight: nodes and constants that produce `<pre>/dense`, the weight as
 * [...other axes, K/M, M] (K innermost, in the order of the [A, B, K] view), from `entry.values` and `entry.index`.
 */
export function gatherDecode(p: PortablePlan, pattern: Pattern, zeros: GatherZeros, opset: number): Graph & { output: string } {
  const { entry, groups } = p;
  const pre = `${entry.weight}.sl`;
  const t = (s: string) => `${pre}/${s}`;
  const { n, m } = pattern;
  const g: Graph = { nodes: [], consts: [] };
  const k = entry.axis;
  // The groups as [...other axes, K/M]: an index per axis, so their flat numbers come from small per-axis constants.
  const other = entry.dims.filter((_, i) => i !== k);
  const groupShape = [...other, entry.dims[k] / m];
  const rank = groupShape.length;
  const leading = zeros.count + (zeros.negativeZero ? 1 : 0);
  // int32 indices where they fit (half the memory of int64 while ONNX Runtime folds the decode).
  const indexType = leading + groups * n < 2 ** 31 ? 6 : 7;

  const positions = unpackFields(g, pre, 'index', entry.index, p.indexLength, entry.bits, groups * n, [...groupShape, n, 1], opset);
  g.nodes.push({ name: t('positions'), opType: 'Cast', input: [positions], output: [t('positions_int')], attribute: [attr.int('to', indexType)] });
  g.consts.push(constant(`${pre}_places`, indexType, [m], [...Array(m).keys()]));
  g.nodes.push(
    { name: t('one_hot'), opType: 'Equal', input: [t('positions_int'), `${pre}_places`], output: [t('one_hot')] },
    { name: t('one_hot_int'), opType: 'Cast', input: [t('one_hot')], output: [t('one_hot_int')], attribute: [attr.int('to', indexType)] },
  );

  // Slot j of group g reads element leading + g*N + j of the gathered list; less the channel index c(g) when the
  // zeros are per channel, since c(g) is added back for every place (a place no slot holds reads zero c(g)).
  const zeroDim = zeros.axis < 0 ? -1 : zeros.axis < k ? zeros.axis : zeros.axis - 1;
  let stride = 1;
  const offsetParts: string[] = [];
  for (let d = rank - 1; d >= 0; d--) {
    const size = groupShape[d];
    if (size > 1) {
      const name = `${pre}_group_axis${d}`;
      const shape = [...Array(rank + 2)].map((_, i) => (i === d ? size : 1));
      g.consts.push(constant(name, indexType, shape, [...Array(size).keys()].map((i) => i * stride * n - (d === zeroDim ? i : 0))));
      offsetParts.push(name);
    }
    stride *= size;
  }
  g.consts.push(constant(`${pre}_slots`, indexType, [...Array(rank).fill(1), n, 1], [...Array(n).keys()].map((j) => leading + j)));
  let offsets = `${pre}_slots`;
  for (const [i, part] of offsetParts.entries()) {
    const out = t(`offsets${i}`);
    g.nodes.push({ name: t(`add_offsets${i}`), opType: 'Add', input: [offsets, part], output: [out] });
    offsets = out;
  }
  g.nodes.push(
    { name: t('slot_index'), opType: 'Mul', input: [t('one_hot_int'), offsets], output: [t('slot_index')] },
    { name: t('place_index'), opType: 'ReduceSum', input: [t('slot_index')], output: [t('place_index')], attribute: [attr.ints('axes', [rank]), attr.int('keepdims', 0)] },
  );
  let index = t('place_index');
  if (zeroDim >= 0) {
    const size = groupShape[zeroDim];
    g.consts.push(constant(`${pre}_channel`, indexType, [...Array(rank + 1)].map((_, i) => (i === zeroDim ? size : 1)), [...Array(size).keys()]));
    g.nodes.push({ name: t('channel_zero'), opType: 'Add', input: [index, `${pre}_channel`], output: [t('place_index_channel')] });
    index = t('place_index_channel');
  }
  const list = [zeros.name];
  if (zeros.negativeZero && entry.negativeZeros) {
    // A masked place reads element 1, the -0.0: index * (1 - mask) + mask (a padded slot may point at a -0.0 place).
    const mask = unpackFields(g, pre, 'negzero', entry.negativeZeros, p.negativeZerosLength, 1, groups * m, [...groupShape, m], opset);
    g.consts.push(constant(`${pre}_one`, indexType, [1], [1]));
    g.nodes.push(
      { name: t('negzero_int'), opType: 'Cast', input: [mask], output: [t('negzero_int')], attribute: [attr.int('to', indexType)] },
      { name: t('negzero_keep'), opType: 'Sub', input: [`${pre}_one`, t('negzero_int')], output: [t('negzero_keep')] },
      { name: t('negzero_kept'), opType: 'Mul', input: [index, t('negzero_keep')], output: [t('place_index_kept')] },
      { name: t('negzero_index'), opType: 'Add', input: [t('place_index_kept'), t('negzero_int')], output: [t('place_index_signed')] },
    );
    index = t('place_index_signed');
    g.consts.push({ name: `${pre}_negzero_value`, dataType: zeros.dtypeId, dims: [1], rawData: zeros.negativeZero.slice() });
    list.push(`${pre}_negzero_value`);
  }
  g.consts.push(constant(`${pre}_flat`, 7, [1], [-1]));
  g.nodes.push(
    { name: t('values_flat'), opType: 'Reshape', input: [entry.values, `${pre}_flat`], output: [t('values_flat')] },
    { name: t('list'), opType: 'Concat', input: [...list, t('values_flat')], output: [t('list')], attribute: [attr.int('axis', 0)] },
    { name: t('gather'), opType: 'Gather', input: [t('list'), index], output: [t('dense')], attribute: [attr.int('axis', 0)] },
  );
  return { ...g, output: t('dense') };
}
