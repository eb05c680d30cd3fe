// The scan kernel: one pass over a weight's values, grouped along its reduction axis K, producing every
// per-layer statistic of the report. Plain typed-array loops; see scan.ts for how tensors reach it.
import { BLOCK_SHAPES, type Pattern, STANDARD_PATTERNS, patternName } from './pattern';

/** How the stored tensor maps onto groups: [A, K, B] around the K axis, with the output-feature axis r. */
export interface Geometry {
  dims: number[];
  kAxis: number;
  rAxis: number;
}

/** Compliance per tile: rows are output features, columns chunks of K (see ShapeInfo.chunk) x positions. */
export interface Grid {
  rows: number;
  cols: number;
  /**
   * Per tile, row-major: groups that satisfy the pattern, and all groups. Typed arrays: up to 128 x 128 tiles per
   * layer are zeroed, summed and copied between threads at every scan, which plain arrays made slow (allocation and
   * GC: ~40 ms of a ResNet-50 inspection); the JSON report writes them as plain arrays. 32-bit counts: a tile
   * overflows only past 2^32 groups (with 128 x 128 tiles a weight of 2^48 elements, with fewer rows a row of over
   * 2^41). Read-only once in a report: an inspection's layers may share them (`absorbPart`): `total` between weights
   * of one shape, `valid` with `total` where every group is valid, or one array of zeros where none is.
   */
  valid: Uint32Array;
  total: Uint32Array;
}

/**
 * A part's grid as a scan job delivers it (`compactGrid`): every layer's grid is 128 KB, and fresh memory on this
 * kind of machine costs about 12 us a 4 KB page, so a 224-layer int4 LLM spent a quarter of its inspection making
 * and copying grids. What the shape or the totals already say is not sent.
 */
export interface PartGrid {
  rows: number;
  cols: number;
  /** Valid groups per tile; null where no group is valid, 'total' where every group is. */
  valid: Uint32Array | null | 'total';
  /** Groups per tile; null where the part is the whole weight and they are what `gridTotals` gives for its shape. */
  total: Uint32Array | null;
}

/** The buffers of a part's grid that a worker hands over (transfers) to the receiving thread. */
export function partGridBuffers(grid: PartGrid): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of [grid.valid, grid.total]) if (a instanceof Uint32Array) out.push(a.buffer as ArrayBuffer);
  return out;
}

/** Additive statistics of one weight (or of one part of it: parts merge by `mergeStats`). */
export interface ScanStats {
  elements: number;
  zeros: number;
  /** Zeros stored as -0.0 (float types): counted as zero, but a kernel that tests bits sees a non-zero. */
  negativeZeros: number;
  /** Zeros of an integer weight that are codes equal to a non-zero zero point: lost if a runtime drops the zero point. */
  zeroPointZeros: number;
  groups: number;
  validGroups: number;
  /** countHistogram[c] = groups with exactly c non-zeros, c = 0..M. */
  countHistogram: number[];
  /** For M <= 8: maskHistogram[mask] = groups whose non-zero positions form `mask` (bit i = element i). */
  maskHistogram: number[] | null;
  sumMagnitude: number;
  keptMagnitude: number;
  /** Per standard pattern: violating groups, or -1 when K is not divisible by its M. */
  patternViolations: Record<string, number>;
  /** Per block shape: all-zero blocks and all blocks, or null when the dims are not divisible by it. */
  blocks: Record<string, { zero: number; total: number } | null>;
  grid: Grid;
}

export const GRID_MAX = 128;

/** K rows per slab must be a multiple of this, so every pattern group and K-block lies inside one slab. */
export function kAlignment(m: number): number {
  const gcd = (x: number, y: number): number => (y ? gcd(y, x % y) : x);
  return (m * 16) / gcd(m, 16);
}

export class ShapeInfo {
  readonly A: number;
  readonly K: number;
  readonly B: number;
  readonly R: number;
  readonly rInA: boolean;
  /** Stride of r inside A (r in A) or inside B (r in B), in units of a or b. */
  readonly rStride: number;
  /** Positions per output feature: every coordinate but r and K. */
  readonly P: number;
  /** K is cut into chunks of `chunk` rows (lcm(M, 16)): slabs, parts and grid columns never split one. */
  readonly chunk: number;
  readonly chunksPerLane: number;
  readonly grid: { rows: number; cols: number };

  constructor(
    readonly geometry: Geometry,
    readonly pattern: Pattern,
    gridMax = GRID_MAX,
  ) {
    const { dims, kAxis, rAxis } = geometry;
    const prod = (from: number, to: number) => dims.slice(from, to).reduce((x, y) => x * y, 1);
    this.A = prod(0, kAxis);
    this.K = dims[kAxis];
    this.B = prod(kAxis + 1, dims.length);
    this.R = dims[rAxis];
    this.rInA = rAxis < kAxis;
    this.rStride = this.rInA ? prod(rAxis + 1, kAxis) : prod(rAxis + 1, dims.length);
    this.P = this.R === 0 ? 0 : (this.A * this.B) / this.R;
    this.chunk = kAlignment(pattern.m);
    this.chunksPerLane = Math.ceil(this.K / this.chunk);
    const cols = this.chunksPerLane * this.P;
    this.grid = { rows: Math.max(1, Math.min(this.R, gridMax)), cols: Math.max(1, Math.min(cols, gridMax)) };
  }

  /** Output feature index of lane (a, b). */
  rOf(a: number, b: number): number {
    return this.rInA ? Math.floor(a / this.rStride) % this.R : Math.floor(b / this.rStride) % this.R;
  }

  /** Position index (all coordinates but r and K) of lane (a, b), in storage order. */
  pOf(a: number, b: number): number {
    if (this.rInA) {
      const outer = Math.floor(a / (this.rStride * this.R));
      return (outer * this.rStride + (a % this.rStride)) * this.B + b;
    }
    const outer = Math.floor(b / (this.rStride * this.R));
    const B1 = this.B / (this.R * this.rStride);
    return (a * B1 + outer) * this.rStride + (b % this.rStride);
  }
}

/** `withGrid` false: grid arrays of no tiles (a scan that hands its grid on as it ends: scanPartSimd's gridOut). */
export function emptyStats(shape: ShapeInfo, withGrid = true): ScanStats {
  const { m } = shape.pattern;
  const patternViolations: Record<string, number> = {};
  for (const p of STANDARD_PATTERNS) patternViolations[patternName(p)] = shape.K % p.m === 0 ? 0 : -1;
  const blocks: ScanStats['blocks'] = {};
  for (const b of BLOCK_SHAPES) blocks[b.name] = shape.K % b.in === 0 && shape.R % b.out === 0 ? { zero: 0, total: 0 } : null;
  const tiles = withGrid ? shape.grid.rows * shape.grid.cols : 0;
  return {
    elements: 0,
    zeros: 0,
    negativeZeros: 0,
    zeroPointZeros: 0,
    groups: 0,
    validGroups: 0,
    countHistogram: new Array(m + 1).fill(0),
    maskHistogram: m <= 8 ? new Array(1 << m).fill(0) : null,
    sumMagnitude: 0,
    keptMagnitude: 0,
    patternViolations,
    blocks,
    grid: { rows: shape.grid.rows, cols: shape.grid.cols, valid: new Uint32Array(tiles), total: new Uint32Array(tiles) },
  };
}

/** Statistics as a scan job delivers them (from a worker thread, a structured clone): the grid compacted. */
export type PartStats = Omit<ScanStats, 'grid'> & { grid: PartGrid };

/** Shapes whose totals were made (gridTotals), by shapeKey: shared, never written. */
const totalsByShape = new Map<string, Uint32Array>();
const zerosByTiles = new Map<number, Uint32Array>();
const SHAPES_KEPT = 256;
/** Arrays of a report's grids that belong to more than one layer (the caches above, a `valid` that is its `total`). */
const sharedArrays = new WeakSet<Uint32Array>();

function shapeKey(shape: ShapeInfo): string {
  const { dims, kAxis, rAxis } = shape.geometry;
  return `${dims.join('x')}/${kAxis}/${rAxis}/${shape.pattern.m}/${shape.grid.rows}x${shape.grid.cols}`;
}

/**
 * Groups per tile of a whole weight of this shape, as the kernels count them: every output feature r and position p
 * has the same groups along K (chunk c holds chunk / M of them, the last one what is left of K, whole groups
 * only), in tile row floor(r * rows / R) and column floor((c * P + p) * cols / (chunks * P)): an outer product of
 * features per tile row and groups per column. Cached per shape (SHAPES_KEPT); the array is shared: never write it.
 */
export function gridTotals(shape: ShapeInfo): Uint32Array {
  const key = shapeKey(shape);
  let totals = totalsByShape.get(key);
  if (totals) return totals;
  const { rows, cols } = shape.grid;
  const { R, P, K, chunk, chunksPerLane } = shape;
  const m = shape.pattern.m;
  const perCol = new Float64Array(cols);
  const colScale = cols / (chunksPerLane * P);
  for (let c = 0; c < chunksPerLane; c++) {
    const groups = Math.floor((Math.min(K, (c + 1) * chunk) - c * chunk) / m);
    if (groups > 0) for (let p = 0; p < P; p++) perCol[Math.floor((c * P + p) * colScale)] += groups;
  }
  // Tile row i holds the features r with floor(r * rows / R) = i: r from ceil(i * R / rows) up to the next row's
  // first. At most two counts occur (R / rows rounded down or up): each row of tiles is a copy of one of two.
  totals = new Uint32Array(rows * cols);
  const firstOf = (i: number) => Math.floor((i * R + rows - 1) / rows);
  const templates = new Map<number, Uint32Array>();
  for (let i = 0; i < rows; i++) {
    const features = firstOf(i + 1) - firstOf(i);
    let row = templates.get(features);
    if (!row) templates.set(features, (row = Uint32Array.from(perCol, (groups) => groups * features)));
    totals.set(row, i * cols);
  }
  if (totalsByShape.size >= SHAPES_KEPT) totalsByShape.delete(totalsByShape.keys().next().value!);
  totalsByShape.set(key, totals);
  sharedArrays.add(totals);
  return totals;
}

function sharedZeros(tiles: number): Uint32Array {
  let zeros = zerosByTiles.get(tiles);
  if (!zeros) {
    if (zerosByTiles.size >= SHAPES_KEPT) zerosByTiles.delete(zerosByTiles.keys().next().value!);
    zerosByTiles.set(tiles, (zeros = new Uint32Array(tiles)));
    sharedArrays.add(zeros);
  }
  return zeros;
}

function sameCounts(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  // Compared as bytes, natively: a 128 x 128 grid per part, and the first parts run before the JIT has compiled a loop.
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** How `valid` stands to `total`: 0 no group valid, 1 every group valid, 2 neither (the kernel's gridKind). */
export function gridKind(valid: Uint32Array, total: Uint32Array): number {
  let any = 0;
  for (let i = 0; i < valid.length; i++) any |= valid[i];
  return any === 0 ? 0 : sameCounts(valid, total) ? 1 : 2;
}

/**
 * A part's grid, compacted (PartGrid) from the kernel's counts `valid` and `total` (views that may lie in the
 * kernel's memory: what is kept is copied) and `kind`, how they stand (gridKind). `whole`: the part is the whole
 * weight.
 */
export function compactGrid(shape: ShapeInfo, whole: boolean, valid: Uint32Array, total: Uint32Array, kind: number): PartGrid {
  const { rows, cols } = shape.grid;
  // The shape's totals stand in only where they are the kernel's own counts (so they can never be wrong).
  const totalOut = whole && sameCounts(total, gridTotals(shape)) ? null : total.slice();
  return { rows, cols, valid: kind === 0 ? null : kind === 1 ? 'total' : valid.slice(), total: totalOut };
}

/** The grid of a part's statistics, made whole (Grid), sharing what it can. */
function expandGrid(shape: ShapeInfo, grid: PartGrid): Grid {
  const total = grid.total ?? gridTotals(shape);
  const valid = grid.valid === 'total' ? total : (grid.valid ?? sharedZeros(total.length));
  if (valid === total) sharedArrays.add(total);
  return { rows: grid.rows, cols: grid.cols, valid, total };
}

/** Adds a part's statistics into a weight's (`into`, from earlier parts of it, or none yet): statistics whole. */
export function absorbPart(into: ScanStats | undefined, part: PartStats, shape: ShapeInfo): ScanStats {
  const stats: ScanStats = { ...part, grid: expandGrid(shape, part.grid) };
  if (!into) return stats;
  // The weight's arrays may be shared (a valid that is its total is marked so by expandGrid): written only once copied.
  const owned = (a: Uint32Array) => (sharedArrays.has(a) ? a.slice() : a);
  into.grid = { ...into.grid, valid: owned(into.grid.valid), total: owned(into.grid.total) };
  return mergeStats(into, stats);
}

export function mergeStats(into: ScanStats, part: ScanStats): ScanStats {
  into.elements += part.elements;
  into.zeros += part.zeros;
  into.negativeZeros += part.negativeZeros;
  into.zeroPointZeros += part.zeroPointZeros;
  into.groups += part.groups;
  into.validGroups += part.validGroups;
  part.countHistogram.forEach((v, i) => (into.countHistogram[i] += v));
  if (into.maskHistogram && part.maskHistogram) part.maskHistogram.forEach((v, i) => (into.maskHistogram![i] += v));
  into.sumMagnitude += part.sumMagnitude;
  into.keptMagnitude += part.keptMagnitude;
  for (const [k, v] of Object.entries(part.patternViolations)) if (v >= 0 && into.patternViolations[k] >= 0) into.patternViolations[k] += v;
  for (const [k, v] of Object.entries(part.blocks)) {
    const target = into.blocks[k];
    if (v && target) {
      target.zero += v.zero;
      target.total += v.total;
    }
  }
  for (let i = 0; i < part.grid.valid.length; i++) {
    into.grid.valid[i] += part.grid.valid[i];
    into.grid.total[i] += part.grid.total[i];
  }
  return into;
}

/**
 * Accumulates the statistics of one slab: a fixed `a`, K rows [k0, k0 + h), every b. `lanes` holds the slab's
 * magnitudes lane-major (lane b at [b*h, (b+1)*h)). k0 and h are multiples of lcm(M, 16) except at the end of K.
 */
export class SlabScanner {
  private nz = new Uint8Array(0);
  /** Per block shape with out > 1 and r in A: running AND of all-zero flags over the rows of the current block. */
  private readonly rowBlocks = new Map<string, Uint8Array>();
  /** Per block shape and lane: all-zero flags of the slab's K-blocks (reused buffer). */
  private laneZero = new Map<string, Uint8Array>();

  constructor(
    readonly shape: ShapeInfo,
    readonly stats: ScanStats,
  ) {}

  scanSlab(lanes: Float32Array, a: number, k0: number, h: number): void {
    const { B } = this.shape;
    if (this.nz.length < h) this.nz = new Uint8Array(h);
    for (const block of BLOCK_SHAPES) {
      if (!this.stats.blocks[block.name]) continue;
      const need = B * Math.ceil(h / block.in);
      const buf = this.laneZero.get(block.name);
      if (!buf || buf.length < need) this.laneZero.set(block.name, new Uint8Array(need));
    }
    for (let b = 0; b < B; b++) this.scanLane(lanes, b * h, h, a, b, k0);
    this.combineBlocks(a, k0, h);
  }

  private scanLane(lanes: Float32Array, off: number, h: number, a: number, b: number, k0: number): void {
    const { shape, stats, nz } = this;
    const { n, m } = shape.pattern;
    let zeros = 0;
    let sumAll = 0;
    for (let i = 0; i < h; i++) {
      const v = lanes[off + i];
      const isNz = v !== 0 ? 1 : 0;
      nz[i] = isNz;
      zeros += 1 - isNz;
      sumAll += v;
    }
    stats.elements += h;
    stats.zeros += zeros;
    stats.sumMagnitude += sumAll;

    // The chosen N:M pattern: groups along K.
    const r = shape.rOf(a, b);
    const p = shape.pOf(a, b);
    const { rows, cols } = shape.grid;
    const tileRow = Math.floor((r * rows) / shape.R) * cols;
    const colScale = cols / (shape.chunksPerLane * shape.P);
    const hist = stats.countHistogram;
    const masks = stats.maskHistogram;
    let valid = 0;
    let kept = 0;
    const groups = Math.floor(h / m);
    for (let g = 0; g < groups; g++) {
      const base = g * m;
      let count = 0;
      let mask = 0;
      for (let j = 0; j < m; j++) {
        if (nz[base + j]) {
          count++;
          mask |= 1 << j;
        }
      }
      hist[count]++;
      if (masks) masks[mask]++;
      const tile = tileRow + Math.floor((Math.floor((k0 + base) / shape.chunk) * shape.P + p) * colScale);
      stats.grid.total[tile]++;
      if (count <= n) {
        valid++;
        stats.grid.valid[tile]++;
        for (let j = 0; j < m; j++) kept += lanes[off + base + j];
      } else {
        kept += largestSum(lanes, off + base, m, n);
      }
    }
    stats.groups += groups;
    stats.validGroups += valid;
    stats.keptMagnitude += kept;

    // Standard patterns from the same non-zero flags.
    for (const pat of STANDARD_PATTERNS) {
      const key = patternName(pat);
      if (stats.patternViolations[key] < 0) continue;
      let bad = 0;
      for (let base = 0; base + pat.m <= h; base += pat.m) {
        let c = 0;
        for (let j = 0; j < pat.m; j++) c += nz[base + j];
        if (c > pat.n) bad++;
      }
      stats.patternViolations[key] += bad;
    }

    // All-zero flags of each K-block of this lane, combined across rows in combineBlocks.
    for (const block of BLOCK_SHAPES) {
      const flags = this.laneZero.get(block.name);
      if (!flags || !stats.blocks[block.name]) continue;
      const perLane = Math.ceil(h / block.in);
      for (let kb = 0; kb < perLane; kb++) {
        let any = 0;
        const end = Math.min(h, (kb + 1) * block.in);
        for (let i = kb * block.in; i < end; i++) any |= nz[i];
        flags[b * perLane + kb] = any ^ 1;
      }
    }
  }

  private combineBlocks(a: number, k0: number, h: number): void {
    const { shape, stats } = this;
    const { B, K } = shape;
    for (const block of BLOCK_SHAPES) {
      const result = stats.blocks[block.name];
      const flags = this.laneZero.get(block.name);
      if (!result || !flags) continue;
      const perLane = Math.ceil(h / block.in);
      if (block.out === 1) {
        for (let i = 0; i < B * perLane; i++) result.zero += flags[i];
        result.total += B * perLane;
      } else if (!shape.rInA) {
        // Rows of a block are lanes b, b + rStride, ... in this same slab.
        for (let b = 0; b < B; b++) {
          if (shape.rOf(a, b) % block.out !== 0) continue;
          for (let kb = 0; kb < perLane; kb++) {
            let all = 1;
            for (let j = 0; j < block.out; j++) all &= flags[(b + j * shape.rStride) * perLane + kb];
            result.zero += all;
          }
          result.total += perLane;
        }
      } else {
        // Rows of a block are successive a (stride rStride): keep a running AND per (a mod rStride, K-block, b).
        const blocksPerK = Math.ceil(K / block.in);
        let acc = this.rowBlocks.get(block.name);
        if (!acc) this.rowBlocks.set(block.name, (acc = new Uint8Array(shape.rStride * blocksPerK * B)));
        const r = shape.rOf(a, 0);
        const first = r % block.out === 0;
        const last = r % block.out === block.out - 1;
        const a2 = a % shape.rStride;
        const kb0 = k0 / block.in;
        for (let b = 0; b < B; b++) {
          for (let kb = 0; kb < perLane; kb++) {
            const at = (a2 * blocksPerK + kb0 + kb) * B + b;
            const f = flags[b * perLane + kb];
            acc[at] = first ? f : acc[at] & f;
            if (last) {
              result.zero += acc[at];
              result.total++;
            }
          }
        }
      }
    }
  }
}

/** Sum of the n largest of values[off .. off+m). */
function largestSum(values: Float32Array, off: number, m: number, n: number): number {
  if (n === 1) {
    let best = 0;
    for (let j = 0; j < m; j++) if (values[off + j] > best) best = values[off + j];
    return best;
  }
  let taken = 0;
  let sum = 0;
  for (let t = 0; t < n; t++) {
    let best = -1;
    let at = -1;
    for (let j = 0; j < m; j++) {
      const v = values[off + j];
      if (!(taken & (1 << j)) && v > best) {
        best = v;
        at = j;
      }
    }
    taken |= 1 << at;
    sum += best;
  }
  return sum;
}
