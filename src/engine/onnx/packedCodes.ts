// Bit-packed integer codes stored in uint8 blobs, as ONNX Runtime's MatMulNBits and QMoE keep them (its
// docs/ContribOperators.md: "bit-packed format along the K dimension, packed within each block_size"; for 4 bits
// "the first 4 bits are stored in the lower 4 bits of a byte"). A row of K codes is stored as k_blocks blobs of
// block_size * bits / 8 bytes; the last blob may hold padding codes beyond K. The reader presents the codes as a
// uint8 tensor [..., K] with one byte per code and no padding, so statistics count only real weights.
import { type DType, dtypeById } from './dtypes';
import { DerivedByteReader } from './derivedReader';
import type { ElementReader } from './tensorData';

/** How a view of codes maps onto the stored uint8 tensor. The view's dims are the TensorRef's own: [...rows, K]. */
export interface PackedCodes {
  bits: 2 | 4 | 8;
  /** Codes per row (the reduction axis K, the view's last axis). */
  K: number;
  /** Codes per stored blob; the last blob of a row is padded when K is not a multiple of it. */
  blockSize: number;
  /** The stored tensor's dims (uint8). */
  storedDims: number[];
}

export function blocksPerRow(codes: PackedCodes): number {
  return Math.ceil(codes.K / codes.blockSize);
}

export function blobBytes(codes: PackedCodes): number {
  return (codes.blockSize * codes.bits) / 8;
}

const UINT8 = dtypeById(2)!;

/** Reads the codes of `view` (one byte each) from `stored`, a reader over the packed uint8 bytes. */
export class PackedCodesReader extends DerivedByteReader {
  readonly dtype: DType = UINT8;
  readonly splittable = true;
  constructor(
    readonly stored: ElementReader,
    readonly codes: PackedCodes,
    readonly count: number,
  ) {
    super();
  }

  readInto(start: number, count: number, target: Uint8Array): void {
    if (count === 0) return;
    const { K } = this.codes;
    const firstRow = Math.floor(start / K);
    const lastRow = Math.floor((start + count - 1) / K);
    // The stored rows covering the run, read at once (padding included), then unpacked.
    const rowBytes = blocksPerRow(this.codes) * blobBytes(this.codes);
    const bytes = this.stored.read(firstRow * rowBytes, (lastRow - firstRow + 1) * rowBytes).bytes;
    let i = 0;
    for (let row = firstRow; row <= lastRow; row++) {
      const k0 = row === firstRow ? start - row * K : 0;
      const k1 = Math.min(K, start + count - row * K);
      unpackRow(bytes, (row - firstRow) * rowBytes, this.codes, k0, k1, target, i);
      i += k1 - k0;
    }
  }

  /**
   * Elements [start, start + count) as distances |code - zp| into `target`, one byte each, with `points` holding one
   * zero point per (row, block), or one for all (4-bit codes: unpacking and the distance in one pass over each byte, for the SIMD
   * scan). Returns how many codes equal a non-zero zero point.
   */
  readDistances(start: number, count: number, target: Uint8Array, points: ArrayLike<number> | number): number {
    if (count === 0) return 0;
    const { K, blockSize } = this.codes;
    const blocks = blocksPerRow(this.codes);
    const blob = blobBytes(this.codes);
    const rowBytes = blocks * blob;
    const firstRow = Math.floor(start / K);
    const lastRow = Math.floor((start + count - 1) / K);
    const stored = this.stored.read(firstRow * rowBytes, (lastRow - firstRow + 1) * rowBytes).bytes;
    // Aligned copies in and out, so that whole words of 4 bytes (8 codes) go through at once: blobs are multiples of 8 bytes.
    const input = this.scratch('in', stored.length);
    input.bytes.set(stored);
    const output = this.scratch('out', count);
    const bytes = input.bytes;
    const words = input.words;
    const out = output.bytes;
    const outWords = output.words;
    let at = 0;
    let equal = 0;
    for (let row = firstRow; row <= lastRow; row++) {
      const rowStart = (row - firstRow) * rowBytes;
      let k = row === firstRow ? start - row * K : 0;
      const k1 = Math.min(K, start + count - row * K);
      while (k < k1) {
        const b = Math.floor(k / blockSize);
        const point = typeof points === 'number' ? points : points[row * blocks + b];
        const { pair, zeros } = distanceTable(point);
        const counted = point !== 0 ? 1 : 0;
        const end = Math.min(k1, (b + 1) * blockSize);
        let byte = rowStart + b * blob + ((k - b * blockSize) >> 1);
        if ((k - b * blockSize) & 1) {
          const d = pair[bytes[byte++]] >> 8;
          out[at++] = d;
          equal += counted & (d === 0 ? 1 : 0);
          k++;
        }
        while (k + 1 < end) {
          if (LITTLE_ENDIAN && (byte & 3) === 0 && (at & 3) === 0 && k + 8 <= end) {
            const v = words[byte >> 2];
            const w = at >> 2;
            outWords[w] = pair[v & 255] | (pair[(v >>> 8) & 255] << 16);
            outWords[w + 1] = pair[(v >>> 16) & 255] | (pair[v >>> 24] << 16);
            if (counted) equal += zeros[v & 255] + zeros[(v >>> 8) & 255] + zeros[(v >>> 16) & 255] + zeros[v >>> 24];
            byte += 4;
            at += 8;
            k += 8;
          } else {
            const v = bytes[byte++];
            const d = pair[v];
            out[at++] = d & 255;
            out[at++] = d >> 8;
            if (counted) equal += zeros[v];
            k += 2;
          }
        }
        if (k < end) {
          const d = pair[bytes[byte]] & 255;
          out[at++] = d;
          equal += counted & (d === 0 ? 1 : 0);
          k++;
        }
      }
    }
    target.set(out.subarray(0, count));
    return equal;
  }

  private buffers: Record<'in' | 'out', { bytes: Uint8Array; words: Uint32Array }> = {
    in: { bytes: new Uint8Array(0), words: new Uint32Array(0) },
    out: { bytes: new Uint8Array(0), words: new Uint32Array(0) },
  };

  private scratch(which: 'in' | 'out', length: number): { bytes: Uint8Array; words: Uint32Array } {
    if (this.buffers[which].bytes.length < length + 8) {
      const words = new Uint32Array(Math.ceil((Math.max(length, this.buffers[which].bytes.length * 2) + 8) / 4));
      this.buffers[which] = { bytes: new Uint8Array(words.buffer), words };
    }
    return this.buffers[which];
  }
}

/** Words of 4 bytes are read and written in the machine's order: the word path assumes the low byte first. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Byte b's two 4-bit codes, low nibble first, as one little-endian 16-bit word of two bytes. */
export const NIBBLE_PAIRS = Uint16Array.from({ length: 256 }, (_, b) => (b & 15) | ((b >> 4) << 8));

/**
 * Per zero point 0..15: the distances of each byte's two codes from it as one little-endian 16-bit pair (low code
 * first), and how many of the two equal it.
 */
const DISTANCE_TABLES = Array.from({ length: 16 }, (_, point) => {
  const pair = new Uint16Array(256);
  const zeros = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const lo = Math.abs((v & 0xf) - point);
    const hi = Math.abs((v >> 4) - point);
    pair[v] = lo | (hi << 8);
    zeros[v] = (lo === 0 ? 1 : 0) + (hi === 0 ? 1 : 0);
  }
  return { pair, zeros };
});

function distanceTable(point: number): { pair: Uint16Array; zeros: Uint8Array } {
  const table = DISTANCE_TABLES[point];
  if (!table) throw new RangeError(`zero point ${point} is no 4-bit code`);
  return table;
}

/** Codes k0..k1 of the row whose stored bytes start at `rowStart`, one byte each into `out` from `at`. */
function unpackRow(bytes: Uint8Array, rowStart: number, codes: PackedCodes, k0: number, k1: number, out: Uint8Array, at: number): void {
  const { bits, blockSize } = codes;
  const blob = blobBytes(codes);
  const mask = (1 << bits) - 1;
  if (bits === 4) {
    unpackRow4(bytes, rowStart, blockSize, blob, k0, k1, out, at);
    return;
  }
  for (let k = k0; k < k1; k++) {
    const j = k % blockSize;
    const bit = j * bits;
    out[at++] = (bytes[rowStart + ((k - j) / blockSize) * blob + (bit >> 3)] >> (bit & 7)) & mask;
  }
}

/** 4-bit codes, a byte (two codes) at a time inside each block: int4 LLMs hold billions of them. */
function unpackRow4(bytes: Uint8Array, rowStart: number, blockSize: number, blob: number, k0: number, k1: number, out: Uint8Array, at: number): void {
  let k = k0;
  while (k < k1) {
    const j = k % blockSize;
    const blockEnd = Math.min(k1, k - j + blockSize);
    let byte = rowStart + ((k - j) / blockSize) * blob + (j >> 1);
    if (j & 1) {
      out[at++] = bytes[byte++] >> 4;
      k++;
    }
    for (; k + 1 < blockEnd; k += 2) {
      const b = bytes[byte++];
      out[at++] = b & 0xf;
      out[at++] = b >> 4;
    }
    if (k < blockEnd) {
      out[at++] = bytes[byte] & 0xf;
      k++;
    }
  }
}

/** Unpacks every code of a stored tensor's bytes: [rows x K], one byte per code. */
export function unpackCodes(stored: Uint8Array, codes: PackedCodes, rows: number): Uint8Array {
  const out = new Uint8Array(rows * codes.K);
  const rowBytes = blocksPerRow(codes) * blobBytes(codes);
  if (codes.bits === 4 && LITTLE_ENDIAN && rowBytes * 2 === codes.K) {
    // Rows with no padding nibble (an LLM's packed zero points: millions): one byte to two codes in one 16-bit store.
    const out16 = new Uint16Array(out.buffer, 0, out.length >> 1);
    const n = rows * rowBytes;
    for (let i = 0; i < n; i++) out16[i] = NIBBLE_PAIRS[stored[i]];
    return out;
  }
  for (let r = 0; r < rows; r++) unpackRow(stored, r * rowBytes, codes, 0, codes.K, out, r * codes.K);
  return out;
}

/** Writes codes back into a copy of the stored bytes: only the K real codes of each row; padding stays as it was. */
export function repackCodes(stored: Uint8Array, values: Uint8Array, codes: PackedCodes, rows: number): Uint8Array {
  const out = stored.slice();
  const { K, bits, blockSize } = codes;
  const blob = blobBytes(codes);
  const rowBytes = blocksPerRow(codes) * blob;
  const mask = (1 << bits) - 1;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < K; k++) {
      const j = k % blockSize;
      const bit = j * bits;
      const at = r * rowBytes + ((k - j) / blockSize) * blob + (bit >> 3);
      const shift = bit & 7;
      out[at] = (out[at] & ~(mask << shift)) | ((values[r * K + k] & mask) << shift);
    }
  }
  return out;
}
