// The channel permutation search: an order of a layer's input channels (its K columns) under which N:M magnitude
// pruning keeps more of sum |w| (NVIDIA ASP, "Channel Permutations for N:M Sparsity", Pool & Yu, NeurIPS 2021).
// Columns are assigned to groups of M; the order of columns inside a group, and of the groups, does not matter.
// The search is ASP's stripe-group idea at its smallest window: for a pair of groups, try every way of splitting
// their 2M columns into two groups (35 ways for M = 4; single column swaps for M > 5) and take the best, pair after
// pair, until a whole pass improves nothing or the work budget is spent; then a few seeded "escapes" (a random swap
// and a new descent, kept only if it ends higher), as ASP does to leave a local optimum. Every move raises the
// retained magnitude, so the result is never below the identity; it is checked on every row at the end, and the
// identity is returned when it is not strictly better.
import { CancelledError } from '../../errors';
import { seededRandom } from '../../onnx/numbers';
import type { Pattern } from '../../sparsity/pattern';

export interface SearchOptions {
  pattern: Pattern;
  /** Work bound: row x split evaluations over the whole search (default DEFAULT_BUDGET). */
  budget?: number;
  /** Rows the search looks at: a larger layer is searched on a seeded sample of its rows (default 512). */
  sampleRows?: number;
  /** Escape attempts after the first descent (default 20). */
  escapes?: number;
  seed?: number;
  /** Checked between pairs: a cancel stops the search (CancelledError). */
  signal?: { readonly aborted: boolean };
}

export interface SearchResult {
  /** New channel c holds old channel perm[c]; the identity when no better order was found. */
  perm: Int32Array;
  /** Sum |w| of the whole weight. */
  total: number;
  /** Sum |w| kept by N:M pruning in the stored order, and in the permuted order (every row). */
  plain: number;
  permuted: number;
  /** Kept by the best unstructured pruning at the same density (the N/M largest of each row): no order reaches more. */
  bound: number;
  /** Moves applied, and whether the budget ran out before the search converged. */
  moves: number;
  budgetSpent: boolean;
  /** Row x split evaluations done (what the budget counts). */
  work: number;
}

/** A few seconds at most for the largest layers on one core; a 128 x 64 matrix converges (escapes included) below it. */
export const DEFAULT_BUDGET = 3e7;

/**
 * Searches a permutation of the K columns of `columns` (column-major: column c's R rows at [c * R, (c + 1) * R),
 * magnitudes >= 0) that raises the magnitude N:M pruning keeps along K.
 */
export function searchPermutation(columns: Float32Array, R: number, K: number, options: SearchOptions): SearchResult {
  const { n, m } = options.pattern;
  if (K % m !== 0) throw new Error(`${K} channels are not a multiple of ${m}`);
  const identity = Int32Array.from({ length: K }, (_, i) => i);
  const total = sumAll(columns);
  const plain = keptMagnitude(columns, R, K, identity, n, m);
  const bound = unstructuredBound(columns, R, K, n, m);
  const rnd = seededRandom(options.seed ?? 20211206);
  const sample = sampleColumns(columns, R, K, options.sampleRows ?? 512, rnd);
  const search = new GroupSearch(sample.columns, sample.rows, K, n, m, options.budget ?? DEFAULT_BUDGET, rnd, options.signal);
  search.descend();
  // Escapes: a random swap between two groups, a new descent; the best order seen is kept.
  let best = search.perm.slice();
  let bestScore = search.score();
  for (let e = 0; e < (options.escapes ?? 20) && !search.spent() && K / m > 1; e++) {
    search.randomSwap();
    search.descend();
    const s = search.score();
    if (s > bestScore) {
      bestScore = s;
      best = search.perm.slice();
    } else search.reset(best);
  }
  const permuted = keptMagnitude(columns, R, K, best, n, m);
  // A gain within float rounding of sums in another order is no gain: the stored order stays.
  const better = permuted > plain + Math.abs(plain) * 1e-9;
  return { perm: better ? best : identity, total, plain, permuted: better ? permuted : plain, bound, moves: search.moves, budgetSpent: search.spent(), work: search.work };
}

/** Sum |w| kept by N:M pruning along K when column c of the result is column perm[c] of `columns`. */
export function keptMagnitude(columns: Float32Array, R: number, K: number, perm: Int32Array, n: number, m: number): number {
  let kept = 0;
  const values = new Float64Array(m);
  for (let g = 0; g < K; g += m) {
    for (let r = 0; r < R; r++) {
      for (let j = 0; j < m; j++) values[j] = columns[perm[g + j] * R + r];
      kept += topSum(values, m, n);
    }
  }
  return kept;
}

function sumAll(values: Float32Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

/** The N/M largest of each row, whatever their positions. */
function unstructuredBound(columns: Float32Array, R: number, K: number, n: number, m: number): number {
  const keep = (K / m) * n;
  const row = new Float64Array(K);
  let kept = 0;
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < K; c++) row[c] = columns[c * R + r];
    row.sort();
    for (let c = K - keep; c < K; c++) kept += row[c];
  }
  return kept;
}

/** The two largest of four: everything but the two smallest. */
function top2of4(a: number, b: number, c: number, d: number): number {
  const lo1 = a < b ? a : b;
  const hi1 = a < b ? b : a;
  const lo2 = c < d ? c : d;
  const hi2 = c < d ? d : c;
  const smallest = lo1 < lo2 ? lo1 : lo2;
  const larger = lo1 < lo2 ? lo2 : lo1;
  const second = larger < (hi1 < hi2 ? hi1 : hi2) ? larger : hi1 < hi2 ? hi1 : hi2;
  return a + b + c + d - smallest - second;
}

/** The sum of the n largest of values[0..m). */
function topSum(values: Float64Array, m: number, n: number): number {
  if (m === 4 && n === 2) return top2of4(values[0], values[1], values[2], values[3]);
  let sum = 0;
  let taken = 0;
  for (let t = 0; t < n; t++) {
    let best = -1;
    let at = -1;
    for (let j = 0; j < m; j++) {
      if (!((taken >> j) & 1) && values[j] > best) {
        best = values[j];
        at = j;
      }
    }
    taken |= 1 << at;
    sum += best;
  }
  return sum;
}

/** At most `limit` rows, a seeded sample when there are more (the order found on them is scored on all rows). */
function sampleColumns(columns: Float32Array, R: number, K: number, limit: number, rnd: () => number): { columns: Float32Array; rows: number } {
  if (R <= limit) return { columns, rows: R };
  const picked = Int32Array.from({ length: R }, (_, i) => i);
  for (let i = 0; i < limit; i++) {
    const j = i + Math.floor(rnd() * (R - i));
    const t = picked[i];
    picked[i] = picked[j];
    picked[j] = t;
  }
  const out = new Float32Array(limit * K);
  for (let c = 0; c < K; c++) for (let i = 0; i < limit; i++) out[c * limit + i] = columns[c * R + picked[i]];
  return { columns: out, rows: limit };
}

/** Ways to split 2M columns into two groups of M, as bit masks of the first group (which holds column 0). */
function splitMasks(m: number): number[] {
  const masks: number[] = [];
  const width = 2 * m;
  const count = binomial(width - 1, m - 1);
  if (count <= 128) {
    // Every split (35 for M = 4): ASP's exhaustive search over a window of two stripes.
    for (let mask = 0; mask < 2 ** width; mask++) if (mask & 1 && popCount(mask) === m) masks.push(mask);
    return masks;
  }
  // Larger M: the current split and every single swap of a column of the first group with one of the second.
  const current = 2 ** m - 1;
  masks.push(current);
  for (let i = 0; i < m; i++) for (let j = m; j < width; j++) masks.push(current - 2 ** i + 2 ** j);
  return masks;
}

function binomial(a: number, b: number): number {
  let r = 1;
  for (let i = 1; i <= b; i++) r = (r * (a - b + i)) / i;
  return Math.round(r);
}

function popCount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

/** Local search over pairs of groups, with a work budget. */
class GroupSearch {
  readonly perm: Int32Array;
  moves = 0;
  work = 0;
  private readonly groups: number;
  private readonly groupScore: Float64Array;
  private readonly masks: number[];
  private readonly splitScore: Float64Array;
  /** For each split, the positions (of the pair's 2M columns) of its first group, then of its second. */
  private readonly splitPositions: Int8Array;
  /** Move count at which each group last changed, and at which each pair was last found without a better split. */
  private readonly changedAt: Float64Array;
  private readonly checkedAt: Float64Array | null;

  constructor(
    private readonly columns: Float32Array,
    private readonly R: number,
    K: number,
    private readonly n: number,
    private readonly m: number,
    private readonly budget: number,
    private readonly rnd: () => number,
    private readonly signal?: { readonly aborted: boolean },
  ) {
    this.perm = Int32Array.from({ length: K }, (_, i) => i);
    this.groups = K / m;
    this.groupScore = new Float64Array(this.groups);
    this.masks = splitMasks(m);
    this.splitScore = new Float64Array(this.masks.length);
    this.splitPositions = new Int8Array(this.masks.length * 2 * m);
    this.masks.forEach((mask, s) => {
      const positions = [...Array(2 * m).keys()];
      const order = [...positions.filter((j) => (mask >>> j) & 1), ...positions.filter((j) => !((mask >>> j) & 1))];
      this.splitPositions.set(order, s * 2 * m);
    });
    this.changedAt = new Float64Array(this.groups);
    // The pair memo costs G^2 / 2 numbers: kept for up to 2048 groups (8192 channels at M = 4).
    this.checkedAt = this.groups <= 2048 ? new Float64Array((this.groups * (this.groups - 1)) / 2).fill(-1) : null;
    for (let g = 0; g < this.groups; g++) this.groupScore[g] = this.scoreGroup(g);
  }

  spent(): boolean {
    return this.work >= this.budget;
  }

  score(): number {
    let s = 0;
    for (let g = 0; g < this.groups; g++) s += this.groupScore[g];
    return s;
  }

  /** Back to `perm`: only the groups that differ are rescored (and their pairs looked at again). */
  reset(perm: Int32Array): void {
    const m = this.m;
    for (let g = 0; g < this.groups; g++) {
      let same = true;
      for (let j = 0; j < m && same; j++) same = this.perm[g * m + j] === perm[g * m + j];
      if (same) continue;
      this.perm.set(perm.subarray(g * m, (g + 1) * m), g * m);
      this.groupScore[g] = this.scoreGroup(g);
      this.changedAt[g] = ++this.moves;
    }
  }

  randomSwap(): void {
    const a = Math.floor(this.rnd() * this.groups);
    let b = Math.floor(this.rnd() * (this.groups - 1));
    if (b >= a) b++;
    const i = a * this.m + Math.floor(this.rnd() * this.m);
    const j = b * this.m + Math.floor(this.rnd() * this.m);
    const t = this.perm[i];
    this.perm[i] = this.perm[j];
    this.perm[j] = t;
    for (const g of [a, b]) {
      this.groupScore[g] = this.scoreGroup(g);
      this.changedAt[g] = ++this.moves;
    }
  }

  /** Passes over every pair of groups, taking the best split of each, until a pass changes nothing or the budget ends. */
  descend(): void {
    const G = this.groups;
    let improved = true;
    while (improved && !this.spent()) {
      improved = false;
      // Pairs in a seeded order: a budget that ends mid-pass has not spent itself on the first groups only.
      const order = Int32Array.from({ length: G }, (_, i) => i);
      for (let i = G - 1; i > 0; i--) {
        const j = Math.floor(this.rnd() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      for (let x = 0; x < G && !this.spent(); x++) {
        for (let y = x + 1; y < G && !this.spent(); y++) {
          if (this.signal?.aborted) throw new CancelledError();
          const a = Math.min(order[x], order[y]);
          const b = Math.max(order[x], order[y]);
          if (this.tryPair(a, b)) improved = true;
        }
      }
    }
  }

  private pairIndex(a: number, b: number): number {
    // a < b: pairs (0,1) (0,2) ... (1,2) ...
    return (a * (2 * this.groups - a - 1)) / 2 + (b - a - 1);
  }

  /** Takes the best split of groups a and b when it beats the current one; says whether it did. */
  private tryPair(a: number, b: number): boolean {
    const memo = this.checkedAt;
    const p = memo ? this.pairIndex(a, b) : 0;
    if (memo && memo[p] >= this.changedAt[a] && memo[p] >= this.changedAt[b]) return false;
    const { m, n, R, columns, masks, splitScore } = this;
    const width = 2 * m;
    const cols = new Int32Array(width);
    for (let j = 0; j < m; j++) {
      cols[j] = this.perm[a * m + j];
      cols[m + j] = this.perm[b * m + j];
    }
    splitScore.fill(0);
    const row = new Float64Array(width);
    const splits = masks.length;
    if (m === 4 && n === 2) {
      // The common case, unrolled: each split's two groups read through a table of column positions.
      const at = this.splitPositions;
      for (let r = 0; r < R; r++) {
        for (let j = 0; j < 8; j++) row[j] = columns[cols[j] * R + r];
        for (let s = 0, o = 0; s < splits; s++, o += 8) {
          splitScore[s] += top2of4(row[at[o]], row[at[o + 1]], row[at[o + 2]], row[at[o + 3]]) + top2of4(row[at[o + 4]], row[at[o + 5]], row[at[o + 6]], row[at[o + 7]]);
        }
      }
    } else {
      const first = new Float64Array(m);
      const second = new Float64Array(m);
      for (let r = 0; r < R; r++) {
        for (let j = 0; j < width; j++) row[j] = columns[cols[j] * R + r];
        for (let s = 0; s < splits; s++) {
          const mask = masks[s];
          let f = 0;
          let g = 0;
          for (let j = 0; j < width; j++) {
            if ((mask >>> j) & 1) first[f++] = row[j];
            else second[g++] = row[j];
          }
          splitScore[s] += topSum(first, m, n) + topSum(second, m, n);
        }
      }
    }
    this.work += R * masks.length;
    const current = this.groupScore[a] + this.groupScore[b];
    let best = -1;
    let bestScore = current;
    // A relative margin: float sums in another order must not pass for a gain (and loop for ever).
    const margin = Math.abs(current) * 1e-12;
    for (let s = 0; s < masks.length; s++) {
      if (splitScore[s] > bestScore + margin) {
        bestScore = splitScore[s];
        best = s;
      }
    }
    if (best < 0) {
      if (memo) memo[p] = this.moves;
      return false;
    }
    const mask = masks[best];
    let f = 0;
    let g = 0;
    for (let j = 0; j < width; j++) {
      if ((mask >>> j) & 1) this.perm[a * m + f++] = cols[j];
      else this.perm[b * m + g++] = cols[j];
    }
    this.groupScore[a] = this.scoreGroup(a);
    this.groupScore[b] = this.scoreGroup(b);
    this.changedAt[a] = ++this.moves;
    this.changedAt[b] = this.moves;
    if (memo) memo[p] = this.moves;
    return true;
  }

  private scoreGroup(g: number): number {
    const { m, n, R, columns } = this;
    const values = new Float64Array(m);
    let s = 0;
    for (let r = 0; r < R; r++) {
      for (let j = 0; j < m; j++) values[j] = columns[this.perm[g * m + j] * R + r];
      s += topSum(values, m, n);
    }
    return s;
  }
}
