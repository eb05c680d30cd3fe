// 4-bit packed codes (MatMulNBits, QMoE) as uint8 distances |code - zero point| for the SIMD scan, unpacked and
// measured by the WebAssembly SIMD kernel (kernel.as.ts packedDistances4): the JavaScript pass (packedCodes.ts
// readDistances) cost most of an int4 LLM's scan. Same distances and counts; null where WebAssembly SIMD is missing.
import { LITTLE_ENDIAN, NIBBLE_PAIRS, type PackedCodesReader, blobBytes, blocksPerRow } from '../../onnx/packedCodes';
import { type PackedZeroPoints, readPackedZeroPointRows } from '../decode';
import { kernelInstance } from './simdScan';

interface UnpackExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  packedDistances4(stored: number, rowBytes: number, rows: number, K: number, k0: number, kEnd: number, blockSize: number, points: number, out: number): number;
}

let instance: UnpackExports | null | undefined;

/**
 * An instance of its own, not the scan's: its memory grows with the rows of each read, while the scan's views into
 * its instance's memory must not move during a scan.
 */
function unpacker(): UnpackExports | null {
  if (instance === undefined) instance = kernelInstance<UnpackExports>();
  return instance;
}

const align = (at: number) => (at + 15) & ~15;

/**
 * Elements [start, start + count) of `reader` (4-bit codes) as distances into `target`, with `points` one zero point
 * per (row, block) or one for all; returns how many codes equal a non-zero zero point, or null without the kernel.
 */
export function packedDistancesSimd(reader: PackedCodesReader, start: number, count: number, target: Uint8Array, points: ArrayLike<number> | number | PackedZeroPoints): number | null {
  const k = unpacker();
  if (k === null) return null;
  if (count === 0) return 0;
  const { K, blockSize } = reader.codes;
  const blocks = blocksPerRow(reader.codes);
  const rowBytes = blocks * blobBytes(reader.codes);
  const firstRow = Math.floor(start / K);
  const lastRow = Math.floor((start + count - 1) / K);
  const rows = lastRow - firstRow + 1;
  const storedBytes = rows * rowBytes;
  // [stored rows | a zero point byte per (row, block) | distances]: vector loads stay inside a block's bytes.
  const pStored = align(k.heapBase());
  const pPoints = align(pStored + storedBytes);
  const pOut = align(pPoints + rows * blocks);
  const need = pOut + count - k.memory.buffer.byteLength;
  if (need > 0) k.memory.grow(Math.ceil(need / 65536));
  const memory = new Uint8Array(k.memory.buffer);
  readPackedRows(reader, firstRow, rows, points, memory, pStored, pPoints);
  const equal = k.packedDistances4(pStored, rowBytes, rows, K, start - firstRow * K, start + count - lastRow * K, blockSize, pPoints, pOut);
  target.set(memory.subarray(pOut, pOut + count));
  return equal;
}

/**
 * Stored rows [firstRow, firstRow + rows) of `reader` into `memory` at `pStored` (read straight from the file), and
 * their zero points at `pPoints` (readPackedPoints). Returns what readPackedPoints returns.
 */
export function readPackedRows(reader: PackedCodesReader, firstRow: number, rows: number, points: ArrayLike<number> | number | PackedZeroPoints, memory: Uint8Array, pStored: number, pPoints: number, keepPacked = false): number {
  readPackedCodes(reader, firstRow, rows, memory, pStored);
  return readPackedPoints(points, blocksPerRow(reader.codes), firstRow, rows, memory, pPoints, keepPacked);
}

/** Stored rows [firstRow, firstRow + rows) of `reader` into `memory` at `pStored`, read straight from the file. */
export function readPackedCodes(reader: PackedCodesReader, firstRow: number, rows: number, memory: Uint8Array, pStored: number): void {
  const rowBytes = blocksPerRow(reader.codes) * blobBytes(reader.codes);
  const storedBytes = rows * rowBytes;
  reader.stored.readInto(firstRow * rowBytes, storedBytes, memory.subarray(pStored, pStored + storedBytes));
}

/**
 * The zero points of rows [firstRow, firstRow + rows) (`blocks` to a row) at `pPoints`: one byte per (row, block),
 * or, with `keepPacked` and packed zero points one packed row per code row, their packed rows as stored (read from
 * the file where they were left there). Returns 0, or the bytes of a packed row when they were kept packed.
 */
export function readPackedPoints(points: ArrayLike<number> | number | PackedZeroPoints, blocks: number, firstRow: number, rows: number, memory: Uint8Array, pPoints: number, keepPacked = false): number {
  if (keepPacked && typeof points === 'object' && 'rowBytes' in points && points.perRow === blocks) {
    // The kernel reads the nibbles itself (scanPacked4): a copy, not a byte per value made here.
    readPackedZeroPointRows(points, firstRow, rows, memory.subarray(pPoints, pPoints + rows * points.rowBytes));
    return points.rowBytes;
  }
  if (typeof points === 'number') memory.fill(points, pPoints, pPoints + rows * blocks);
  else if (points instanceof Uint8Array) memory.set(points.subarray(firstRow * blocks, (firstRow + rows) * blocks), pPoints);
  else if ('rowBytes' in points && points.perRow === blocks) {
    // One packed row per code row: this read's rows only (from the file where they were left there).
    const packedRow = points.rowBytes;
    const packed = packedScratch(rows * packedRow);
    readPackedZeroPointRows(points, firstRow, rows, packed);
    if (packedRow * 2 === blocks && LITTLE_ENDIAN && pPoints % 2 === 0) {
      // No padding nibble (MatMulNBits with an even number of blocks): a byte to two values in one 16-bit store.
      const out16 = new Uint16Array(memory.buffer, pPoints, (rows * blocks) >> 1);
      for (let i = 0; i < out16.length; i++) out16[i] = NIBBLE_PAIRS[packed[i]];
    } else {
      for (let r = 0, at = pPoints; r < rows; r++) {
        for (let i = 0; i < blocks; i++, at++) {
          const byte = packed[r * packedRow + (i >> 1)];
          memory[at] = i & 1 ? byte >> 4 : byte & 15;
        }
      }
    }
  } else if ('rowBytes' in points) {
    // Packed zero points: value f (= row x blocks + block) is value f mod perRow of packed row f / perRow.
    const { bytes, perRow, rowBytes: packedRow } = points;
    const end = (firstRow + rows) * blocks;
    for (let f = firstRow * blocks, at = pPoints; f < end; f++, at++) {
      const r = Math.floor(f / perRow);
      const i = f - r * perRow;
      const byte = bytes[r * packedRow + (i >> 1)];
      memory[at] = i & 1 ? byte >> 4 : byte & 15;
    }
  }
  else for (let i = 0; i < rows * blocks; i++) memory[pPoints + i] = points[firstRow * blocks + i];
  return 0;
}

let scratch = new Uint8Array(0);

/** A buffer of at least `bytes` bytes, reused from read to read (its first `bytes` are the caller's until the next call). */
function packedScratch(bytes: number): Uint8Array {
  if (scratch.length < bytes) scratch = new Uint8Array(Math.max(bytes, scratch.length * 2));
  return scratch.subarray(0, bytes);
}
