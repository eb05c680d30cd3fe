// The portable compressed format: a pruned weight stored as its kept values and a packed position stream, plus a
// decode subgraph of standard ONNX ops that rebuilds the dense weight at load time under its original name, so every
// consumer is untouched and ONNX Runtime runs the model as it is: BitShift + ScatterElements at opset >= 11, the
// gather decode (gatherDecode.ts) below. Decoding is exact: the rebuilt weight is the pruned weight, bit for bit.
// A weight holding -0.0 carries a 1-bit mask of them (`W.sl_negzero`), which the decode graph and decompress apply
// after the scatter; older files without it decode as before. Integer weights with zero points per channel keep
// them in `W.sl_zeros` [C], which fill each pruned place with its channel's zero point.
import { onnx } from 'onnx-proto';
import { encodeNm, packPositions, unpackPositions } from '../encode';
import type { DType } from '../onnx/dtypes';
import type { ZeroPoint } from '../sparsity/decode';
import type { Pattern } from '../sparsity/pattern';
import type { ByteSource } from '../onnx/source';
import { WIRE_LEN, forEachField, readString } from '../onnx/wire';
import { type Bytes, type Edit, type Out, lenField, lenHeader } from '../onnx/writer';
import { attr, constant, gatherDecode } from './gatherDecode';

// The metadata key and entry are read by inspection and decompress too: they live with the recognition.
import { COMPRESSED_KEY, type CompressedEntry } from '../sparsity/stored';
export { COMPRESSED_KEY, type CompressedEntry };

/** A weight's compressed layout, known before any of its values is read. */
export interface PortablePlan {
  entry: CompressedEntry;
  groups: number;
  /** Bytes of the values tensor [groups, N] and of the packed index stream. */
  valuesLength: number;
  indexLength: number;
  /** Bytes of the negative-zero mask (1 bit per element, K-last order, LSB first); 0 when the weight holds no -0.0. */
  negativeZerosLength: number;
  /** How many -0.0 the weight holds (the mask's set bits). */
  negativeZeros: number;
  /** The model's default-domain opset: 11 and up decode with BitShift + ScatterElements, below with the gather decode. */
  opset: number;
}

/** The zeros of a weight: one, or one per channel along `axis` (integer zero points per channel). */
export interface WeightZeros {
  /** dtype-size bytes per zero: one zero, or `dims[axis]` of them. */
  bytes: Uint8Array;
  /** -1 for one zero. */
  axis: number;
}

/** Below this opset the decode graph is the gather decode (no BitShift, no ScatterElements). */
export const SCATTER_DECODE_MIN_OPSET = 11;

/** The bytes of one element's negative zero: the zero with its sign bit (the top bit, little-endian) set. */
export function negativeZero(zero: Uint8Array): Uint8Array {
  const out = zero.slice();
  out[out.length - 1] |= 0x80;
  return out;
}

/** Bits per index for the decode graph: ceil(log2 M) rounded up to 1, 2 or 4. */
export function indexBits(m: number): number {
  return m <= 2 ? 1 : m <= 4 ? 2 : 4;
}

export function planPortable(name: string, dtype: DType, dims: number[], axis: number, pattern: Pattern, negativeZeros = 0, opset = SCATTER_DECODE_MIN_OPSET, zeroAxis = -1): PortablePlan {
  const count = dims.reduce((x, y) => x * y, 1);
  const groups = count / pattern.m;
  const bits = indexBits(pattern.m);
  const prefix = `${name}.sl`;
  return {
    groups,
    valuesLength: groups * pattern.n * (dtype.bits / 8),
    indexLength: Math.ceil((groups * pattern.n * bits) / 8),
    negativeZerosLength: negativeZeros ? Math.ceil(count / 8) : 0,
    negativeZeros,
    opset,
    entry: {
      ...(negativeZeros ? { negativeZeros: `${prefix}_negzero` } : {}),
      // The zeros are a tensor of their own per channel, and in the gather decode (it gathers from them).
      ...(zeroAxis >= 0 || opset < SCATTER_DECODE_MIN_OPSET ? { zeros: `${prefix}_zeros` } : {}),
      ...(zeroAxis >= 0 ? { zeroAxis } : {}),
      weight: name,
      values: `${prefix}_values`,
      index: `${prefix}_index`,
      dims,
      axis,
      pattern: `${pattern.n}:${pattern.m}`,
      bits,
      dtype: dtype.name,
      nodes: [],
      constants: [],
    },
  };
}

/** [A, K, B] → [A, B, K]: K innermost, so groups are contiguous rows for the encoder. */
function moveKLast(bytes: Uint8Array, A: number, K: number, B: number, size: number): Uint8Array {
  if (B === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let a = 0; a < A; a++) {
    const base = a * K * B;
    for (let k = 0; k < K; k++) {
      for (let b = 0; b < B; b++) {
        const from = (base + k * B + b) * size;
        const to = (base + b * K + k) * size;
        for (let i = 0; i < size; i++) out[to + i] = bytes[from + i];
      }
    }
  }
  return out;
}

/**
 * The values and the packed index stream of a pruned weight. `nonZero` flags (by the engine's zero rules) are in
 * storage order; `zero` is the element's zero (the per-tensor zero point for integers), or one per row of the
 * [A*B, K] view (rowZeros: zero points per channel; the negative-zero mask needs one zero).
 */
export function compressWeight(
  plan: PortablePlan,
  pruned: Uint8Array,
  nonZero: Uint8Array,
  pattern: Pattern,
  zero: Uint8Array,
  size: number = zero.length,
): { values: Uint8Array; index: Uint8Array; negativeZeros?: Uint8Array } {
  const { dims, axis } = plan.entry;
  const K = dims[axis];
  const A = dims.slice(0, axis).reduce((x, y) => x * y, 1);
  const B = dims.slice(axis + 1).reduce((x, y) => x * y, 1);
  const encoded = encodeNm(
    { rows: A * B, cols: K, elementSize: size as 1 | 2 | 4, bytes: moveKLast(pruned, A, K, B, size), nonZero: moveKLast(nonZero, A, K, B, 1), zero },
    pattern,
  );
  const bits = plan.entry.bits;
  const index = bits === encoded.positionBits ? encoded.positions : packPositions(unpackPositions(encoded.positions, plan.groups * pattern.n, encoded.positionBits), bits);
  if (!plan.negativeZerosLength) return { values: encoded.values, index };
  // Zeros whose bytes are not the zero's are -0.0 (float types: the only other zero encoding, domain.md §3).
  const count = nonZero.length;
  const negative = new Uint8Array(count);
  const neg = negativeZero(zero);
  for (let i = 0; i < count; i++) {
    if (nonZero[i]) continue;
    let same = true;
    for (let b = 0; b < size; b++) if (pruned[i * size + b] !== neg[b]) same = false;
    negative[i] = same ? 1 : 0;
  }
  return { values: encoded.values, index, negativeZeros: packPositions(moveKLast(negative, A, K, B, 1), 1) };
}

/** Sets the elements the negative-zero mask flags (dense bytes in K-last order) to the negative zero. */
export function applyNegativeZeros(dense: Uint8Array, mask: Uint8Array, zero: Uint8Array): void {
  const size = zero.length;
  const neg = negativeZero(zero);
  const count = dense.length / size;
  for (let i = 0; i < count; i++) if ((mask[i >> 3] >> (i & 7)) & 1) dense.set(neg, i * size);
}

/**
 * The decode subgraph for one weight: nodes (graph field 1) and their constant initializers (graph field 5), as
 * encoded graph fields. It reads `<w>.sl_index` (uint8) and `<w>.sl_values` and produces `<w>`.
 */
export function decodeGraph(p: PortablePlan, dtype: DType, pattern: Pattern, zeros: WeightZeros): { nodes: Uint8Array[]; constants: Uint8Array[] } {
  const { entry, groups } = p;
  const w = entry.weight;
  const pre = `${w}.sl`;
  const { n, m } = pattern;
  const bits = entry.bits;
  const perByte = 8 / bits;
  const packed = p.indexLength;
  const count = groups * n;
  const rank = entry.dims.length;
  // Storage order [A, K, B] was encoded as [A, B, K]: the permuted shape, and the perm that restores the original.
  const permuted = [...entry.dims.slice(0, entry.axis), ...entry.dims.slice(entry.axis + 1), entry.dims[entry.axis]];
  const forward = [...Array(rank).keys()].filter((i) => i !== entry.axis).concat(entry.axis);
  const inverse = forward.map((_, i) => forward.indexOf(i));
  const identity = inverse.every((v, i) => v === i);
  const t = (s: string) => `${pre}/${s}`;
  const size = dtype.bits / 8;
  const zero = zeros.bytes.subarray(0, size);
  const zerosTensor = (): onnx.ITensorProto => ({ name: entry.zeros!, dataType: dtype.id, dims: [zeros.bytes.length / size], rawData: zeros.bytes.slice() });
  const finish = (nodes: onnx.INodeProto[], consts: onnx.ITensorProto[]) => {
    if (!identity) nodes.push({ name: t('transpose'), opType: 'Transpose', input: [t('permuted')], output: [w], attribute: [attr.ints('perm', inverse)] });
    entry.nodes = nodes.map((x) => x.name!);
    entry.constants = consts.map((c) => c.name!);
    return {
      nodes: nodes.map((x) => lenField(1, onnx.NodeProto.encode(x).finish())),
      constants: consts.map((c) => lenField(5, onnx.TensorProto.encode(c).finish())),
    };
  };
  if (p.opset < SCATTER_DECODE_MIN_OPSET) {
    const negative = entry.negativeZeros ? negativeZero(zero) : undefined;
    const g = gatherDecode(p, pattern, { name: entry.zeros!, axis: zeros.axis, count: zeros.bytes.length / size, dtypeId: dtype.id, negativeZero: negative }, p.opset);
    const nodes = [...g.nodes, { name: t('reshape'), opType: 'Reshape', input: [g.output, `${pre}_permuted_shape`], output: [identity ? w : t('permuted')] }];
    return finish(nodes, [zerosTensor(), ...g.consts, constant(`${pre}_permuted_shape`, 7, [rank], permuted)]);
  }

  const consts: onnx.ITensorProto[] = [
    constant(`${pre}_index_shape`, 7, [2], [packed, 1]),
    // Field i of a byte sits at bits i*b: shift it to the top, then down to the bottom (no BitwiseAnd before opset 18).
    constant(`${pre}_lshift`, 2, [perByte], [...Array(perByte).keys()].map((i) => 8 - bits * (i + 1))),
    constant(`${pre}_rshift`, 2, [1], [8 - bits]),
    constant(`${pre}_flat`, 7, [1], [-1]),
    constant(`${pre}_slice_start`, 7, [1], [0]),
    constant(`${pre}_slice_end`, 7, [1], [count]),
    constant(`${pre}_groups_shape`, 7, [2], [groups, n]),
    constant(`${pre}_dense_shape`, 7, [2], [groups, m]),
    constant(`${pre}_permuted_shape`, 7, [rank], permuted),
  ];
  const nodes: onnx.INodeProto[] = [
    { name: t('reshape_index'), opType: 'Reshape', input: [entry.index, `${pre}_index_shape`], output: [t('bytes')] },
    { name: t('shift_left'), opType: 'BitShift', input: [t('bytes'), `${pre}_lshift`], output: [t('high')], attribute: [attr.string('direction', 'LEFT')] },
    { name: t('shift_right'), opType: 'BitShift', input: [t('high'), `${pre}_rshift`], output: [t('fields')], attribute: [attr.string('direction', 'RIGHT')] },
    { name: t('flatten'), opType: 'Reshape', input: [t('fields'), `${pre}_flat`], output: [t('flat')] },
    { name: t('drop_padding'), opType: 'Slice', input: [t('flat'), `${pre}_slice_start`, `${pre}_slice_end`], output: [t('positions_flat')] },
    { name: t('positions'), opType: 'Reshape', input: [t('positions_flat'), `${pre}_groups_shape`], output: [t('positions_u8')] },
    { name: t('cast'), opType: 'Cast', input: [t('positions_u8')], output: [t('positions_i64')], attribute: [attr.int('to', 7)] },
    {
      name: t('zeros'),
      opType: 'ConstantOfShape',
      input: [`${pre}_dense_shape`],
      output: [t('zeros')],
      attribute: [attr.tensor('value', { name: '', dataType: dtype.id, dims: [1], rawData: zero.slice() })],
    },
    { name: t('scatter'), opType: 'ScatterElements', input: [t('zeros'), t('positions_i64'), entry.values], output: [t('groups')], attribute: [attr.int('axis', 1)] },
    { name: t('reshape'), opType: 'Reshape', input: [t('groups'), `${pre}_permuted_shape`], output: [identity ? w : t('permuted')] },
  ];
  if (zeros.axis >= 0) {
    // Zero points per channel: [C] reshaped to broadcast along its axis of the permuted weight, expanded to it, and
    // viewed as [G, M], in place of the one-zero ConstantOfShape.
    const channel = zeros.axis < entry.axis ? zeros.axis : zeros.axis - 1;
    consts.push(zerosTensor(), constant(`${pre}_zeros_shape`, 7, [rank], permuted.map((d, i) => (i === channel ? d : 1))));
    nodes.splice(
      nodes.findIndex((x) => x.name === t('zeros')),
      1,
      { name: t('zeros_channels'), opType: 'Reshape', input: [entry.zeros!, `${pre}_zeros_shape`], output: [t('zeros_channels')] },
      { name: t('zeros_expand'), opType: 'Expand', input: [t('zeros_channels'), `${pre}_permuted_shape`], output: [t('zeros_permuted')] },
      { name: t('zeros'), opType: 'Reshape', input: [t('zeros_permuted'), `${pre}_dense_shape`], output: [t('zeros')] },
    );
  }
  if (entry.negativeZeros) {
    // After the scatter, the masked places become -0.0: the mask is unpacked as the index is (1 bit per element) and
    // picks, per element, row 0 (the decoded value) or row 1 (a -0.0) of a [2, G*M] stack with GatherElements. Only
    // copying ops: ONNX Runtime's Where loses the sign of a zero, and it does not fold NonZero.
    const total = groups * m;
    consts.push(
      constant(`${pre}_negzero_shape`, 7, [2], [p.negativeZerosLength, 1]),
      constant(`${pre}_negzero_lshift`, 2, [8], [7, 6, 5, 4, 3, 2, 1, 0]),
      constant(`${pre}_negzero_rshift`, 2, [1], [7]),
      constant(`${pre}_negzero_end`, 7, [1], [total]),
      constant(`${pre}_row_shape`, 7, [2], [1, total]),
    );
    const scatter = nodes.findIndex((x) => x.name === t('scatter'));
    nodes.splice(
      scatter + 1,
      1,
      { name: t('negzero_reshape'), opType: 'Reshape', input: [entry.negativeZeros, `${pre}_negzero_shape`], output: [t('negzero_bytes')] },
      { name: t('negzero_left'), opType: 'BitShift', input: [t('negzero_bytes'), `${pre}_negzero_lshift`], output: [t('negzero_high')], attribute: [attr.string('direction', 'LEFT')] },
      { name: t('negzero_right'), opType: 'BitShift', input: [t('negzero_high'), `${pre}_negzero_rshift`], output: [t('negzero_bits')], attribute: [attr.string('direction', 'RIGHT')] },
      { name: t('negzero_flatten'), opType: 'Reshape', input: [t('negzero_bits'), `${pre}_flat`], output: [t('negzero_flat')] },
      { name: t('negzero_slice'), opType: 'Slice', input: [t('negzero_flat'), `${pre}_slice_start`, `${pre}_negzero_end`], output: [t('negzero_mask')] },
      { name: t('negzero_cast'), opType: 'Cast', input: [t('negzero_mask')], output: [t('negzero_mask_i32')], attribute: [attr.int('to', 6)] },
      { name: t('negzero_choice'), opType: 'Reshape', input: [t('negzero_mask_i32'), `${pre}_row_shape`], output: [t('negzero_choice')] },
      {
        name: t('negzero_fill'),
        opType: 'ConstantOfShape',
        input: [`${pre}_row_shape`],
        output: [t('negzero_row')],
        attribute: [attr.tensor('value', { name: '', dataType: dtype.id, dims: [1], rawData: negativeZero(zero) })],
      },
      { name: t('groups_row'), opType: 'Reshape', input: [t('groups'), `${pre}_row_shape`], output: [t('groups_row')] },
      { name: t('negzero_stack'), opType: 'Concat', input: [t('groups_row'), t('negzero_row')], output: [t('negzero_stack')], attribute: [attr.int('axis', 0)] },
      { name: t('negzero_pick'), opType: 'GatherElements', input: [t('negzero_stack'), t('negzero_choice')], output: [t('signed')], attribute: [attr.int('axis', 0)] },
      { name: t('reshape'), opType: 'Reshape', input: [t('signed'), `${pre}_permuted_shape`], output: [identity ? w : t('permuted')] },
    );
  }
  return finish(nodes, consts);
}

/** An initializer field (graph field 5) pointing at external data. */
export function externalTensorField(name: string, dataType: number, dims: number[], external: { location: string; offset: number; length: number }): Uint8Array {
  const t: onnx.ITensorProto = {
    name,
    dataType,
    dims,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: external.location },
      { key: 'offset', value: String(external.offset) },
      { key: 'length', value: String(external.length) },
    ],
  };
  return lenField(5, onnx.TensorProto.encode(t).finish());
}

/** The bytes of an initializer field holding `length` raw_data bytes, before and after which the data goes. */
export function rawTensorFieldHeader(name: string, dataType: number, dims: number[], length: number): Uint8Array {
  const head = onnx.TensorProto.encode({ name, dataType, dims }).finish();
  const raw = lenHeader(9, length);
  const field = lenHeader(5, head.length + raw.length + length);
  const out = new Uint8Array(field.length + head.length + raw.length);
  out.set(field);
  out.set(head, field.length);
  out.set(raw, field.length + head.length);
  return out;
}

/** The metadata_props field (ModelProto field 14) recording the compressed weights. */
export function metadataField(entries: CompressedEntry[]): Uint8Array {
  return lenField(14, onnx.StringStringEntryProto.encode({ key: COMPRESSED_KEY, value: JSON.stringify(entries) }).finish());
}

/** Edits removing every metadata_props entry (ModelProto field 14) with this key. */
export function removeMetadata(src: ByteSource, key: string): Edit[] {
  const edits: Edit[] = [];
  forEachField(src, 0, src.size, (f) => {
    if (f.no !== 14 || f.wire !== WIRE_LEN) return;
    let found = '';
    forEachField(src, f.pos, f.pos + f.len, (e) => {
      if (e.no === 1 && e.wire === WIRE_LEN) found = readString(src, e);
    });
    if (found === key) edits.push({ kind: 'remove', start: f.start, end: f.pos + f.len });
  });
  return edits;
}

/** Zero bytes of one element: the per-tensor zero point for integers, +0 otherwise. */
export function zeroElement(dtype: DType, zeroPoint: ZeroPoint | undefined): Uint8Array {
  const size = dtype.bits / 8;
  const out = new Uint8Array(size);
  const zp = zeroPoint?.values[0] ?? 0;
  const view = new DataView(out.buffer);
  if (size === 1) out[0] = zp & 0xff;
  else if (size === 2) view.setUint16(0, zp & 0xffff, true);
  else if (size === 4) view.setInt32(0, zp, true);
  return out;
}

/** Zero points as element bytes (two's complement, little-endian), `size` bytes each. */
export function zeroPointBytes(values: ArrayLike<number>, size: number): Uint8Array {
  const out = new Uint8Array(values.length * size);
  const word = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < values.length; i++) {
    word.setInt32(0, values[i], true);
    for (let b = 0; b < size; b++) out[i * size + b] = word.getUint8(b);
  }
  return out;
}

/**
 * The zero of each row of the [A*B, K] view (K = dims[kAxis]) from zeros per channel along `zeroAxis` (which is not
 * K): what the encoder pads with and the decoder fills with.
 */
export function rowZeros(dims: number[], kAxis: number, zeros: WeightZeros, size: number): Uint8Array {
  if (zeros.axis < 0) return zeros.bytes.subarray(0, size);
  const K = dims[kAxis];
  const A = dims.slice(0, kAxis).reduce((x, y) => x * y, 1);
  const B = dims.slice(kAxis + 1).reduce((x, y) => x * y, 1);
  const channels = dims[zeros.axis];
  const inner = dims.slice(zeros.axis + 1).reduce((x, y) => x * y, 1);
  const out = new Uint8Array(A * B * size);
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      // Element (a, k = 0, b) in storage order: its index along zeroAxis is its channel.
      const channel = Math.floor((a * K * B + b) / inner) % channels;
      out.set(zeros.bytes.subarray(channel * size, (channel + 1) * size), (a * B + b) * size);
    }
  }
  return out;
}

/** A values tensor and its uint8 index stream, as they are added to a graph. */
export interface StreamPair {
  valuesName: string;
  valuesType: number;
  valuesDims: number[];
  valuesLength: number;
  indexName: string;
  indexLength: number;
}

/**
 * The initializer fields of a values/index pair: pointing into the data file at `external`, or inline raw_data
 * produced on demand by `streams` (one weight in memory at a time; `release` drops it after writing).
 */
export function streamInitializers(
  pair: StreamPair,
  streams: () => { values: Uint8Array; index: Uint8Array },
  release: () => void,
  external?: { location: string; values: number; index: number },
): Bytes[] {
  const { valuesName, valuesType, valuesDims, valuesLength, indexName, indexLength } = pair;
  if (external) {
    return [
      externalTensorField(valuesName, valuesType, valuesDims, { location: external.location, offset: external.values, length: valuesLength }),
      externalTensorField(indexName, 2, [indexLength], { location: external.location, offset: external.index, length: indexLength }),
    ];
  }
  const valuesHeader = rawTensorFieldHeader(valuesName, valuesType, valuesDims, valuesLength);
  const indexHeader = rawTensorFieldHeader(indexName, 2, [indexLength], indexLength);
  return [
    {
      size: valuesHeader.length + valuesLength + indexHeader.length + indexLength,
      write: (out: Out) => {
        const s = streams();
        out.write(valuesHeader);
        out.write(s.values);
        out.write(indexHeader);
        out.write(s.index);
        release();
      },
    },
  ];
}
