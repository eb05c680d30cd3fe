// The index encodings of domain.md §4, byte for byte: Ascend (4.1), NVIDIA/CUTLASS (4.2) and generic N:M (4.3).
// Masks are written in element order e0 e1 e2 e3 ('1010' = elements 0 and 2 non-zero), as the docs write them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ElementSize,
  GroupTooDenseError,
  type WeightMatrix,
  ascendIndexes,
  cutlassMetaOffset,
  decodeAscend,
  decodeNmFromMasks,
  decodeNmFromPositions,
  decodeNvidia,
  describeGroup,
  encodeAscend,
  encodeNm,
  encodeNvidia,
  nonZeroFlags,
  nvidiaNibble,
  packGroupMasks,
  packPositions,
  positionBits,
  reorderCutlassMeta,
  unpackGroupMasks,
  unpackPositions,
  unreorderCutlassMeta,
} from '../src/engine/encode';

/** '1010' -> bit i = element i. */
const mask = (text: string) => [...text].reduce((bits, c, i) => bits | (c === '1' ? 1 << i : 0), 0);
const maskText = (bits: number, m: number) => Array.from({ length: m }, (_, i) => ((bits >> i) & 1 ? '1' : '0')).join('');
const ALL_MASKS = Array.from({ length: 16 }, (_, bits) => maskText(bits, 4));
const VALID_MASKS = ALL_MASKS.filter((text) => [...text].filter((c) => c === '1').length <= 2);

/** A deterministic pseudo-random source (LCG), so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** An int8 weight [rows, cols] (two's complement bytes); non-zero means q != zeroPoint. */
function int8Weight(rows: number, cols: number, values: readonly number[], zeroPoint = 0): WeightMatrix {
  const bytes = Uint8Array.from(values, (v) => v & 0xff);
  return { rows, cols, elementSize: 1, bytes, nonZero: Uint8Array.from(values, (v) => (v !== zeroPoint ? 1 : 0)), zero: Uint8Array.of(zeroPoint & 0xff) };
}

/** An fp16 weight from raw half bit patterns; non-zero means (bits & 0x7fff) != 0 (domain.md §3). */
function fp16Weight(rows: number, cols: number, halves: readonly number[]): WeightMatrix {
  const words = Uint16Array.from(halves);
  return { rows, cols, elementSize: 2, bytes: new Uint8Array(words.buffer), nonZero: Uint8Array.from(halves, (h) => ((h & 0x7fff) !== 0 ? 1 : 0)) };
}

/** An fp32 weight; non-zero means x != 0 (NaN non-zero). */
function fp32Weight(rows: number, cols: number, floats: readonly number[]): WeightMatrix {
  const data = Float32Array.from(floats);
  return { rows, cols, elementSize: 4, bytes: new Uint8Array(data.buffer), nonZero: Uint8Array.from(floats, (x) => (x !== 0 ? 1 : 0)) };
}

/** One group of four int8 values from a mask: element i holds 10 * (i + 1) where non-zero, else the zero point. */
function groupValues(text: string, zeroPoint = 0): number[] {
  return [...text].map((c, i) => (c === '1' ? 10 * (i + 1) : zeroPoint));
}

/** A random 2:4-compliant weight: every group draws one of the 11 valid masks; non-zeros avoid the zero point. */
function random24(rows: number, cols: number, seed: number, zeroPoint = 0, elementSize: ElementSize = 1): WeightMatrix {
  const next = random(seed);
  const groups = (rows * cols) / 4;
  const nonZero = new Uint8Array(rows * cols);
  for (let g = 0; g < groups; g++) {
    const text = VALID_MASKS[Math.floor(next() * VALID_MASKS.length)];
    for (let i = 0; i < 4; i++) nonZero[g * 4 + i] = text[i] === '1' ? 1 : 0;
  }
  return fillValues(rows, cols, nonZero, next, zeroPoint, elementSize);
}

/** Element bytes for the given non-zero flags: zeros are the zero point (ints) or +0 (floats). */
function fillValues(rows: number, cols: number, nonZero: Uint8Array, next: () => number, zeroPoint: number, elementSize: ElementSize): WeightMatrix {
  const count = rows * cols;
  if (elementSize === 1) {
    const values = Array.from(nonZero, (nz) => {
      if (!nz) return zeroPoint;
      const q = Math.floor(next() * 255) - 127;
      return q === zeroPoint ? zeroPoint + 1 : q;
    });
    return int8Weight(rows, cols, values, zeroPoint);
  }
  if (elementSize === 2) return fp16Weight(rows, cols, Array.from(nonZero, (nz) => (nz ? 0x3c00 + Math.floor(next() * 0x0400) : 0)));
  const floats = Array.from({ length: count }, (_, i) => (nonZero[i] ? Math.fround(next() * 2 - 1) || 0.5 : 0));
  return fp32Weight(rows, cols, floats);
}

/** Reads the Ascend index pair of `group` back from the index bytes as strings ('10', '01'). */
function ascendPair(index: Uint8Array, group: number): [string, string] {
  const nibble = (index[group >> 1] >> ((group & 1) * 4)) & 0xf;
  return [(nibble & 3).toString(2).padStart(2, '0'), (nibble >> 2).toString(2).padStart(2, '0')];
}

const int8s = (bytes: Uint8Array) => Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));

describe('Ascend (domain.md 4.1)', () => {
  // The documented rows of the ATC --sparsity table; X = 30 or 30/40, values in element order.
  const documented: [string, string, string, [number, number]][] = [
    ['0 0 X Y', '10', '10', [30, 40]],
    ['0 X 0 Y', '01', '10', [20, 40]],
    ['0 0 0 X', '00', '10', [0, 40]],
    ['0 0 X 0', '10', '01', [30, 0]],
    ['0 0 0 0', '00', '00', [0, 0]],
  ];
  for (const [pattern, index0, index1, values] of documented) {
    test(`a ${pattern} group encodes as ${index0},${index1}`, () => {
      const text = pattern.replace(/ /g, '').replace(/[XY]/g, '1');
      const encoded = encodeAscend(int8Weight(1, 4, groupValues(text)));
      assert.deepEqual(ascendPair(encoded.index, 0), [index0, index1]);
      assert.deepEqual(int8s(encoded.values), values);
    });
  }

  // Every mask: [index[0], index[1], value 0, value 1]; element i holds 10 * (i + 1), zero point 0.
  const everyMask: Record<string, [string, string, number, number] | 'rejected'> = {
    '0000': ['00', '00', 0, 0],
    '0001': ['00', '10', 0, 40],
    '0010': ['10', '01', 30, 0],
    '0011': ['10', '10', 30, 40],
    '0100': ['01', '00', 20, 0],
    '0101': ['01', '10', 20, 40],
    '0110': ['01', '01', 20, 30],
    '0111': 'rejected',
    '1000': ['00', '00', 10, 0],
    '1001': ['00', '10', 10, 40],
    '1010': ['00', '01', 10, 30],
    '1011': 'rejected',
    '1100': ['00', '00', 10, 20],
    '1101': 'rejected',
    '1110': 'rejected',
    '1111': 'rejected',
  };
  for (const [text, expected] of Object.entries(everyMask)) {
    if (expected === 'rejected') {
      test(`a ${text} group is rejected, naming its row and group`, () => {
        // Row 1, group 1 of a 2x8 weight whose other groups are valid.
        const values = [...groupValues('1100'), ...groupValues('0011'), ...groupValues('1001'), ...groupValues(text)];
        const nonZeros = [...text].filter((c) => c === '1').length;
        assert.throws(
          () => encodeAscend(int8Weight(2, 8, values)),
          (err: unknown) =>
            err instanceof GroupTooDenseError &&
            err.row === 1 &&
            err.group === 1 &&
            err.message === `row 1, group 1 (columns 4..7) holds ${nonZeros} non-zeros (${text}); 2:4 keeps at most 2 of every 4: prune the weight to 2:4 first`,
        );
      });
    } else {
      const [index0, index1, value0, value1] = expected;
      test(`a ${text} group encodes as ${index0},${index1} with values ${value0}, ${value1} and decodes back`, () => {
        const weight = int8Weight(1, 4, groupValues(text));
        const encoded = encodeAscend(weight);
        assert.deepEqual(ascendPair(encoded.index, 0), [index0, index1]);
        assert.deepEqual(int8s(encoded.values), [value0, value1]);
        assert.deepEqual(decodeAscend(encoded, weight.zero), weight.bytes);
      });
    }
  }

  test('the index table follows from the two definitions for all 16 masks', () => {
    for (let bits = 0; bits < 16; bits++) {
      const nonZero = (i: number) => ((bits >> i) & 1) === 1;
      const count = [0, 1, 2, 3].filter(nonZero).length;
      if (count > 2) {
        assert.equal(ascendIndexes(bits), undefined, maskText(bits, 4));
        continue;
      }
      // index[0]: first non-zero among elements 0..2, else 0. index[1]: last non-zero among 1..3, from element 1, else 0.
      const first = [0, 1, 2].find(nonZero) ?? 0;
      const last = [3, 2, 1].find(nonZero);
      assert.deepEqual(ascendIndexes(bits), [first, last === undefined ? 0 : last - 1], maskText(bits, 4));
    }
  });

  test('index pairs pack four 2-bit indexes per byte, index[0] of the first group in bits 1..0', () => {
    // Groups 0 0 X Y (10,10), 0 X 0 Y (01,10), 0 0 X 0 (10,01): stream 2,2,1,2 | 2,1.
    const encoded = encodeAscend(int8Weight(1, 12, [...groupValues('0011'), ...groupValues('0101'), ...groupValues('0010')]));
    assert.deepEqual([...encoded.index], [0b10_01_10_10, 0b0000_01_10]);
    assert.deepEqual(encoded.index, packPositions(Uint8Array.of(2, 2, 1, 2, 2, 1), 2));
    assert.deepEqual(int8s(encoded.values), [30, 40, 20, 40, 30, 0]);
  });

  test('the index stream runs on across rows: three rows of one group fill one and a half bytes', () => {
    // Row 0: 1 0 0 1 (00,10); row 1: 0 1 1 0 (01,01); row 2: 0 0 0 1 (00,10).
    const encoded = encodeAscend(int8Weight(3, 4, [...groupValues('1001'), ...groupValues('0110'), ...groupValues('0001')]));
    assert.deepEqual([...encoded.index], [0b01_01_10_00, 0b0000_10_00]);
    assert.equal(encoded.values.length, 6);
  });

  test('int8 with zero point 3 round trips, and pruned places and empty slots hold 3', () => {
    const weight = random24(6, 20, 1, 3);
    const encoded = encodeAscend(weight);
    assert.equal(encoded.values.length, 60);
    assert.equal(encoded.index.length, 15); // 30 groups, 60 indexes, 4 per byte
    const decoded = decodeAscend(encoded, weight.zero);
    assert.deepEqual(decoded, weight.bytes);
    // A 0 0 0 0 group: both slots are the zero point; 0 1 0 0: the second slot is the zero point.
    const small = encodeAscend(int8Weight(1, 8, [3, 3, 3, 3, 3, -5, 3, 3], 3));
    assert.deepEqual(int8s(small.values), [3, 3, -5, 3]);
    assert.deepEqual(int8s(decodeAscend(small, Uint8Array.of(3))), [3, 3, 3, 3, 3, -5, 3, 3]);
  });

  test('fp16 and fp32 round trip', () => {
    for (const elementSize of [2, 4] as const) {
      const weight = random24(4, 16, 7 + elementSize, 0, elementSize);
      assert.deepEqual(decodeAscend(encodeAscend(weight)), weight.bytes, `element size ${elementSize}`);
    }
  });

  test('per-row zero points fill each row with its own zero', () => {
    const weight = int8Weight(2, 4, [1, 7, 1, 1, 2, 2, 9, 2]);
    weight.nonZero = Uint8Array.of(0, 1, 0, 0, 0, 0, 1, 0);
    weight.zero = Uint8Array.of(1, 2);
    const encoded = encodeAscend(weight);
    assert.deepEqual(int8s(encoded.values), [7, 1, 9, 2]);
    assert.deepEqual(int8s(decodeAscend(encoded, weight.zero)), [1, 7, 1, 1, 2, 2, 9, 2]);
  });

  test('a negative zero decodes as the zero (0), as every pruned place does', () => {
    const encoded = encodeAscend(fp32Weight(1, 4, [-0, 1.5, 0, -2]));
    assert.deepEqual(Array.from(new Float32Array(decodeAscend(encoded).buffer)), [0, 1.5, 0, -2]);
    assert.equal(Object.is(new Float32Array(decodeAscend(encoded).buffer)[0], 0), true);
  });

  test('decoding rejects index 11, naming the group', () => {
    const encoded = encodeAscend(int8Weight(1, 8, [0, 0, 0, 0, 0, 0, 0, 0]));
    encoded.index[0] = 0b0011_0000;
    assert.throws(() => decodeAscend(encoded), { message: 'Ascend decoding: row 0, group 1: index 11 is not a position 0..2 (index pair 11,00)' });
  });

  test('K not divisible by 4 is refused with the reason', () => {
    assert.throws(() => encodeAscend(int8Weight(1, 6, [1, 0, 0, 1, 0, 0])), {
      message: 'Ascend encoding: K = 6 columns is not divisible by M = 4; pad K or leave this layer dense',
    });
  });
});

/** CUTLASS host reorder_meta, written out literally from its steps (domain.md 4.2): returns a word offset. */
function literalReorderOffset(row: number, col: number, rows: number, wordBytes: 2 | 4): number {
  const group = wordBytes === 2 ? 32 : 16;
  const interweave = wordBytes === 2 ? 4 : 2;
  let destRow = Math.floor(row / group) * group + (row % 8) * interweave + Math.floor((row % group) / 8);
  let destCol = col;
  if (destRow % 2 === 0 && destCol % 2 === 1) {
    destRow++;
    destCol--;
  } else if (destRow % 2 === 1 && destCol % 2 === 0) {
    destRow--;
    destCol++;
  }
  // ColumnMajorInterleaved<2>
  return Math.floor(destCol / 2) * rows * 2 + destRow * 2 + (destCol % 2);
}

/** Plain metadata whose word (r, c) holds r * metaCols + c, so every reordered word names its source. */
function numberedMeta(rows: number, metaCols: number, wordBytes: 2 | 4): Uint8Array {
  const bytes = new Uint8Array(rows * metaCols * wordBytes);
  const view = new DataView(bytes.buffer);
  for (let w = 0; w < rows * metaCols; w++) {
    if (wordBytes === 2) view.setUint16(w * 2, w, true);
    else view.setUint32(w * 4, w, true);
  }
  return bytes;
}

function words(bytes: Uint8Array, wordBytes: 2 | 4): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: bytes.length / wordBytes }, (_, i) => (wordBytes === 2 ? view.getUint16(i * 2, true) : view.getUint32(i * 4, true)));
}

describe('NVIDIA / CUTLASS (domain.md 4.2)', () => {
  // Every mask: the nibble (bits 3..0) and the two stored values; element i holds 10 * (i + 1), zero 0.
  const everyMask: Record<string, [string, number, number] | 'rejected'> = {
    '1100': ['0100', 10, 20],
    '1010': ['1000', 10, 30],
    '0110': ['1001', 20, 30],
    '1001': ['1100', 10, 40],
    '0101': ['1101', 20, 40],
    '0011': ['1110', 30, 40],
    '0000': ['1110', 0, 0],
    '0001': ['1110', 0, 40],
    '0010': ['1110', 30, 0],
    '0100': ['1101', 20, 0],
    '1000': ['1100', 10, 0],
    '0111': 'rejected',
    '1011': 'rejected',
    '1101': 'rejected',
    '1110': 'rejected',
    '1111': 'rejected',
  };
  for (const [text, expected] of Object.entries(everyMask)) {
    if (expected === 'rejected') {
      test(`a ${text} group has no nibble and is rejected, naming its group`, () => {
        assert.equal(nvidiaNibble(mask(text)), undefined);
        const values = [...groupValues('1100'), ...groupValues(text), ...Array(24).fill(0)];
        assert.throws(() => encodeNvidia(int8Weight(1, 32, values)), (err: unknown) => err instanceof GroupTooDenseError && err.row === 0 && err.group === 1 && err.groupMask === text);
      });
    } else {
      const [nibble, value0, value1] = expected;
      test(`a ${text} group gets nibble ${nibble} and stores ${value0}, ${value1}`, () => {
        assert.equal(nvidiaNibble(mask(text)), parseInt(nibble, 2));
        // One int8 row of 32: the group first, then seven 0 0 0 0 groups (nibble 1110 each).
        const weight = int8Weight(1, 32, [...groupValues(text), ...Array(28).fill(0)]);
        const encoded = encodeNvidia(weight);
        assert.equal(words(encoded.metadata, 4)[0], (0xeeeeeee0 | parseInt(nibble, 2)) >>> 0);
        assert.deepEqual(int8s(encoded.values).slice(0, 2), [value0, value1]);
        assert.deepEqual(decodeNvidia(encoded, weight.zero), weight.bytes);
      });
    }
  }

  test('fp16 nibbles pack least significant first into one int16 per 16 elements', () => {
    // Groups 1100, 1010, 0110, 1001 -> nibbles 0100, 1000, 1001, 1100 -> 0xC984.
    const halves = [...('1100' + '1010' + '0110' + '1001')].map((c) => (c === '1' ? 0x3c00 : 0));
    const encoded = encodeNvidia(fp16Weight(1, 16, halves));
    assert.equal(encoded.metaWordBytes, 2);
    assert.equal(encoded.metaCols, 1);
    assert.deepEqual([...encoded.metadata], [0x84, 0xc9]);
    assert.equal(new DataView(encoded.metadata.buffer).getInt16(0, true), 0xc984 - 0x10000);
  });

  test('int8 nibbles pack least significant first into one int32 per 32 elements', () => {
    // Groups 1100, 1010, 0110, 1001, 0101, 0011, 0000, 1000 -> 0xCEEDC984.
    const texts = ['1100', '1010', '0110', '1001', '0101', '0011', '0000', '1000'];
    const encoded = encodeNvidia(int8Weight(1, 32, texts.flatMap((t) => groupValues(t))));
    assert.equal(encoded.metaWordBytes, 4);
    assert.deepEqual([...encoded.metadata], [0x84, 0xc9, 0xed, 0xce]);
    assert.equal(new DataView(encoded.metadata.buffer).getUint32(0, true), 0xceedc984);
    assert.deepEqual(int8s(encoded.values), [10, 20, 10, 30, 20, 30, 10, 40, 20, 40, 30, 40, 0, 0, 10, 0]);
  });

  test('int16 reordering: the first 2x2 blocks take rows 0, 8, 16, 24 column by column (worked by hand)', () => {
    // 32 rows x 4 words (a 32x64 fp16 weight): word (r, c) numbered r*4 + c.
    const reordered = words(reorderCutlassMeta(numberedMeta(32, 4, 2), 32, 4, 2), 2);
    const source = (r: number, c: number) => r * 4 + c;
    assert.deepEqual(reordered.slice(0, 8), [source(0, 0), source(8, 0), source(0, 1), source(8, 1), source(16, 0), source(24, 0), source(16, 1), source(24, 1)]);
    // Row 1 goes to reordered row 4 (r%8 * 4); row 31 to 31; column 2 starts the second column pair at 64.
    assert.equal(cutlassMetaOffset(1, 0, 32, 2), 8);
    assert.equal(cutlassMetaOffset(1, 1, 32, 2), 10);
    assert.equal(cutlassMetaOffset(0, 2, 32, 2), 64);
    assert.equal(cutlassMetaOffset(31, 3, 32, 2), 127);
  });

  test('int32 reordering: rows 0, 8 then 1, 9 in 16-row blocks (worked by hand)', () => {
    const reordered = words(reorderCutlassMeta(numberedMeta(16, 4, 4), 16, 4, 4), 4);
    const source = (r: number, c: number) => r * 4 + c;
    assert.deepEqual(reordered.slice(0, 8), [source(0, 0), source(8, 0), source(0, 1), source(8, 1), source(1, 0), source(9, 0), source(1, 1), source(9, 1)]);
  });

  for (const [rows, metaCols, wordBytes, label] of [
    [32, 4, 2, '32x64 fp16'],
    [64, 8, 2, '64x128 fp16'],
    [16, 4, 4, '16x128 int8'],
    [48, 6, 4, '48x192 int8'],
  ] as const) {
    test(`the ${label} reordering matches CUTLASS reorder_meta written out step by step, and undoes`, () => {
      const plain = numberedMeta(rows, metaCols, wordBytes);
      const reordered = reorderCutlassMeta(plain, rows, metaCols, wordBytes);
      const expected = new Array<number>(rows * metaCols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < metaCols; c++) expected[literalReorderOffset(r, c, rows, wordBytes)] = r * metaCols + c;
      assert.deepEqual(words(reordered, wordBytes), expected);
      assert.deepEqual(unreorderCutlassMeta(reordered, rows, metaCols, wordBytes), plain);
    });
  }

  test('fp16 32x64 and int8 32x128 (zero point 3) round trip through the CUTLASS/PyTorch layout', () => {
    for (const [weight, wordBytes] of [[random24(32, 64, 11, 0, 2), 2], [random24(32, 128, 12, 3, 1), 4]] as const) {
      const plain = encodeNvidia(weight);
      const cutlass = encodeNvidia(weight, 'cutlass');
      assert.equal(cutlass.layout, 'cutlass');
      assert.equal(cutlass.metaWordBytes, wordBytes);
      assert.deepEqual(cutlass.values, plain.values);
      assert.deepEqual(cutlass.metadata, reorderCutlassMeta(plain.metadata, weight.rows, plain.metaCols, wordBytes));
      assert.deepEqual(decodeNvidia(cutlass, weight.zero), weight.bytes);
      assert.deepEqual(decodeNvidia(plain, weight.zero), weight.bytes);
    }
  });

  test('int8 with zero point 3: filler slots and pruned places hold 3', () => {
    // 0 0 0 0 -> 1110 (3, 3); 0 X 0 0 -> 1101 (X, 3); then six 1 1 0 0 groups.
    const values = [3, 3, 3, 3, 3, -9, 3, 3, ...Array.from({ length: 6 }, () => [1, 2, 3, 3]).flat()];
    const weight = int8Weight(1, 32, values, 3);
    const encoded = encodeNvidia(weight);
    assert.deepEqual(int8s(encoded.values).slice(0, 4), [3, 3, -9, 3]);
    assert.deepEqual(int8s(decodeNvidia(encoded, weight.zero)), values);
  });

  test('metadata with PyTorch main\'s fillers (0100 -> 1001, 1000 -> 1000) decodes the same weight', () => {
    const weight = fp16Weight(1, 16, [0, 0x3c00, 0, 0, 0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const encoded = encodeNvidia(weight);
    assert.deepEqual([...encoded.metadata], [0xcd, 0xee]);
    encoded.metadata = Uint8Array.of(0x89, 0xee);
    assert.deepEqual(decodeNvidia(encoded), weight.bytes);
  });

  test('decoding rejects a nibble that names no two ordered positions', () => {
    const encoded = encodeNvidia(fp16Weight(1, 16, Array(16).fill(0)));
    encoded.metadata[1] = 0x1e; // group 3: 0001 = positions 1, 0
    assert.throws(() => decodeNvidia(encoded), { message: 'NVIDIA decoding: row 0, group 3: nibble 0001 names no two distinct ordered positions' });
  });

  test('each layout says what shape it needs', () => {
    assert.throws(() => encodeNvidia(fp16Weight(1, 8, Array(8).fill(0))), {
      message: 'NVIDIA encoding: NVIDIA metadata for fp16/bf16 needs K divisible by 16 (one 16-bit word per 16 elements), got K = 8',
    });
    assert.throws(() => encodeNvidia(int8Weight(2, 48, Array(96).fill(0))), {
      message: 'NVIDIA encoding: NVIDIA metadata for int8 needs K divisible by 32 (one 32-bit word per 32 elements), got K = 48',
    });
    assert.throws(() => encodeNvidia(fp16Weight(16, 32, Array(512).fill(0)), 'cutlass'), {
      message: 'NVIDIA encoding: the CUTLASS/PyTorch layout for fp16/bf16 needs rows divisible by 32 (got 16) and K divisible by 64 (got 32); pad the weight or use the plain layout',
    });
    assert.throws(() => encodeNvidia(int8Weight(32, 64, Array(2048).fill(0)), 'cutlass'), {
      message: 'NVIDIA encoding: the CUTLASS/PyTorch layout for int8 needs K divisible by 128 (got 64); pad the weight or use the plain layout',
    });
    assert.throws(() => reorderCutlassMeta(new Uint8Array(8 * 3 * 2), 8, 3, 2), {
      message: 'CUTLASS metadata reordering of 16-bit words needs rows divisible by 32 (got 8) and an even number of metadata words per row (got 3)',
    });
    assert.throws(() => encodeNvidia(fp32Weight(1, 16, Array(16).fill(0))), /4-byte elements are not supported/);
    // Plain metadata takes any number of rows.
    assert.equal(encodeNvidia(fp16Weight(3, 16, Array(48).fill(0))).metadata.length, 6);
  });
});

describe('generic N:M bitmask and positions (domain.md 4.3)', () => {
  test('positions pack LSB-first: 2 bits four to a byte, 3 bits across bytes', () => {
    assert.deepEqual([...packPositions(Uint8Array.of(1, 2, 3, 0, 3), 2)], [0b00_11_10_01, 0b11]);
    assert.deepEqual([...packPositions(Uint8Array.of(5, 2, 7), 3)], [0b11_010_101, 0b1]);
    assert.deepEqual([...packPositions(Uint8Array.of(1, 0, 1), 1)], [0b101]);
    assert.deepEqual([...packPositions(Uint8Array.of(9, 15, 4), 4)], [0xf9, 0x04]);
    assert.deepEqual([...unpackPositions(Uint8Array.of(0b11_010_101, 0b1), 3, 3)], [5, 2, 7]);
    assert.throws(() => packPositions(Uint8Array.of(4), 2), { message: 'field 0 = 4 does not fit in 2 bits' });
  });

  test('group masks pack LSB-first: M = 4 two per byte, M = 16 little-endian, M = 3 across bytes', () => {
    assert.deepEqual([...packGroupMasks(Uint16Array.of(0b0101, 0b0011, 0b1000), 4)], [0x35, 0x08]);
    assert.deepEqual([...packGroupMasks(Uint16Array.of(0xa5), 8)], [0xa5]);
    assert.deepEqual([...packGroupMasks(Uint16Array.of(0x1234, 0x8001), 16)], [0x34, 0x12, 0x01, 0x80]);
    assert.deepEqual([...packGroupMasks(Uint16Array.of(0b101, 0b011, 0b110), 3)], [0b10_011_101, 0b1]);
    assert.deepEqual([...unpackGroupMasks(Uint8Array.of(0x34, 0x12, 0x01, 0x80), 2, 16)], [0x1234, 0x8001]);
  });

  test('positions take ceil(log2 M) bits', () => {
    assert.deepEqual([2, 3, 4, 5, 8, 9, 16].map(positionBits), [1, 2, 2, 3, 3, 4, 4]);
  });

  test('a 2:4 group with one non-zero lists it first, then the smallest zero position', () => {
    const encoded = encodeNm(int8Weight(1, 12, [...groupValues('0001'), ...groupValues('0000'), ...groupValues('0110')]), { n: 2, m: 4 });
    assert.deepEqual([...unpackPositions(encoded.positions, 6, 2)], [3, 0, 0, 1, 1, 2]);
    assert.deepEqual(int8s(encoded.values), [40, 0, 0, 0, 20, 30]);
    assert.deepEqual([...encoded.groupMasks], [0b0000_1000, 0b0110]);
  });

  test('a 1:4 group keeps its one non-zero; a 4:8 group its four', () => {
    const oneOfFour = encodeNm(int8Weight(1, 8, [...groupValues('0010'), ...groupValues('0000')]), { n: 1, m: 4 });
    assert.deepEqual([...unpackPositions(oneOfFour.positions, 2, 2)], [2, 0]);
    assert.deepEqual(int8s(oneOfFour.values), [30, 0]);
    const fourOfEight = encodeNm(int8Weight(1, 8, [0, 5, 0, 6, 7, 0, 0, 8]), { n: 4, m: 8 });
    assert.deepEqual([...unpackPositions(fourOfEight.positions, 4, 3)], [1, 3, 4, 7]);
    assert.deepEqual([...fourOfEight.groupMasks], [0b1001_1010]);
    assert.deepEqual(int8s(fourOfEight.values), [5, 6, 7, 8]);
  });

  test('a group over N is rejected, naming it', () => {
    assert.throws(() => encodeNm(int8Weight(2, 8, [1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1]), { n: 2, m: 8 }), {
      message: 'row 1, group 0 (columns 0..7) holds 3 non-zeros (11000001); 2:8 keeps at most 2 of every 8: prune the weight to 2:8 first',
    });
  });

  for (const m of [2, 4, 8, 16]) {
    for (let n = 1; n < m; n++) {
      test(`${n}:${m} streams match the groups and both round trip (3 rows x 3 groups)`, () => {
        const next = random(m * 100 + n);
        const rows = 3;
        const cols = 3 * m;
        const nonZero = new Uint8Array(rows * cols);
        const expectedMasks: number[] = [];
        const expectedPositions: number[] = [];
        for (let g = 0; g < rows * 3; g++) {
          // Between 0 and N non-zeros at random places: full, partial and empty groups.
          const count = g === 0 ? n : g === 1 ? 0 : Math.floor(next() * (n + 1));
          let bits = 0;
          while (countBits(bits) < count) bits |= 1 << Math.floor(next() * m);
          expectedMasks.push(bits);
          const kept = Array.from({ length: m }, (_, i) => i).filter((i) => (bits >> i) & 1);
          const fillers = Array.from({ length: m }, (_, i) => i).filter((i) => !((bits >> i) & 1)).slice(0, n - kept.length);
          expectedPositions.push(...kept, ...fillers);
          for (let i = 0; i < m; i++) nonZero[g * m + i] = (bits >> i) & 1;
        }
        const weight = fillValues(rows, cols, nonZero, next, 3, 1);
        const encoded = encodeNm(weight, { n, m });
        const groups = rows * 3;
        assert.equal(encoded.groupMasks.length, Math.ceil((groups * m) / 8));
        assert.equal(encoded.positions.length, Math.ceil((groups * n * positionBits(m)) / 8));
        assert.deepEqual([...unpackGroupMasks(encoded.groupMasks, groups, m)], expectedMasks);
        assert.deepEqual([...unpackPositions(encoded.positions, groups * n, encoded.positionBits)], expectedPositions);
        const values = int8s(encoded.values);
        const dense = int8s(weight.bytes);
        expectedPositions.forEach((p, slot) => {
          const group = Math.floor(slot / n);
          assert.equal(values[slot], dense[group * m + p], `slot ${slot}`);
        });
        assert.deepEqual(decodeNmFromMasks(encoded, weight.zero), weight.bytes);
        assert.deepEqual(decodeNmFromPositions(encoded, weight.zero), weight.bytes);
      });
    }
  }

  test('fp16 and fp32 2:8 round trip', () => {
    for (const elementSize of [2, 4] as const) {
      const next = random(40 + elementSize);
      const nonZero = new Uint8Array(5 * 16);
      for (let g = 0; g < 10; g++) for (let k = 0; k < 2; k++) nonZero[g * 8 + Math.floor(next() * 8)] = 1;
      const weight = fillValues(5, 16, nonZero, next, 0, elementSize);
      const encoded = encodeNm(weight, { n: 2, m: 8 });
      assert.deepEqual(decodeNmFromMasks(encoded), weight.bytes);
      assert.deepEqual(decodeNmFromPositions(encoded), weight.bytes);
    }
  });

  test('decoding rejects a position listed twice in one group', () => {
    const encoded = encodeNm(int8Weight(1, 4, [0, 1, 0, 0]), { n: 2, m: 4 });
    encoded.positions = packPositions(Uint8Array.of(1, 1), 2);
    assert.throws(() => decodeNmFromPositions(encoded), { message: '2:4 decoding: row 0, group 0: position 1 is listed twice' });
  });
});

function countBits(bits: number): number {
  let count = 0;
  for (; bits; bits &= bits - 1) count++;
  return count;
}

describe('one group for the panel', () => {
  test('a 0 0 X 0 fp16 group: Ascend 10,01, NVIDIA filler 1110, bitmask 0100', () => {
    const halves = Uint16Array.of(0, 0x8000, 0x3c00, 0); // -0 counts as zero
    const group = describeGroup(new Uint8Array(halves.buffer), [0, 0, 1, 0], 2);
    assert.equal(group.mask, '0010');
    assert.equal(group.bitmask, '0100');
    assert.equal(group.nonZeros, 1);
    assert.deepEqual(group.keptValues, [Uint8Array.of(0x00, 0x3c)]);
    assert.equal(group.problem, undefined);
    assert.deepEqual(group.ascend, { index0: '10', index1: '01', sources: [2, null], values: [Uint8Array.of(0x00, 0x3c), Uint8Array.of(0, 0)] });
    assert.deepEqual(group.nvidia, { nibble: '1110', positions: [2, 3], sources: [2, null], values: [Uint8Array.of(0x00, 0x3c), Uint8Array.of(0, 0)] });
  });

  test('an int8 1 0 0 1 group with zero point 3', () => {
    const group = describeGroup(Uint8Array.of(7, 3, 3, 0xfb), [1, 0, 0, 1], 1, Uint8Array.of(3));
    assert.equal(group.bitmask, '1001');
    assert.deepEqual(group.ascend, { index0: '00', index1: '10', sources: [0, 3], values: [Uint8Array.of(7), Uint8Array.of(0xfb)] });
    assert.deepEqual(group.nvidia, { nibble: '1100', positions: [0, 3], sources: [0, 3], values: [Uint8Array.of(7), Uint8Array.of(0xfb)] });
  });

  test('a group of three non-zeros has no 2:4 encoding and says why', () => {
    const group = describeGroup(Uint8Array.of(1, 2, 3, 0), [1, 1, 1, 0], 1);
    assert.equal(group.nonZeros, 3);
    assert.equal(group.problem, '3 non-zeros: 2:4 keeps at most 2 of every 4, so this group has no 2:4 encoding until it is pruned');
    assert.equal(group.ascend, undefined);
    assert.equal(group.nvidia, undefined);
    assert.equal(group.bitmask, '0111');
  });

  test('nonZeroFlags turns a predicate into one flag per element', () => {
    assert.deepEqual([...nonZeroFlags(5, (i) => i % 2 === 1)], [0, 1, 0, 1, 0]);
  });
});
