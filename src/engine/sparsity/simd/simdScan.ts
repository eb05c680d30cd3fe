// Drives the WebAssembly SIMD kernel (kernel.as.ts) for M = 4 on float16, bfloat16 and float32 weights: file bytes
// are read straight into the kernel's memory, one slab at a time, and the kernel's byte histograms, grid and block
// counts become the same ScanStats the JavaScript kernel (kernel.ts) produces.
import kernelBytes from 'wasm:scan-kernel';
import { CancelledError } from '../../errors';
import type { ElementReader } from '../../onnx/tensorData';
import type { ZeroPoint } from '../decode';
import { type ScanStats, ShapeInfo, emptyStats } from '../kernel';
import type { Pattern } from '../pattern';
import type { ScanOptions, ScanPart } from '../scan';

interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  fillValidTable(at: number, n: number): void;
  foldWords(hist16: number, histLo: number, histHi: number): void;
  gridKind(valid: number, total: number, tiles: number): number;
  lineTiles(rowTiles: number, count: number, a0: number, rInA: number, rStride: number, R: number, rows: number, cols: number): void;
  countLines(rowTiles: number, kinds: number, count: number, cols: number, lineCounts: number): void;
  addLines(lineCounts: number, rows: number, cols: number, runs: number, gridValid: number, gridTotal: number): void;
  resetSums(): void;
  getTotal(): number;
  getKept(): number;
  scanStrided(input: number, rows: number, lanes: number, dt: number, n: number, words: number): void;
  scanContiguous(input: number, count: number, dt: number, n: number, words: number, valid: number): void;
  wordStats(
    words: number, wordRows: number, lanes: number, lastRows: number,
    histLo: number, histHi: number, tailLo: number, tailHi: number, laneTile: number, laneP: number,
    kw0: number, P: number, cols: number, colDen: number,
    validTable: number, gridValid: number, gridTotal: number,
  ): void;
  wordStatsRows(
    words: number, wordRows: number, lanes: number, hist16: number, laneTile: number, vecTile: number,
    kw0: number, cols: number, colDen: number, n: number, validTable: number, gridValid: number, gridTotal: number,
  ): void;
  wordStatsLine(words: number, count: number, hist16: number, n: number, validTable: number, rowTile: number, runs: number, gridValid: number): number;
  laneBlocksFull(words: number, wordRows: number, lanes: number, enabled: number, counts: number): void;
  lineStats(words: number, rows: number, perRow: number, hist16: number, n: number, validTable: number, rowTiles: number, runs: number, gridValid: number, kinds: number): void;
  rowBlocksLines(words: number, rows: number, perRow: number, acc: number, a0: number, rStride: number, R: number, enabled: number, counts: number, accStride: number): void;
  rowBlocksFull(words: number, count: number, acc: number, r: number, enabled: number, counts: number, accStride: number): void;
  laneBlocks(words: number, wordRows: number, lanes: number, lastRows: number, laneR: number, rStride: number, enabled: number, counts: number): void;
  rowBlocks(words: number, wordRows: number, lanes: number, lastRows: number, acc: number, r: number, enabled: number, counts: number, accStride: number): void;
  setZeroPoint(zp: number): void;
  scanPacked4(stored: number, rows: number, K: number, blockShift: number, points: number, pointRowBytes: number, n: number, words: number, hist16: number, kinds: number): number;
  mixedLines(words: number, rows: number, perRow: number, validTable: number, rowTiles: number, runs: number, gridValid: number, kinds: number): void;
  resetPruned(): void;
  getPruned(): number;
  pruneStrided(input: number, rows: number, lanes: number, dt: number, n: number): void;
  pruneContiguous(input: number, count: number, dt: number, n: number): void;
  getNegativeZeros(): number;
  countNegativeZeros32(input: number, count: number): number;
}

const DTYPE_CODES: Record<string, number> = { float16: 0, bfloat16: 1, float32: 2, int8: 3, uint8: 4 };
/** Float types: no zero point. The other codes are 8-bit integers with one zero point. */
const FLOAT_TYPES = new Set(['float16', 'bfloat16', 'float32']);
/** Elements per slab: 512 KB of float16, so that a slab, its words and the word histogram stay in a core's L2 cache. */
const SLAB_ELEMENTS = 1 << 18;
/**
 * One-byte elements (8-bit weights, distances of 4-bit packed codes) per slab: 512 KB too, as smaller slabs cost more
 * in reads and calls than the cache saves (the int4 LLM bench, 16 of its 32 blocks: 2.6 s with 256 K, 2.1 s with 512 K).
 */
const BYTE_SLAB_ELEMENTS = 1 << 19;
/**
 * 4-bit codes read packed (scanPacked4) per slab: 2 M, 1 MB of stored bytes and 256 KB of words; fewer reads and
 * calls (the int4 LLM bench, CPU time of the whole process, best of 5: 1.78-1.80 s against 1.87-1.89 s with 512 K;
 * 8 M: 1.94 s).
 */
const PACKED_SLAB_CODES = 1 << 21;
const WORD_ROWS = 16;

let compiled: WebAssembly.Module | null | undefined;

/**
 * A new instance of the kernel (compiled once per thread), or null where WebAssembly SIMD is unavailable. The scan
 * keeps one; the packed-code unpacker (packedDistances.ts) another, whose memory may grow between the scan's reads.
 */
export function kernelInstance<T>(): T | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(kernelBytes);
    } catch {
      compiled = null;
    }
  }
  return compiled && (new WebAssembly.Instance(compiled, {}).exports as unknown as T);
}

let instance: KernelExports | null | undefined;

/** The kernel for this thread, or null where WebAssembly SIMD is unavailable (the JavaScript kernel then runs). */
function kernel(): KernelExports | null {
  if (instance === undefined) instance = kernelInstance<KernelExports>();
  return instance;
}

/**
 * The one zero point of a weight, when it has at most one value (or all of its values are equal), else undefined.
 * A weight without zero points has 0.
 */
function uniformZeroPoint(zeroPoint: ZeroPoint | undefined): number | undefined {
  if (!zeroPoint) return 0;
  if (zeroPoint.packed && zeroPoint.packed.perRow % 2 === 0) {
    // Read as packed, not unpacked for this: uniform when every byte holds the same code twice.
    const { bytes } = zeroPoint.packed;
    const both = (bytes[0] & 15) * 0x11;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== both) return undefined;
    return bytes[0] & 15;
  }
  if (zeroPoint.values.length === 0) return 0;
  const first = zeroPoint.values[0];
  return zeroPoint.values.every((v) => v === first) ? first : undefined;
}

/**
 * Whether the SIMD kernel (scan and pruning) handles this weight (otherwise kernel.ts and prune.ts do): M = 4 on
 * float types, or 8-bit integers with one zero point.
 */
export function simdApplies(dtypeName: string, pattern: Pattern, zeroPoint: ZeroPoint | undefined): boolean {
  if (pattern.m !== 4 || DTYPE_CODES[dtypeName] === undefined || kernel() === null) return false;
  return FLOAT_TYPES.has(dtypeName) ? !zeroPoint : uniformZeroPoint(zeroPoint) !== undefined;
}

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

/** Bump allocator over the kernel's memory, growing it as needed. */
class Layout {
  private top: number;
  constructor(private readonly k: KernelExports) {
    this.top = align(k.heapBase());
  }
  take(bytes: number): number {
    const at = this.top;
    this.top = align(at + bytes);
    return at;
  }
  /**
   * Grows the memory to hold what was taken, and zeroes it up to `zeroTo` (default: all of it); what lies beyond is
   * written before it is read (slabs, their words, stored codes).
   */
  commit(zeroTo = this.top): void {
    const need = this.top - this.k.memory.buffer.byteLength;
    if (need > 0) this.k.memory.grow(Math.ceil(need / 65536));
    new Uint8Array(this.k.memory.buffer, 0, this.top).fill(0, align(this.k.heapBase()), zeroTo);
  }
}
const align = (x: number) => Math.ceil(x / 64) * 64;

/**
 * Takes a scan's grid counts (valid, total groups per tile: views that hold only for the call) and how they stand
 * (gridKind's 0, 1, 2). An object, not a closure: a new closure per scan made V8 drop scanPartSimd's compiled code.
 */
export interface GridOut {
  take(valid: Uint32Array, total: Uint32Array, kind: number): void;
}

/**
 * A reader of distances |code - zero point| of 4-bit packed codes that lets the scan read the codes and zero points
 * themselves, so that the kernel (scanPacked4) measures them in registers: `readCodes` puts stored rows into the
 * kernel's memory; `readPoints` puts the zero points of a part's rows there, once per part, and returns how they
 * lie (0: a byte per row and block, `pointBytes(rows)` in all; else packed rows of that many bytes, as stored);
 * `countZeroPointZeros` takes the part's codes on a non-zero zero point (all its zeros less those the kernel
 * counted on a zero point of 0).
 */
export interface FusedPacked {
  K: number;
  blockSize: number;
  /** log2 of blockSize. */
  blockShift: number;
  readCodes(row0: number, rows: number, memory: Uint8Array, pStored: number): void;
  readPoints(row0: number, rows: number, memory: Uint8Array, pPoints: number): number;
  /** Bytes readPoints may write for `rows` rows. */
  pointBytes(rows: number): number;
  countZeroPointZeros(count: number): void;
}

/**
 * With `gridOut`, the grid is not made: its counts are handed to gridOut as views of the kernel's memory (valid only
 * for the call) and the statistics' grid arrays are empty.
 */
export function scanPartSimd(reader: ElementReader, options: ScanOptions, part: ScanPart, fused?: FusedPacked, gridOut?: GridOut): ScanStats {
  const k = kernel()!;
  const shape = new ShapeInfo(options.geometry, options.pattern, options.gridMax);
  const stats = emptyStats(shape, !gridOut);
  const { K, B, R } = shape;
  const n = options.pattern.n;
  const dt = DTYPE_CODES[reader.dtype.name];
  const elem = reader.dtype.bits / 8;
  const isFloat = FLOAT_TYPES.has(reader.dtype.name);
  // The float16/bfloat16 scans and the K-contiguous float32 scan count -0.0 as they go; float32 with K strided
  // across lanes (B > 1) in a pass of its own over each slab read.
  const stridedFloat32 = reader.dtype.name === 'float32' && B > 1;
  const fullK = part.k0 === 0 && part.k1 === K;
  const slabLimit = fused ? PACKED_SLAB_CODES : elem === 1 ? BYTE_SLAB_ELEMENTS : SLAB_ELEMENTS;
  // Whole K-rows of several `a` per read when they fit, else slabs of `height` K-rows of one `a`.
  const aBatch = fullK ? Math.max(1, Math.floor(slabLimit / Math.max(1, K * B))) : 1;
  const height = fullK && aBatch >= 1 && K * B <= slabLimit ? K : Math.max(WORD_ROWS, Math.floor(slabLimit / Math.max(1, B) / WORD_ROWS) * WORD_ROWS);
  const slabElements = (fullK && height === K ? aBatch : 1) * height * B;
  const wordRowsPerSlab = Math.ceil(height / WORD_ROWS);
  const KW = Math.ceil(K / WORD_ROWS);
  const tiles = shape.grid.rows * shape.grid.cols;
  const enabled = (stats.blocks['2x1'] ? 1 : 0) | (stats.blocks['4x1'] ? 2 : 0) | (stats.blocks['4x16'] ? 4 : 0);
  const accPlane = shape.rInA && enabled ? shape.rStride * KW * B : 0;

  const layout = new Layout(k);
  const pHist16 = layout.take(65536 * 4);
  const pVecTile = layout.take(Math.ceil(B / 8) * 4);
  // K-contiguous rows (B = 1, P = 1) scanned whole: their grid columns as runs of words [column, first word].
  const lineWords = B === 1 && shape.P === 1 && fullK && height === K ? Math.floor(K / WORD_ROWS) : 0;
  const lineRuns: number[] = [];
  if (lineWords > 0) {
    const colScale = stats.grid.cols / (shape.chunksPerLane * shape.P);
    for (let kw = 0; kw < lineWords; kw++) {
      const col = Math.trunc(kw * colScale);
      if (lineRuns.length === 0 || lineRuns[lineRuns.length - 2] !== col) lineRuns.push(col, kw);
    }
    lineRuns.push(-1, lineWords);
  }
  const pRuns = layout.take(lineRuns.length * 4);
  // With K a multiple of 16 the rows of one read are scanned by single kernel calls (words line up row after row).
  const lineBatch = lineWords > 0 && K % WORD_ROWS === 0;
  const pRowTiles = layout.take(lineBatch ? aBatch * 4 : 0);
  const packed = fused && lineBatch && B === 1 && fused.K === K ? fused : undefined;
  const pKinds = layout.take(lineBatch ? aBatch : 0);
  // Whole K-contiguous rows per tile row (lineTiles, addLines): u32 pairs [rows, all-valid rows].
  const pLineCounts = layout.take(lineWords > 0 ? stats.grid.rows * 8 : 0);
  // How the part's zero points lie in the kernel's memory (FusedPacked.readPoints): set once memory is committed.
  let pointRowBytes = 0;
  let pointsPerRow = 0;
  // Zeros of packed codes on a zero point of 0 (scanPacked4): the others, once all the zeros are counted, are the
  // codes on a non-zero zero point (fragile.ts).
  let zerosOnZeroPoint0 = 0;
  /** One whole K-contiguous row in tile row `rowTile` (a row offset), of wordStatsLine's `kind` (1: every group valid). */
  const tallyLine = (rowTile: number, kind: number) => {
    const at = (rowTile / stats.grid.cols) * 2;
    lineCounts[at]++;
    if (kind === 1) lineCounts[at + 1]++;
  };
  const pHistLo = layout.take(256 * 4);
  const pHistHi = layout.take(256 * 4);
  const pTailLo = layout.take(256 * 4);
  const pTailHi = layout.take(256 * 4);
  const pCounts = layout.take(6 * 8);
  const pLaneTile = layout.take(B * 4);
  const pLaneP = layout.take(B * 4);
  const pLaneR = layout.take(B * 4);
  const pGridValid = layout.take(tiles * 4);
  const pGridTotal = layout.take(tiles * 4);
  const pAcc = layout.take(accPlane * 2 * 2);
  // From here on each area is written before it is read, so not zeroed: the valid table (filled below), the words
  // (each scan writes whole words), the slab or the stored rows, the zero points.
  const pValid = layout.take(1 << 16);
  const pWords = layout.take(wordRowsPerSlab * B * 2 * (fullK && height === K ? aBatch : 1) + 64);
  // Packed 4-bit codes are read as stored (no slab of elements): room for a read's stored rows, and for the zero
  // points of the whole part, read once (a part's rows hold at most PART_ELEMENTS codes: 4 MB of zero points at a
  // byte per block of 16).
  const pInput = layout.take(packed ? 0 : slabElements * elem + 64);
  const pStored = layout.take(packed ? (aBatch * K) / 2 + 64 : 0);
  const pPoints = layout.take(packed ? packed.pointBytes(part.a1 - part.a0) + 64 : 0);
  layout.commit(pValid);
  k.fillValidTable(pValid, n);
  k.setZeroPoint(uniformZeroPoint(options.zeroPoint) ?? 0);
  new Int32Array(k.memory.buffer, pRuns, lineRuns.length).set(lineRuns);
  k.resetSums();
  if (packed && part.a1 > part.a0) {
    pointRowBytes = packed.readPoints(part.a0, part.a1 - part.a0, new Uint8Array(k.memory.buffer), pPoints);
    pointsPerRow = pointRowBytes || K / packed.blockSize;
  }

  const { rows, cols } = stats.grid;
  const colDen = shape.chunksPerLane * shape.P;
  // Views stay valid: the memory does not grow after commit().
  const memory = new Uint8Array(k.memory.buffer);
  const laneTile = new Int32Array(k.memory.buffer, pLaneTile, B);
  const laneP = new Int32Array(k.memory.buffer, pLaneP, B);
  const laneR = new Int32Array(k.memory.buffer, pLaneR, B);
  const vecTile = new Int32Array(k.memory.buffer, pVecTile, Math.ceil(B / 8));
  const lineCounts = new Uint32Array(k.memory.buffer, pLineCounts, lineWords > 0 ? stats.grid.rows * 2 : 0);
  const laneTables = (a: number) => {
    for (let b = 0; b < B; b++) {
      const r = shape.rOf(a, b);
      laneR[b] = r;
      laneTile[b] = Math.floor((r * rows) / R) * cols;
      laneP[b] = shape.pOf(a, b);
    }
    for (let v = 0; v < vecTile.length; v++) {
      const first = laneTile[8 * v];
      let same = 8 * v + 8 <= B;
      for (let b = 8 * v + 1; same && b < 8 * v + 8; b++) same = laneTile[b] === first;
      vecTile[v] = same ? first : -1;
    }
  };

  /** One slab of `h` K-rows of row `a` starting at K-row k0, already in memory at `input`. */
  const scanSlab = (a: number, k0: number, h: number, input: number, words: number) => {
    const wordRows = Math.ceil(h / WORD_ROWS);
    const lastRows = h - (wordRows - 1) * WORD_ROWS;
    if (B === 1) k.scanContiguous(input, h, dt, n, words, pValid);
    else k.scanStrided(input, h, B, dt, n, words);
    // Full word rows with one grid column per row take the vector paths; the rest (a last row of fewer than 16
    // K-rows, or several positions per output feature) the general one.
    const whole = lastRows === WORD_ROWS ? wordRows : wordRows - 1;
    const line = lineWords > 0 && k0 === 0 && h === K;
    const fullRows = shape.P === 1 && (B > 1 || line) ? whole : 0;
    const kw0 = k0 / WORD_ROWS;
    if (fullRows > 0 && line) {
      // Totals (and, for an all-valid row, valid counts) follow from the column runs: added per tile row at the end.
      tallyLine(laneTile[0], k.wordStatsLine(words, fullRows, pHist16, n, pValid, laneTile[0], pRuns, pGridValid));
    } else if (fullRows > 0) {
      k.wordStatsRows(words, fullRows, B, pHist16, pLaneTile, pVecTile, kw0, cols, colDen, n, pValid, pGridValid, pGridTotal);
    }
    if (fullRows < wordRows) {
      const rest = wordRows - fullRows;
      k.wordStats(words + fullRows * B * 2, rest, B, lastRows, pHistLo, pHistHi, pTailLo, pTailHi, pLaneTile, pLaneP, kw0 + fullRows, shape.P, cols, colDen, pValid, pGridValid, pGridTotal);
    }
    if (enabled) {
      if (shape.rInA) {
        const base = pAcc + ((a % shape.rStride) * KW + kw0) * B * 2;
        const full = whole * B;
        k.rowBlocksFull(words, full, base, shape.rOf(a, 0), enabled, pCounts, accPlane);
        if (full < wordRows * B) k.rowBlocks(words + full * 2, 1, B, lastRows, base + full * 2, shape.rOf(a, 0), enabled, pCounts, accPlane);
      } else if (shape.rStride === 1 && B === R) {
        // Lane b is output feature b: vector blocks over the full word rows, the general path for a last short one.
        k.laneBlocksFull(words, whole, B, enabled, pCounts);
        if (whole < wordRows) k.laneBlocks(words + whole * B * 2, 1, B, lastRows, pLaneR, shape.rStride, enabled, pCounts);
      } else {
        k.laneBlocks(words, wordRows, B, lastRows, pLaneR, shape.rStride, enabled, pCounts);
      }
    }
    stats.elements += h * B;
  };

  /** `count` whole K-contiguous rows from a0, already in memory at pInput (lineBatch). */
  const scanLines = (a0: number, count: number) => {
    k.lineTiles(pRowTiles, count, a0, shape.rInA ? 1 : 0, shape.rStride, R, rows, cols);
    if (packed) {
      // The packed kernel counts the words and sorts the rows as it makes them; mixed rows' grid counts here.
      const points = pPoints + (a0 - part.a0) * pointsPerRow;
      zerosOnZeroPoint0 += k.scanPacked4(pStored, count, K, packed.blockShift, points, pointRowBytes, n, pWords, pHist16, pKinds);
      k.mixedLines(pWords, count, lineWords, pValid, pRowTiles, pRuns, pGridValid, pKinds);
    } else {
      k.scanContiguous(pInput, count * K, dt, n, pWords, pValid);
      k.lineStats(pWords, count, lineWords, pHist16, n, pValid, pRowTiles, pRuns, pGridValid, pKinds);
    }
    k.countLines(pRowTiles, pKinds, count, cols, pLineCounts);
    if (enabled) k.rowBlocksLines(pWords, count, lineWords, pAcc, a0, shape.rStride, R, enabled, pCounts, accPlane);
    stats.elements += count * K;
  };

  for (let a0 = part.a0; a0 < part.a1; a0 += fullK && height === K ? aBatch : 1) {
    if (options.signal?.aborted) throw new CancelledError();
    if (fullK && height === K) {
      const count = Math.min(aBatch, part.a1 - a0);
      if (packed) packed.readCodes(a0, count, memory, pStored);
      else reader.readInto(a0 * K * B, count * K * B, memory.subarray(pInput, pInput + count * K * B * elem));
      if (stridedFloat32) stats.negativeZeros += k.countNegativeZeros32(pInput, count * K * B);
      if (lineBatch) {
        scanLines(a0, count);
        options.onProgress?.(count * K);
        continue;
      }
      for (let i = 0; i < count; i++) {
        laneTables(a0 + i);
        scanSlab(a0 + i, 0, K, pInput + i * K * B * elem, pWords);
      }
      options.onProgress?.(count * K * B);
      continue;
    }
    laneTables(a0);
    for (let k0 = part.k0; k0 < part.k1; k0 += height) {
      if (options.signal?.aborted) throw new CancelledError();
      const h = Math.min(height, part.k1 - k0);
      reader.readInto((a0 * K + k0) * B, h * B, memory.subarray(pInput, pInput + h * B * elem));
      if (stridedFloat32) stats.negativeZeros += k.countNegativeZeros32(pInput, h * B);
      scanSlab(a0, k0, h, pInput, pWords);
      options.onProgress?.(h * B);
    }
  }

  if (lineWords > 0) k.addLines(pLineCounts, stats.grid.rows, cols, pRuns, pGridValid, pGridTotal);
  // Fold the 16-bit word counts into the byte tables collect() reads.
  k.foldWords(pHist16, pHistLo, pHistHi);
  collect(stats, k, { pHistLo, pHistHi, pTailLo, pTailHi, pCounts, pGridValid, pGridTotal }, K % WORD_ROWS || WORD_ROWS, n);
  gridOut?.take(new Uint32Array(k.memory.buffer, pGridValid, tiles), new Uint32Array(k.memory.buffer, pGridTotal, tiles), k.gridKind(pGridValid, pGridTotal, tiles));
  if (packed) packed.countZeroPointZeros(stats.zeros - zerosOnZeroPoint0);
  // One zero point for the whole weight (simdApplies): every zero of an integer weight is a code equal to it.
  if (isFloat) stats.negativeZeros += k.getNegativeZeros();
  if (!isFloat && (uniformZeroPoint(options.zeroPoint) ?? 0) !== 0) stats.zeroPointZeros = stats.zeros;
  return stats;
}

/** Turns the kernel's byte histograms, grid and block counts into ScanStats. */
function collect(
  stats: ScanStats,
  k: KernelExports,
  at: { pHistLo: number; pHistHi: number; pTailLo: number; pTailHi: number; pCounts: number; pGridValid: number; pGridTotal: number },
  lastRows: number,
  n: number,
): void {
  const buffer = k.memory.buffer;
  const addBytes = (hist: Uint32Array, rows: number) => {
    if (rows <= 0) return;
    const groupsPerByte = rows >> 2;
    for (let byte = 0; byte < 256; byte++) {
      const c = hist[byte];
      if (!c) continue;
      stats.zeros += (rows - popcount(byte)) * c;
      for (let g = 0; g < groupsPerByte; g++) {
        const nib = (byte >> (4 * g)) & 15;
        const pc = popcount(nib);
        stats.countHistogram[pc] += c;
        stats.maskHistogram![nib] += c;
        stats.groups += c;
        if (pc <= n) stats.validGroups += c;
        const b14 = stats.blocks['1x4'];
        if (b14) {
          b14.total += c;
          if (!nib) b14.zero += c;
        }
        if (stats.patternViolations['2:4'] >= 0 && pc > 2) stats.patternViolations['2:4'] += c;
        if (stats.patternViolations['1:4'] >= 0 && pc > 1) stats.patternViolations['1:4'] += c;
      }
      for (let pair = 0; pair < rows >> 1; pair++) if (popcount((byte >> (2 * pair)) & 3) > 1 && stats.patternViolations['1:2'] >= 0) stats.patternViolations['1:2'] += c;
      if (rows === 8) {
        const pc = popcount(byte);
        if (stats.patternViolations['2:8'] >= 0 && pc > 2) stats.patternViolations['2:8'] += c;
        if (stats.patternViolations['4:8'] >= 0 && pc > 4) stats.patternViolations['4:8'] += c;
        if (stats.patternViolations['1:8'] >= 0 && pc > 1) stats.patternViolations['1:8'] += c;
      }
    }
  };
  addBytes(new Uint32Array(buffer, at.pHistLo, 256), 8);
  addBytes(new Uint32Array(buffer, at.pHistHi, 256), 8);
  if (lastRows < WORD_ROWS) {
    addBytes(new Uint32Array(buffer, at.pTailLo, 256), Math.min(8, lastRows));
    addBytes(new Uint32Array(buffer, at.pTailHi, 256), lastRows - 8);
  }
  stats.sumMagnitude = k.getTotal();
  stats.keptMagnitude = k.getKept();
  const counts = new Float64Array(buffer, at.pCounts, 6);
  const names = ['2x1', '4x1', '4x16'];
  names.forEach((name, i) => {
    const block = stats.blocks[name];
    if (block) {
      block.zero += counts[2 * i];
      block.total += counts[2 * i + 1];
    }
  });
  // (Empty with gridOut: scanPartSimd hands the counts on instead.)
  const valid = new Uint32Array(buffer, at.pGridValid, stats.grid.valid.length);
  const total = new Uint32Array(buffer, at.pGridTotal, stats.grid.total.length);
  for (let i = 0; i < valid.length; i++) {
    stats.grid.valid[i] += valid[i];
    stats.grid.total[i] += total[i];
  }
}

/** What the SIMD pruning pass adds to the caller's totals. */
export interface SimdPruneTotals {
  sumMagnitude: number;
  keptMagnitude: number;
  pruned: number;
}

/** The kernel's memory from its heap base, grown to hold `bytes`. */
function pruneArea(k: KernelExports, bytes: number): { base: number; view: Uint8Array } {
  const base = align(k.heapBase());
  const need = base + bytes + 64 - k.memory.buffer.byteLength;
  if (need > 0) k.memory.grow(Math.ceil(need / 65536));
  return { base, view: new Uint8Array(k.memory.buffer, base, bytes) };
}

function pruneAt(k: KernelExports, dtypeName: string, base: number, h: number, B: number, n: number, totals: SimdPruneTotals, zeroPoint: ZeroPoint | undefined): void {
  k.resetPruned();
  k.setZeroPoint(uniformZeroPoint(zeroPoint) ?? 0);
  const dt = DTYPE_CODES[dtypeName];
  if (B === 1) k.pruneContiguous(base, h, dt, n);
  else k.pruneStrided(base, h, B, dt, n);
  totals.sumMagnitude += k.getTotal();
  totals.keptMagnitude += k.getKept();
  totals.pruned += k.getPruned();
}

/**
 * N:4 magnitude pruning of one slab in place (`h` K-rows x `B` lanes, K the slower axis) with the SIMD kernel: the
 * same ranking as the JavaScript pruneSlab (ties keep the earlier position; zeros untouched). Float16, bfloat16 and
 * float32 without zero points, int8 and uint8 with one zero point; the caller checks simdApplies first.
 */
export function pruneSlabSimd(dtypeName: string, bytes: Uint8Array, h: number, B: number, n: number, totals: SimdPruneTotals, zeroPoint?: ZeroPoint): void {
  const k = kernel()!;
  const { base, view } = pruneArea(k, bytes.length);
  view.set(bytes);
  pruneAt(k, dtypeName, base, h, B, n, totals, zeroPoint);
  bytes.set(view);
}

/**
 * As pruneSlabSimd for elements [first, first + h B) of `reader`, read straight into the kernel's memory and
 * written from there to `out` (whose write must be done with the bytes when it returns): no copies in between.
 */
export function pruneReadSimd(reader: ElementReader, first: number, h: number, B: number, n: number, totals: SimdPruneTotals, out: { write(bytes: Uint8Array): void }, zeroPoint?: ZeroPoint): void {
  const k = kernel()!;
  const { base, view } = pruneArea(k, (h * B * reader.dtype.bits) / 8);
  reader.readInto(first, h * B, view);
  pruneAt(k, reader.dtype.name, base, h, B, n, totals, zeroPoint);
  out.write(view);
}
