// Generic N:M (domain.md §4.3): the portable format's index streams for any M <= 16, beside the kept values.
//
// Bit streams. Every packed stream here is one LSB-first bit stream: field i of b bits occupies stream bits
// i*b .. i*b + b - 1, and stream bit s is bit (s & 7) of byte (s >> 3), its least significant bit first. So:
//   - 2-bit positions: 4 per byte, position i at bits 2*(i&3)+1 .. 2*(i&3) of byte i >> 2;
//   - 4-bit fields: 2 per byte, the first in the low nibble;
//   - 3-bit fields cross bytes: field 2 is bits 7..6 of byte 0 (its low 2 bits) and bit 0 of byte 1;
//   - 16-bit group masks are two bytes, little-endian.
// The last byte is padded with zero bits.
//
// Two index streams, either of which decodes the values stream:
//   - group masks: M bits per group, bit i = element i kept (non-zero); groups in row-major order.
//   - positions: N positions of ceil(log2 M) bits per group, one per kept value, lined up with the values.
// Values: N per group (elementSize bytes each): the group's non-zeros in element order, then the zero for each
// missing one. A group with fewer than N non-zeros still lists N distinct positions: its non-zero positions in
// ascending order, then the smallest positions that hold a zero, ascending (1:4 mask 0001 -> positions [3, 0]),
// so positions[j] always says where values[j] goes and a scatter with them rebuilds the group.
import { MAX_M, type Pattern, patternName } from '../sparsity/pattern';
import {
  type DenseShape,
  EncodeError,
  GroupTooDenseError,
  type WeightMatrix,
  checkLength,
  checkShape,
  checkWeight,
  groupMaskAt,
  groupMaskText,
  zeroBytes,
  zeroFilledDense,
} from './weight';

/** The generic N:M compressed form: the values and both index streams (use either to decode). */
export interface NmCompressed extends DenseShape {
  pattern: Pattern;
  /** N values per group, rows * (cols / M) * N elements of elementSize bytes. */
  values: Uint8Array;
  /** M bits per group, packed LSB-first (see the module header). */
  groupMasks: Uint8Array;
  /** N positions per group of `positionBits` bits each, packed LSB-first, lined up with `values`. */
  positions: Uint8Array;
  positionBits: number;
}

/** Bits per kept-value position: ceil(log2 M), e.g. 1 for M = 2, 2 for M = 4, 3 for M = 8, 4 for M = 16. */
export function positionBits(m: number): number {
  checkM(m);
  return Math.ceil(Math.log2(m));
}

/**
 * Packs positions (each < 2^bitsPerIndex, bitsPerIndex 1..8) LSB-first: position i occupies stream bits
 * i*bitsPerIndex ..; for 2 bits, 4 positions per byte, position i at bits 2*(i&3) of byte i >> 2.
 */
export function packPositions(positions: Uint8Array, bitsPerIndex: number): Uint8Array {
  checkFieldBits(bitsPerIndex, 8, 'packPositions');
  return packFields(positions, bitsPerIndex);
}

/** Reads `count` positions of `bitsPerIndex` bits back from a packPositions stream. */
export function unpackPositions(packed: Uint8Array, count: number, bitsPerIndex: number): Uint8Array {
  checkFieldBits(bitsPerIndex, 8, 'unpackPositions');
  const positions = new Uint8Array(count);
  unpackFields(packed, count, bitsPerIndex, positions);
  return positions;
}

/** Packs one M-bit mask per group (bit i = element i kept), LSB-first: M = 4 puts group 0 in the low nibble. */
export function packGroupMasks(masks: Uint16Array, m: number): Uint8Array {
  checkM(m);
  return packFields(masks, m);
}

/** Reads `groups` M-bit masks back from a packGroupMasks stream. */
export function unpackGroupMasks(packed: Uint8Array, groups: number, m: number): Uint16Array {
  checkM(m);
  const masks = new Uint16Array(groups);
  unpackFields(packed, groups, m, masks);
  return masks;
}

/** Compresses a weight to N:M: values plus both index streams. Rejects any group with more than N non-zeros. */
export function encodeNm(weight: WeightMatrix, pattern: Pattern): NmCompressed {
  const { n, m } = checkPattern(pattern);
  const name = `${patternName(pattern)} encoding`;
  const { zero, zeroStride } = checkWeight(weight, m, name);
  const { rows, cols, elementSize, bytes, nonZero } = weight;
  const groupsPerRow = cols / m;
  const groups = rows * groupsPerRow;
  const values = new Uint8Array(groups * n * elementSize);
  const masks = new Uint16Array(groups);
  const positions = new Uint8Array(groups * n);

  for (let r = 0; r < rows; r++) {
    const z = r * zeroStride;
    for (let g = 0; g < groupsPerRow; g++) {
      const group = r * groupsPerRow + g;
      const first = r * cols + g * m;
      const mask = groupMaskAt(nonZero, first, m);
      masks[group] = mask;
      let slot = group * n;
      const end = slot + n;
      for (let i = 0; i < m; i++) {
        if (((mask >> i) & 1) === 0) continue;
        if (slot === end) throw new GroupTooDenseError(r, g, n, m, groupMaskText(mask, m));
        positions[slot] = i;
        const from = (first + i) * elementSize;
        const to = slot * elementSize;
        for (let b = 0; b < elementSize; b++) values[to + b] = bytes[from + b];
        slot++;
      }
      // Fewer than N non-zeros: the zero goes to the smallest positions that hold a zero, so positions stay distinct.
      for (let i = 0; slot < end; i++) {
        if ((mask >> i) & 1) continue;
        positions[slot] = i;
        const to = slot * elementSize;
        for (let b = 0; b < elementSize; b++) values[to + b] = zero[z + b];
        slot++;
      }
    }
  }
  const bits = positionBits(m);
  return { rows, cols, elementSize, pattern: { n, m }, values, groupMasks: packFields(masks, m), positions: packFields(positions, bits), positionBits: bits };
}

/** The dense weight from the values and the group-mask stream; places outside the masks get the zero. */
export function decodeNmFromMasks(compressed: Omit<NmCompressed, 'positions' | 'positionBits'>, zero?: Uint8Array): Uint8Array {
  const { n, m } = checkPattern(compressed.pattern);
  const name = `${patternName(compressed.pattern)} decoding`;
  const { dense, groupsPerRow, groups, elementSize } = prepareDecode(compressed, n, m, zero, name);
  checkLength('the group-mask stream', compressed.groupMasks.length, Math.ceil((groups * m) / 8), name);
  const masks = unpackGroupMasks(compressed.groupMasks, groups, m);
  const { values, cols } = compressed;
  for (let group = 0; group < groups; group++) {
    const mask = masks[group];
    const rowStart = Math.floor(group / groupsPerRow) * cols + (group % groupsPerRow) * m;
    let slot = group * n;
    const end = slot + n;
    for (let i = 0; i < m; i++) {
      if (((mask >> i) & 1) === 0) continue;
      if (slot === end) throw new GroupTooDenseError(Math.floor(group / groupsPerRow), group % groupsPerRow, n, m, groupMaskText(mask, m));
      const from = slot * elementSize;
      const to = (rowStart + i) * elementSize;
      for (let b = 0; b < elementSize; b++) dense[to + b] = values[from + b];
      slot++;
    }
  }
  return dense;
}

/** The dense weight from the values and the position stream: values[j] goes to positions[j] of its group. */
export function decodeNmFromPositions(compressed: Omit<NmCompressed, 'groupMasks'>, zero?: Uint8Array): Uint8Array {
  const { n, m } = checkPattern(compressed.pattern);
  const name = `${patternName(compressed.pattern)} decoding`;
  const { dense, groupsPerRow, groups, elementSize } = prepareDecode(compressed, n, m, zero, name);
  const bits = positionBits(m);
  if (compressed.positionBits !== bits) throw new EncodeError(`${name}: M = ${m} positions take ${bits} bits each, the stream says ${compressed.positionBits}`);
  checkLength('the position stream', compressed.positions.length, Math.ceil((groups * n * bits) / 8), name);
  const positions = unpackPositions(compressed.positions, groups * n, bits);
  const { values, cols } = compressed;
  for (let group = 0; group < groups; group++) {
    const row = Math.floor(group / groupsPerRow);
    const rowStart = row * cols + (group % groupsPerRow) * m;
    let seen = 0;
    for (let slot = group * n; slot < group * n + n; slot++) {
      const position = positions[slot];
      if (position >= m || (seen >> position) & 1) {
        throw new EncodeError(`${name}: row ${row}, group ${group % groupsPerRow}: position ${position} is ${position >= m ? `not below M = ${m}` : 'listed twice'}`);
      }
      seen |= 1 << position;
      const from = slot * elementSize;
      const to = (rowStart + position) * elementSize;
      for (let b = 0; b < elementSize; b++) dense[to + b] = values[from + b];
    }
  }
  return dense;
}

function prepareDecode(compressed: DenseShape & { values: Uint8Array }, n: number, m: number, zero: Uint8Array | undefined, name: string) {
  checkShape(compressed, m, name);
  const { rows, cols, elementSize } = compressed;
  const groupsPerRow = cols / m;
  const groups = rows * groupsPerRow;
  checkLength('the values', compressed.values.length, groups * n * elementSize, name);
  const zeros = zeroBytes(zero, compressed, name);
  return { dense: zeroFilledDense(compressed, zeros.zero, zeros.zeroStride), groupsPerRow, groups, elementSize };
}

function checkPattern(pattern: Pattern): Pattern {
  const { n, m } = pattern;
  checkM(m);
  if (!Number.isInteger(n) || n < 1 || n >= m) throw new EncodeError(`pattern ${n}:${m}: N (non-zeros kept per group) must be 1..M-1`);
  return pattern;
}

function checkM(m: number): void {
  if (!Number.isInteger(m) || m < 2 || m > MAX_M) throw new EncodeError(`M = ${m}: groups of 2..${MAX_M} elements are supported`);
}

function checkFieldBits(bits: number, max: number, what: string): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > max) throw new EncodeError(`${what}: ${bits} bits per field; 1..${max} are supported`);
}

/** LSB-first bit stream of `bits`-bit fields (bits 1..16); see the module header. */
function packFields(fields: Uint8Array | Uint16Array, bits: number): Uint8Array {
  const packed = new Uint8Array(Math.ceil((fields.length * bits) / 8));
  const limit = 1 << bits;
  for (let i = 0; i < fields.length; i++) {
    if (fields[i] >= limit) throw new EncodeError(`field ${i} = ${fields[i]} does not fit in ${bits} bits`);
  }
  if (8 % bits === 0) {
    // 1, 2, 4 or 8 bits: fields never straddle bytes, the fast common case (2:4 positions).
    const perByte = 8 / bits;
    for (let i = 0; i < fields.length; i++) packed[(i / perByte) | 0] |= fields[i] << ((i % perByte) * bits);
    return packed;
  }
  let bit = 0;
  for (let i = 0; i < fields.length; i++, bit += bits) {
    let value = fields[i];
    let at = bit;
    let left = bits;
    while (left > 0) {
      const shift = at & 7;
      const take = Math.min(8 - shift, left);
      packed[at >> 3] |= (value & ((1 << take) - 1)) << shift;
      value >>= take;
      at += take;
      left -= take;
    }
  }
  return packed;
}

function unpackFields(packed: Uint8Array, count: number, bits: number, out: Uint8Array | Uint16Array): void {
  const needed = Math.ceil((count * bits) / 8);
  if (packed.length < needed) throw new EncodeError(`${count} fields of ${bits} bits need ${needed} bytes, the stream has ${packed.length}`);
  if (8 % bits === 0) {
    const perByte = 8 / bits;
    const fieldMask = (1 << bits) - 1;
    for (let i = 0; i < count; i++) out[i] = (packed[(i / perByte) | 0] >> ((i % perByte) * bits)) & fieldMask;
    return;
  }
  let bit = 0;
  for (let i = 0; i < count; i++, bit += bits) {
    let value = 0;
    let got = 0;
    let at = bit;
    while (got < bits) {
      const shift = at & 7;
      const take = Math.min(8 - shift, bits - got);
      value |= ((packed[at >> 3] >> shift) & ((1 << take) - 1)) << got;
      got += take;
      at += take;
    }
    out[i] = value;
  }
}
