// NVIDIA 2:4 metadata as PyTorch's semi-structured tensors (CUTLASS backend) encode it (domain.md §4.2).
//
// Per group of 4 a 4-bit nibble: bits 1..0 = position of the first kept element, bits 3..2 = position of the
// second; the values are the 2 elements at those positions (the zero where that element is zero). Nibbles
// (mask e0 e1 e2 e3 -> nibble):
//   1100 -> 0100   1010 -> 1000   0110 -> 1001   1001 -> 1100   0101 -> 1101   0011 -> 1110
// Fewer than two non-zeros use fixed fillers (domain.md §4.2, as PyTorch 2.1's conversion wrote them; PyTorch
// main writes 0100 -> 1001 and 1000 -> 1000 instead: both decode to the same weight):
//   0000 -> 1110   0001 -> 1110   0010 -> 1110   0100 -> 1101   1000 -> 1100
// More than two non-zeros are rejected: prune to 2:4 first.
//
// Plain metadata: per row, nibbles packed least significant first into words: int16 for 2-byte elements
// (fp16/bf16; 4 groups = 16 dense elements per word), int32 for 1-byte elements (int8; 8 groups = 32 dense
// elements). Words are stored little-endian, so the plain bytes of a row are its nibbles two per byte, the first
// group in the low nibble, whatever the word size; the word size matters for the row length (K % 16 or K % 32)
// and for the reordering.
//
// CUTLASS/PyTorch layout (NVIDIA calls the cuSPARSELt layout undocumented and subject to change; this is the
// layout CUTLASS's host reorder_meta and PyTorch's sparse_semi_structured_from_dense_cutlass produce, not a
// guarantee): each metadata word (r, c) of the [rows, metaCols] plain matrix moves to
//   row r' = r/g*g + (r%8)*i + (r%g)/8 with (g, i) = (32, 4) for int16 words, (16, 2) for int32 words,
//   then 2x2 blocks are swapped from Z to N order (even row & odd col moves down-left, odd row & even col
//   up-right), stored ColumnMajorInterleaved<2>: word offset (c'/2)*rows*2 + r'*2 + c'%2.
// The swap and the interleave together store each 2x2 block of (r', c) column by column, so this module computes
// offset = (c/2)*rows*2 + (r'/2)*4 + (r'%2) + 2*(c%2), the same permutation in one step.
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

/** 'plain': row-major words as packed; 'cutlass': reordered as CUTLASS reorder_meta does (the CUTLASS/PyTorch layout). */
export type NvidiaMetaLayout = 'plain' | 'cutlass';

export interface NvidiaCompressed extends DenseShape {
  elementSize: 1 | 2;
  /** The 2 kept elements of each group of 4, rows * cols / 2 elements, row-major (PyTorch's packed [rows, cols/2]). */
  values: Uint8Array;
  /** rows * metaCols words of metaWordBytes bytes each, little-endian, in `layout`. */
  metadata: Uint8Array;
  /** 2 (int16 words, fp16/bf16) or 4 (int32 words, int8). */
  metaWordBytes: 2 | 4;
  /** Words per row: cols / 16 (int16) or cols / 32 (int32). */
  metaCols: number;
  layout: NvidiaMetaLayout;
}

/** Nibble per group mask (bit i = element i non-zero), -1 for more than two non-zeros. */
const NIBBLES = new Int8Array([
  /* 0000 */ 0b1110, /* 1000 */ 0b1100, /* 0100 */ 0b1101, /* 1100 */ 0b0100,
  /* 0010 */ 0b1110, /* 1010 */ 0b1000, /* 0110 */ 0b1001, /* 1110 */ -1,
  /* 0001 */ 0b1110, /* 1001 */ 0b1100, /* 0101 */ 0b1101, /* 1101 */ -1,
  /* 0011 */ 0b1110, /* 1011 */ -1, /* 0111 */ -1, /* 1111 */ -1,
]);

/** The metadata nibble of a group (bit i of `mask` = element i non-zero); undefined above 2 non-zeros. */
export function nvidiaNibble(mask: number): number | undefined {
  const nibble = NIBBLES[mask & 0xf];
  return nibble < 0 ? undefined : nibble;
}

/** Metadata word size for an element size: int16 for fp16/bf16, int32 for int8 (as PyTorch picks them). */
export function nvidiaMetaWordBytes(elementSize: number): 2 | 4 {
  if (elementSize === 2) return 2;
  if (elementSize === 1) return 4;
  throw new EncodeError(
    `NVIDIA 2:4 metadata: ${elementSize}-byte elements are not supported; sparse tensor cores take 2:4 on fp16/bf16 (2 bytes) and int8/fp8 (1 byte), fp32 only as 1:2 (TF32): cast the weight first`,
  );
}

/**
 * What a shape lacks for NVIDIA metadata, or undefined when it fits.
 * 'plain' needs K % 16 (fp16/bf16) or K % 32 (int8): whole metadata words per row; any number of rows.
 * 'cutlass' needs what PyTorch's SparseSemiStructuredTensorCUTLASS asks of a weight: rows % 32 and
 * K % 64 (fp16/bf16) or K % 128 (int8).
 */
export function nvidiaShapeProblem(rows: number, cols: number, elementSize: number, layout: NvidiaMetaLayout): string | undefined {
  const wordBytes = nvidiaMetaWordBytes(elementSize);
  const kind = elementSize === 2 ? 'fp16/bf16' : 'int8';
  const perWord = wordBytes * 8; // dense elements per word: 4 per nibble
  if (layout === 'plain') {
    if (cols % perWord !== 0) return `NVIDIA metadata for ${kind} needs K divisible by ${perWord} (one ${wordBytes * 8}-bit word per ${perWord} elements), got K = ${cols}`;
    return undefined;
  }
  const colsNeeded = elementSize === 2 ? 64 : 128;
  const problems: string[] = [];
  if (rows % 32 !== 0) problems.push(`rows divisible by 32 (got ${rows})`);
  if (cols % colsNeeded !== 0) problems.push(`K divisible by ${colsNeeded} (got ${cols})`);
  if (problems.length === 0) return undefined;
  return `the CUTLASS/PyTorch layout for ${kind} needs ${problems.join(' and ')}; pad the weight or use the plain layout`;
}

/** Compresses a 2:4 weight to values + NVIDIA metadata in `layout`. Rejects any group with more than 2 non-zeros. */
export function encodeNvidia(weight: WeightMatrix, layout: NvidiaMetaLayout = 'plain'): NvidiaCompressed {
  const name = 'NVIDIA encoding';
  const metaWordBytes = nvidiaMetaWordBytes(weight.elementSize);
  const { zero, zeroStride } = checkWeight(weight, 4, name);
  const { rows, cols, bytes, nonZero } = weight;
  const elementSize = weight.elementSize as 1 | 2;
  const problem = nvidiaShapeProblem(rows, cols, elementSize, layout);
  if (problem) throw new EncodeError(`${name}: ${problem}`);
  const groupsPerRow = cols / 4;
  const metaCols = cols / (metaWordBytes * 8);
  const values = new Uint8Array((rows * cols * elementSize) / 2);
  const plain = new Uint8Array(rows * metaCols * metaWordBytes);

  for (let r = 0; r < rows; r++) {
    const z = r * zeroStride;
    for (let g = 0; g < groupsPerRow; g++) {
      const group = r * groupsPerRow + g;
      const first = r * cols + g * 4;
      const mask = (nonZero[first] !== 0 ? 1 : 0) | (nonZero[first + 1] !== 0 ? 2 : 0) | (nonZero[first + 2] !== 0 ? 4 : 0) | (nonZero[first + 3] !== 0 ? 8 : 0);
      const nibble = NIBBLES[mask];
      if (nibble < 0) throw new GroupTooDenseError(r, g, 2, 4, groupMaskText(mask, 4));
      // Least significant nibble first in a little-endian word: group g of a row is the low nibble of byte g/2.
      plain[group >> 1] |= nibble << ((group & 1) * 4);
      for (let slot = 0; slot < 2; slot++) {
        const position = slot === 0 ? nibble & 3 : nibble >> 2;
        const to = (group * 2 + slot) * elementSize;
        if (((mask >> position) & 1) === 0) for (let b = 0; b < elementSize; b++) values[to + b] = zero[z + b];
        else {
          const from = (first + position) * elementSize;
          for (let b = 0; b < elementSize; b++) values[to + b] = bytes[from + b];
        }
      }
    }
  }
  const metadata = layout === 'cutlass' ? reorderCutlassMeta(plain, rows, metaCols, metaWordBytes) : plain;
  return { rows, cols, elementSize, values, metadata, metaWordBytes, metaCols, layout };
}

/** The dense weight back from values and metadata (either layout); places the nibbles do not name get the zero. */
export function decodeNvidia(compressed: NvidiaCompressed, zero?: Uint8Array): Uint8Array {
  const name = 'NVIDIA decoding';
  checkShape(compressed, 4, name);
  const { rows, cols, elementSize, values, metaCols, metaWordBytes, layout } = compressed;
  if (metaWordBytes !== nvidiaMetaWordBytes(elementSize)) {
    throw new EncodeError(`${name}: ${elementSize}-byte elements take ${nvidiaMetaWordBytes(elementSize)}-byte metadata words, got ${metaWordBytes}`);
  }
  if (metaCols * metaWordBytes * 8 !== cols) throw new EncodeError(`${name}: ${metaCols} metadata words per row cover ${metaCols * metaWordBytes * 8} columns, not ${cols}`);
  const groupsPerRow = cols / 4;
  const groups = rows * groupsPerRow;
  checkLength('the values', values.length, groups * 2 * elementSize, name);
  checkLength('the metadata', compressed.metadata.length, rows * metaCols * metaWordBytes, name);
  const plain = layout === 'cutlass' ? unreorderCutlassMeta(compressed.metadata, rows, metaCols, metaWordBytes) : compressed.metadata;
  const zeros = zeroBytes(zero, compressed, name);
  const dense = zeroFilledDense(compressed, zeros.zero, zeros.zeroStride);

  for (let group = 0; group < groups; group++) {
    const nibble = (plain[group >> 1] >> ((group & 1) * 4)) & 0xf;
    const firstPosition = nibble & 3;
    const secondPosition = nibble >> 2;
    // Sparse tensor cores take only the 6 ordered pairs (PTX sparse mma metadata).
    if (firstPosition >= secondPosition) {
      const row = Math.floor(group / groupsPerRow);
      throw new EncodeError(`${name}: row ${row}, group ${group % groupsPerRow}: nibble ${nibble.toString(2).padStart(4, '0')} names no two distinct ordered positions`);
    }
    const groupStart = (Math.floor(group / groupsPerRow) * cols + (group % groupsPerRow) * 4) * elementSize;
    const from = group * 2 * elementSize;
    for (let b = 0; b < elementSize; b++) {
      dense[groupStart + firstPosition * elementSize + b] = values[from + b];
      dense[groupStart + secondPosition * elementSize + b] = values[from + elementSize + b];
    }
  }
  return dense;
}

/**
 * Where plain metadata word (row, col) lands in the CUTLASS/PyTorch layout, as a word offset; `rows` is the
 * metadata's row count (the weight's).
 */
export function cutlassMetaOffset(row: number, col: number, rows: number, wordBytes: 2 | 4): number {
  const group = wordBytes === 2 ? 32 : 16;
  const interweave = wordBytes === 2 ? 4 : 2;
  const reorderedRow = row - (row % group) + (row % 8) * interweave + (((row % group) / 8) | 0);
  // Z-to-N swap plus ColumnMajorInterleaved<2>: each 2x2 block is stored column by column.
  return (col >> 1) * rows * 2 + (reorderedRow >> 1) * 4 + (reorderedRow & 1) + (col & 1) * 2;
}

/** What the reordering itself needs: whole row blocks (32 rows for int16 words, 16 for int32) and whole 2x2 blocks. */
export function cutlassReorderProblem(rows: number, metaCols: number, wordBytes: 2 | 4): string | undefined {
  const group = wordBytes === 2 ? 32 : 16;
  const problems: string[] = [];
  if (rows % group !== 0) problems.push(`rows divisible by ${group} (got ${rows})`);
  if (metaCols % 2 !== 0) problems.push(`an even number of metadata words per row (got ${metaCols})`);
  if (problems.length === 0) return undefined;
  return `CUTLASS metadata reordering of ${wordBytes * 8}-bit words needs ${problems.join(' and ')}`;
}

/** Plain row-major metadata words -> the CUTLASS/PyTorch layout. */
export function reorderCutlassMeta(plain: Uint8Array, rows: number, metaCols: number, wordBytes: 2 | 4): Uint8Array {
  return permuteMeta(plain, rows, metaCols, wordBytes, 'reorder');
}

/** The CUTLASS/PyTorch layout -> plain row-major metadata words (the inverse of reorderCutlassMeta). */
export function unreorderCutlassMeta(reordered: Uint8Array, rows: number, metaCols: number, wordBytes: 2 | 4): Uint8Array {
  return permuteMeta(reordered, rows, metaCols, wordBytes, 'unreorder');
}

function permuteMeta(words: Uint8Array, rows: number, metaCols: number, wordBytes: 2 | 4, direction: 'reorder' | 'unreorder'): Uint8Array {
  if (wordBytes !== 2 && wordBytes !== 4) throw new EncodeError(`CUTLASS metadata words are 2 or 4 bytes, got ${wordBytes}`);
  const problem = cutlassReorderProblem(rows, metaCols, wordBytes);
  if (problem) throw new EncodeError(problem);
  checkLength('the metadata', words.length, rows * metaCols * wordBytes, 'CUTLASS metadata reordering');
  const out = new Uint8Array(words.length);
  const reorder = direction === 'reorder';
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < metaCols; c++) {
      const plainAt = (r * metaCols + c) * wordBytes;
      const reorderedAt = cutlassMetaOffset(r, c, rows, wordBytes) * wordBytes;
      const to = reorder ? reorderedAt : plainAt;
      const from = reorder ? plainAt : reorderedAt;
      for (let b = 0; b < wordBytes; b++) out[to + b] = words[from + b];
    }
  }
  return out;
}
