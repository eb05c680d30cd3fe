// Ascend ATC `--sparsity=1` (domain.md §4.1): every 4 contiguous weights along K become 2 values and two 2-bit
// indexes.
//   index[0] = position (0..2) of the first non-zero among elements 0..2; 0 when none.
//   index[1] = position (0..2) of the last non-zero among elements 1..3, counted from element 1; 0 when none.
// value 0 is the element index[0] points at (e[index[0]]), value 1 the element index[1] points at
// (e[1 + index[1]]). A slot whose element is zero holds the zero (zero point). When both indexes point at the
// same element (a single non-zero at position 1 or 2) the value belongs to index[0] and value 1 is the zero.
//
// All 16 groups (e0 e1 e2 e3, X/Y non-zero; indexes in binary; "z" is the zero). Rows marked * are the
// documented ones from the ATC --sparsity page; the others follow from the two definitions. A later Ascend doc
// prints 00X0 -> 10,00, which contradicts the definition; we follow the ATC table.
//   0 0 0 0   00,00   z  z   *
//   0 0 0 X   00,10   z  X   *
//   0 0 X 0   10,01   X  z   *  (both point at e2)
//   0 0 X Y   10,10   X  Y   *
//   0 X 0 0   01,00   X  z      (both point at e1)
//   0 X 0 Y   01,10   X  Y   *
//   0 X Y 0   01,01   X  Y
//   X 0 0 0   00,00   X  z      (index[1] has no non-zero: 0, pointing at e1, a zero)
//   X 0 0 Y   00,10   X  Y
//   X 0 Y 0   00,01   X  Y
//   X Y 0 0   00,00   X  Y
//   0 X Y Z, X 0 Y Z, X Y 0 Z, X Y Z 0, X Y Z W: more than 2 non-zeros, rejected (prune to 2:4 first).
//
// Index packing (not published by Huawei; our choice, in the same LSB-first stream as bitmask.ts): the index
// stream is index[0] of group 0, index[1] of group 0, index[0] of group 1, ... over the groups in row-major
// order, flat across rows (a row with an odd number of groups shares its last byte with the next row). Stream
// entry i sits in byte i >> 2 at bits 2*(i&3)+1 .. 2*(i&3). So byte j holds groups 2j and 2j+1:
//   bits 1..0 index[0] of group 2j, bits 3..2 index[1] of group 2j,
//   bits 5..4 index[0] of group 2j+1, bits 7..6 index[1] of group 2j+1.
// The index bytes are 1/4 of the compressed values' element count (2 indexes per 2 values, 4 indexes per byte).
// The values stream is 2 values per group, rows * cols / 2 elements, row-major.
import {
  type DenseShape,
  EncodeError,
  GroupTooDenseError,
  type WeightMatrix,
  checkLength,
  checkShape,
  checkWeight,
  groupMaskText,
  zeroBytes,
  zeroFilledDense,
} from './weight';

export interface AscendCompressed extends DenseShape {
  /** 2 values per group of 4, rows * cols / 2 elements of elementSize bytes. */
  values: Uint8Array;
  /** 2-bit index pairs, 4 indexes per byte (see the module header): ceil(rows * cols / 8) bytes. */
  index: Uint8Array;
}

const NONE = -1;

/**
 * [index[0], index[1]] per group mask (bit i = element i non-zero), null for more than 2 non-zeros.
 * Written out from the definitions above; test/encode.test.ts derives it again from them.
 */
const ASCEND_INDEXES: readonly (readonly [number, number] | null)[] = [
  /* 0000 */ [0b00, 0b00],
  /* 1000 */ [0b00, 0b00],
  /* 0100 */ [0b01, 0b00],
  /* 1100 */ [0b00, 0b00],
  /* 0010 */ [0b10, 0b01],
  /* 1010 */ [0b00, 0b01],
  /* 0110 */ [0b01, 0b01],
  /* 1110 */ null,
  /* 0001 */ [0b00, 0b10],
  /* 1001 */ [0b00, 0b10],
  /* 0101 */ [0b01, 0b10],
  /* 1101 */ null,
  /* 0011 */ [0b10, 0b10],
  /* 1011 */ null,
  /* 0111 */ null,
  /* 1111 */ null,
];

/** Per mask: which element each value slot copies, or NONE for the zero. Derived from the index table. */
const VALUE_SOURCES: readonly (readonly [number, number] | null)[] = ASCEND_INDEXES.map((indexes, mask) => {
  if (indexes === null) return null;
  const first = indexes[0];
  const second = 1 + indexes[1]; // Ascend: index[1] counts from element 1
  const holds = (element: number) => ((mask >> element) & 1) === 1;
  return [holds(first) ? first : NONE, second !== first && holds(second) ? second : NONE] as const;
});

/** The Ascend [index[0], index[1]] of a group (bit i of `mask` = element i non-zero); undefined above 2 non-zeros. */
export function ascendIndexes(mask: number): readonly [number, number] | undefined {
  return ASCEND_INDEXES[mask & 0xf] ?? undefined;
}

/** Which element each of the group's two value slots holds (null: the zero), as the encoder stores them. */
export function ascendValueSources(mask: number): readonly [number | null, number | null] | undefined {
  const sources = VALUE_SOURCES[mask & 0xf];
  if (!sources) return undefined;
  return [sources[0] === NONE ? null : sources[0], sources[1] === NONE ? null : sources[1]];
}

/** Compresses a 2:4 weight the Ascend way. Rejects any group with more than 2 non-zeros, naming it. */
export function encodeAscend(weight: WeightMatrix): AscendCompressed {
  const name = 'Ascend encoding';
  const { zero, zeroStride } = checkWeight(weight, 4, name);
  const { rows, cols, elementSize, bytes, nonZero } = weight;
  const groupsPerRow = cols / 4;
  const values = new Uint8Array((rows * cols * elementSize) / 2);
  const index = new Uint8Array(Math.ceil((rows * groupsPerRow) / 2));

  for (let r = 0; r < rows; r++) {
    const z = r * zeroStride;
    for (let g = 0; g < groupsPerRow; g++) {
      const group = r * groupsPerRow + g;
      const first = r * cols + g * 4;
      const mask = (nonZero[first] !== 0 ? 1 : 0) | (nonZero[first + 1] !== 0 ? 2 : 0) | (nonZero[first + 2] !== 0 ? 4 : 0) | (nonZero[first + 3] !== 0 ? 8 : 0);
      const indexes = ASCEND_INDEXES[mask];
      const sources = VALUE_SOURCES[mask];
      if (indexes === null || sources === null) throw new GroupTooDenseError(r, g, 2, 4, groupMaskText(mask, 4));
      // Entries 2*group and 2*group + 1 of the index stream: one nibble, the low one for even groups.
      index[group >> 1] |= (indexes[0] | (indexes[1] << 2)) << ((group & 1) * 4);
      for (let slot = 0; slot < 2; slot++) {
        const source = sources[slot];
        const to = (group * 2 + slot) * elementSize;
        if (source === NONE) for (let b = 0; b < elementSize; b++) values[to + b] = zero[z + b];
        else {
          const from = (first + source) * elementSize;
          for (let b = 0; b < elementSize; b++) values[to + b] = bytes[from + b];
        }
      }
    }
  }
  return { rows, cols, elementSize, values, index };
}

/**
 * The dense weight back from Ascend values and indexes: value 0 goes to e[index[0]], value 1 to e[1 + index[1]]
 * unless that is the same element (then value 1 is the zero and is not written); every other place gets the zero.
 */
export function decodeAscend(compressed: AscendCompressed, zero?: Uint8Array): Uint8Array {
  const name = 'Ascend decoding';
  checkShape(compressed, 4, name);
  const { rows, cols, elementSize, values, index } = compressed;
  const groupsPerRow = cols / 4;
  const groups = rows * groupsPerRow;
  checkLength('the values', values.length, groups * 2 * elementSize, name);
  checkLength('the index', index.length, Math.ceil(groups / 2), name);
  const zeros = zeroBytes(zero, compressed, name);
  const dense = zeroFilledDense(compressed, zeros.zero, zeros.zeroStride);

  for (let group = 0; group < groups; group++) {
    const pair = (index[group >> 1] >> ((group & 1) * 4)) & 0xf;
    const first = pair & 3;
    const second = 1 + (pair >> 2);
    if (first === 3 || second === 4) {
      const row = Math.floor(group / groupsPerRow);
      throw new EncodeError(`${name}: row ${row}, group ${group % groupsPerRow}: index 11 is not a position 0..2 (index pair ${first.toString(2).padStart(2, '0')},${(pair >> 2).toString(2).padStart(2, '0')})`);
    }
    const groupStart = (Math.floor(group / groupsPerRow) * cols + (group % groupsPerRow) * 4) * elementSize;
    const from = group * 2 * elementSize;
    for (let b = 0; b < elementSize; b++) dense[groupStart + first * elementSize + b] = values[from + b];
    if (second !== first) {
      for (let b = 0; b < elementSize; b++) dense[groupStart + second * elementSize + b] = values[from + elementSize + b];
    }
  }
  return dense;
}
