// Streams one weight (or one part of it) from its reader through the kernel, in slabs of bounded size.
import { CancelledError } from '../errors';
import type { ElementReader } from '../onnx/tensorData';
import { type ZeroPoint, toMagnitudes } from './decode';
import { type Geometry, type ScanStats, ShapeInfo, SlabScanner, emptyStats, kAlignment } from './kernel';
import type { Pattern } from './pattern';
import { scanPartSimd, simdApplies } from './simd/simdScan';

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

export function scanPart(reader: ElementReader, options: ScanOptions, part: ScanPart): ScanStats {
  if (options.kernel !== 'js' && simdApplies(reader.dtype.name, options.pattern, options.zeroPoint)) return scanPartSimd(reader, options, part);
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
