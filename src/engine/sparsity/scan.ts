// Streams one weight (or one part of it) from its reader through the kernel, in slabs of bounded size.
import { CancelledError } from '../errors';
import { type DType, dtypeById } from '../onnx/dtypes';
import { DerivedByteReader } from '../onnx/derivedReader';
import type { ElementReader } from '../onnx/tensorData';
import { PackedCodesReader } from '../onnx/packedCodes';
import { type PackedZeroPoints, type ZeroPoint, integerAt, toMagnitudes, unpackZeroPoints, zeroPointLookup } from './decode';
import { type Geometry, type PartGrid, type PartStats, type ScanStats, ShapeInfo, SlabScanner, compactGrid, emptyStats, gridKind, kAlignment } from './kernel';
import type { Pattern } from './pattern';
import { packedDistancesSimd, readPackedCodes, readPackedPoints } from './simd/packedDistances';
import { type FusedPacked, type GridOut, scanPartSimd, simdApplies } from './simd/simdScan';

/** What one scan job covers: rows a in [a0, a1) of the [A, K, B] view, K rows [k0, k1). */
export interface ScanPart {
  a0: number;
  a1: number;
  k0: number;
  k1: number;
}

export interface ScanOptions {
  geometry: Geometry;
  pattern: Pattern;
  zeroPoint?: ZeroPoint;
  gridMax?: number;
  /** Called with elements scanned since the last call. */
  onProgress?: (elements: number) => void;
  signal?: { aborted: boolean };
  /** 'js' forces the reference kernel (tests compare the two); default: SIMD where it applies. */
  kernel?: 'auto' | 'js';
}

/** Target elements per slab: big enough to amortise reads, small enough for the memory budget. */
const SLAB_ELEMENTS = 1 << 20;


/** Rows of A per part must be a multiple of this, so blocks of output features are never split. */
export function aAlignment(shape: ShapeInfo): number {
  return shape.rInA ? shape.rStride * 4 : 1;
}

export function wholeTensor(shape: ShapeInfo): ScanPart {
  return { a0: 0, a1: shape.A, k0: 0, k1: shape.K };
}

/**
 * A part's statistics with the grid compacted (PartGrid), as scan jobs deliver them: the SIMD kernels' grid counts
 * are read where they lie, not copied into fresh arrays first.
 */
export function scanPartCompact(reader: ElementReader, options: ScanOptions, part: ScanPart): PartStats {
  const shape = new ShapeInfo(options.geometry, options.pattern, options.gridMax);
  const whole = part.a0 === 0 && part.a1 === shape.A && part.k0 === 0 && part.k1 === shape.K;
  const out = new GridCompactor(shape, whole);
  const stats = scanPart(reader, options, part, out);
  return { ...stats, grid: out.grid! };
}

class GridCompactor implements GridOut {
  grid?: PartGrid;
  constructor(
    private readonly shape: ShapeInfo,
    private readonly whole: boolean,
  ) {}
  take(valid: Uint32Array, total: Uint32Array, kind: number): void {
    this.grid = compactGrid(this.shape, this.whole, valid, total, kind);
  }
}

/** With `gridOut`, the grid's counts go there as the scan ends and the statistics' grid arrays are empty. */
export function scanPart(reader: ElementReader, options: ScanOptions, part: ScanPart, gridOut?: GridOut): ScanStats {
  // 4-bit packed codes take the distance reader, whose kernel reads them packed (and their zero points as stored).
  const packed4 = reader instanceof PackedCodesReader && reader.codes.bits === 4;
  if (options.kernel !== 'js' && !packed4 && simdApplies(reader.dtype.name, options.pattern, options.zeroPoint)) return scanPartSimd(reader, options, part, undefined, gridOut);
  const distances = options.kernel !== 'js' ? distanceReader(reader, options) : undefined;
  if (distances) {
    const stats = scanPartSimd(distances, { ...options, zeroPoint: undefined }, part, distances.fusedPacked(), gridOut);
    stats.zeroPointZeros += distances.zeroPointZeros;
    return stats;
  }
  const stats = scanPartJs(reader, options, part);
  if (gridOut) {
    gridOut.take(stats.grid.valid, stats.grid.total, gridKind(stats.grid.valid, stats.grid.total));
    stats.grid = { ...stats.grid, valid: new Uint32Array(0), total: new Uint32Array(0) };
  }
  return stats;
}

/** The reference kernel (kernel.ts) over a part. */
function scanPartJs(reader: ElementReader, options: ScanOptions, part: ScanPart): ScanStats {
  const shape = new ShapeInfo(options.geometry, options.pattern, options.gridMax);
  const stats = emptyStats(shape);
  const scanner = new SlabScanner(shape, stats);
  const { K, B } = shape;
  const align = kAlignment(options.pattern.m);
  const height = Math.max(align, Math.floor(SLAB_ELEMENTS / Math.max(1, B) / align) * align);
  let mags = new Float32Array(0);
  let lanes = new Float32Array(0);
  for (let a = part.a0; a < part.a1; a++) {
    for (let k0 = part.k0; k0 < part.k1; k0 += height) {
      if (options.signal?.aborted) throw new CancelledError();
      const h = Math.min(height, part.k1 - k0);
      const count = h * B;
      if (mags.length < count) mags = new Float32Array(count);
      const first = (a * K + k0) * B;
      const fragile = toMagnitudes(reader.dtype, reader.read(first, count), count, mags, first, options.geometry.dims, options.zeroPoint);
      if (reader.dtype.integer) stats.zeroPointZeros += fragile;
      else stats.negativeZeros += fragile;
      let laneMajor = mags;
      if (B > 1) {
        // Transpose [h, B] → [B, h] so each lane's K run is contiguous.
        if (lanes.length < count) lanes = new Float32Array(count);
        for (let k = 0; k < h; k++) {
          const row = k * B;
          for (let b = 0; b < B; b++) lanes[b * h + k] = mags[row + b];
        }
        laneMajor = lanes;
      }
      scanner.scanSlab(laneMajor, a, k0, h);
      options.onProgress?.(count);
    }
  }
  return stats;
}

/**
 * Splits a weight into parts of about `target` elements for parallel scanning, cutting A at multiples of
 * aAlignment and, when A is too small to cut, K at multiples of kAlignment.
 */
export function splitParts(shape: ShapeInfo, target: number): ScanPart[] {
  const { A, K, B } = shape;
  const total = A * K * B;
  if (total <= target || K === 0) return [wholeTensor(shape)];
  const perA = K * B;
  const aStep = aAlignment(shape);
  const parts: ScanPart[] = [];
  if (A >= 2 * aStep) {
    const rows = Math.max(aStep, Math.floor(target / perA / aStep) * aStep);
    for (let a0 = 0; a0 < A; a0 += rows) parts.push({ a0, a1: Math.min(A, a0 + rows), k0: 0, k1: K });
    return parts;
  }
  if (shape.rInA && A > 1) return [wholeTensor(shape)]; // output-feature blocks run across A: keep whole
  const kStep = kAlignment(shape.pattern.m);
  const kRows = Math.max(kStep, Math.floor(target / (A * B) / kStep) * kStep);
  for (let k0 = 0; k0 < K; k0 += kRows) parts.push({ a0: 0, a1: A, k0, k1: Math.min(K, k0 + kRows) });
  return parts;
}

const UINT8 = dtypeById(2)!;

/**
 * Integer weights of at most 8 bits whose zero points differ (per channel, per block: int4 LLMs hold one per row and
 * block of 32-128 codes), and 4-bit ones, which the SIMD kernel does not read: read as uint8 distances |q - zp| with
 * no zero point, the magnitudes the JavaScript kernel computes, so the SIMD kernel scans them. Undefined where it
 * does not apply (wider integers, floats, a zero point that is no integer).
 */
function distanceReader(reader: ElementReader, options: ScanOptions): DistanceReader | undefined {
  const { dtype } = reader;
  if (!dtype.integer || dtype.bits > 8 || !simdApplies('uint8', options.pattern, undefined)) return undefined;
  const zp = options.zeroPoint;
  if (!zp && dtype.bits !== 4) return undefined;
  if (zp && !factsOf(zp).integers) return undefined;
  return new DistanceReader(reader, zp, options.geometry.dims);
}

/** What the scan needs to know of a weight's zero points, found in one pass and once per weight (each part builds its own reader). */
interface ZeroPointFacts {
  /** Every value an integer (float zero points of MatMulNBits may be 7.5). */
  integers: boolean;
  /** Every value a 4-bit code. */
  fourBit: boolean;
}

const zeroPointFacts = new WeakMap<ZeroPoint, ZeroPointFacts>();
function factsOf(zp: ZeroPoint): ZeroPointFacts {
  let facts = zeroPointFacts.get(zp);
  if (!facts) {
    if (zp.codeBits !== undefined) {
      // Codes (packed, or unpacked from codes): integers below 2^codeBits by construction; `values` is not read,
      // which would unpack packed ones.
      facts = { integers: true, fourBit: zp.codeBits <= 4 };
    } else if (zp.values instanceof Uint8Array) {
      const { values } = zp;
      // Millions of block zero points in an LLM, integers by type: one OR over all of them.
      let bits = 0;
      for (let i = 0; i < values.length; i++) bits |= values[i];
      facts = { integers: true, fourBit: bits < 16 };
    } else {
      facts = { integers: true, fourBit: true };
      for (const v of zp.values) {
        facts.integers &&= Number.isInteger(v);
        facts.fourBit &&= v >= 0 && v < 16;
      }
    }
    zeroPointFacts.set(zp, facts);
  }
  return facts;
}

class DistanceReader extends DerivedByteReader {
  readonly dtype: DType = UINT8;
  readonly count: number;
  readonly splittable: boolean;
  /** Zeros that are codes equal to a non-zero zero point (fragile.ts), counted as they are read. */
  zeroPointZeros = 0;
  private readonly lookup: (element: number) => number = () => 0;
  /** Elements that share one zero point in a row: a block along the last axis, else 1 (looked up each). */
  private readonly run: { size: number; block: number; values: ArrayLike<number> } | undefined;
  /** 4-bit packed codes (MatMulNBits, QMoE) whose zero points run per (row, block) or are one: unpacked and measured in one pass. */
  private readonly packed: { reader: PackedCodesReader; points: ArrayLike<number> | number | PackedZeroPoints } | undefined;

  constructor(
    private readonly inner: ElementReader,
    zeroPoint: ZeroPoint | undefined,
    dims: readonly number[],
  ) {
    super();
    this.count = inner.count;
    this.splittable = inner.splittable;
    const last = dims.length - 1;
    if (zeroPoint?.packed && inner instanceof PackedCodesReader && inner.codes.bits === 4 && zeroPoint.axis === last && zeroPoint.blockSize === inner.codes.blockSize && dims[last] === inner.codes.K) {
      // Zero points read packed, as the codes are: never unpacked whole (an int4 LLM holds 61 M of them).
      this.packed = { reader: inner, points: zeroPoint.packed };
      return;
    }
    this.lookup = zeroPointLookup(zeroPoint, dims);
    if (zeroPoint && zeroPoint.values.length > 1 && zeroPoint.axis === last && zeroPoint.blockSize > 0) {
      this.run = { size: dims[last], block: zeroPoint.blockSize, values: zeroPoint.values };
    } else if (!zeroPoint || zeroPoint.values.length <= 1 || zeroPoint.axis < 0) {
      this.run = { size: Infinity, block: Infinity, values: [this.lookup(0)] };
    }
    if (inner instanceof PackedCodesReader && inner.codes.bits === 4 && this.run) {
      const { size, block, values } = this.run;
      const point = values[0];
      if (size === Infinity && Number.isInteger(point) && point >= 0 && point < 16) this.packed = { reader: inner, points: point };
      else if (size === inner.codes.K && block === inner.codes.blockSize && factsOf(zeroPoint!).fourBit) this.packed = { reader: inner, points: values };
    }
  }

  /**
   * Where the SIMD scan can read this weight's packed codes and zero points itself and measure them in registers
   * (kernel scanPacked4): whole rows of K codes, K a multiple of 64 and of the block, the block a power of two of at
   * least 16 codes (MatMulNBits' rule), so no padding; undefined otherwise (then readInto hands out the distances).
   */
  fusedPacked(): FusedPacked | undefined {
    const packed = this.packed;
    if (!packed) return undefined;
    const { K, blockSize } = packed.reader.codes;
    const blockShift = Math.log2(blockSize);
    if (K % 64 !== 0 || !Number.isInteger(blockShift) || blockSize < 16 || K % blockSize !== 0) return undefined;
    return {
      K,
      blockSize,
      blockShift,
      readCodes: (row0, rows, memory, pStored) => readPackedCodes(packed.reader, row0, rows, memory, pStored),
      readPoints: (row0, rows, memory, pPoints) => readPackedPoints(packed.points, K / blockSize, row0, rows, memory, pPoints, true),
      pointBytes: (rows) => rows * (K / blockSize),
      countZeroPointZeros: (count) => {
        this.zeroPointZeros += count;
      },
    };
  }

  readInto(start: number, count: number, target: Uint8Array): void {
    const packed = this.packed;
    if (packed) {
      // WebAssembly SIMD where it runs, else the JavaScript pass: the same distances and counts.
      const { points } = packed;
      this.zeroPointZeros +=
        packedDistancesSimd(packed.reader, start, count, target, points) ??
        packed.reader.readDistances(start, count, target, typeof points === 'object' && 'bytes' in points ? unpackZeroPoints(points) : points);
      return;
    }
    const run = this.inner.read(start, count);
    const { bytes, nibble } = run;
    const dtype = this.inner.dtype;
    const plainBytes = dtype.bits === 8 && !dtype.signed;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let fragile = 0;
    for (let i = 0; i < count; ) {
      const e = start + i;
      let point: number;
      let end: number;
      if (this.run && this.run.size === Infinity) {
        point = this.run.values[0];
        end = count;
      } else if (this.run) {
        // Blocks of zero points along the last axis: constant up to the block's (or the row's) end.
        const { size, block, values } = this.run;
        const k = e % size;
        const blocks = Math.ceil(size / block);
        const b = Math.floor(k / block);
        point = values[Math.floor(e / size) * blocks + b];
        end = Math.min(count, i + Math.min(size, (b + 1) * block) - k);
      } else {
        point = this.lookup(e);
        end = i + 1;
      }
      if (plainBytes) {
        for (; i < end; i++) {
          const d = bytes[i] - point;
          target[i] = d < 0 ? -d : d;
          if (d === 0 && point !== 0) fragile++;
        }
      } else {
        for (; i < end; i++) {
          const d = integerAt(dtype, bytes, view, i, nibble) - point;
          target[i] = d < 0 ? -d : d;
          if (d === 0 && point !== 0) fragile++;
        }
      }
    }
    this.zeroPointZeros += fragile;
  }
}
