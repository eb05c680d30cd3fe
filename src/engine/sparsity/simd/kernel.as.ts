// WebAssembly SIMD scan kernel for M = 4 (2:4, 1:4, 3:4) on float16, bfloat16 and float32 weights.
// Compiled by AssemblyScript (esbuild.mjs). The JS side (simdScan.ts) owns the memory layout and feeds slabs;
// kernel.ts is the reference implementation these functions must agree with.

const DT_F16: i32 = 0;
const DT_BF16: i32 = 1;
const DT_F32: i32 = 2;

const TWO112: f32 = 5.192296858534828e33; // 2^112: rescales f16 bits shifted into f32 position
const TINY: f32 = 1.401298464324817e-45; // NaN is non-zero but has no magnitude (decode.ts NAN_MAGNITUDE)
const INF: f32 = Infinity;

let totalMagnitude: f64 = 0;
let keptMagnitude: f64 = 0;
/** -0.0 elements seen by the float16/bfloat16 scans and the K-contiguous float32 scan since resetSums: zeros that fail a bit test. */
let negativeZeros: i32 = 0;
const NEG_ZERO_HALF: v128 = i16x8(-32768, -32768, -32768, -32768, -32768, -32768, -32768, -32768);

/** 64 bytes the kernel keeps for itself at the start of the heap (the pruning passes'), then pointScratch's. */
@inline function scratchBase(): usize {
  return (__heap_base + 15) & ~15;
}
/** scanPacked4's zero points of a chunk of a row, a byte per block: at most 256, and 16 bytes of room to read past them. */
@inline function pointScratch(): usize {
  return scratchBase() + 64;
}
/** Where the caller's buffers may start: after the kernel's scratch. */
export function heapBase(): usize {
  return pointScratch() + 256 + 16;
}
export function resetSums(): void {
  totalMagnitude = 0;
  keptMagnitude = 0;
  negativeZeros = 0;
}
export function getNegativeZeros(): i32 {
  return negativeZeros;
}
/** Adds the u16 lane counts of `acc` to negativeZeros. */
@inline function flushNegativeZeros(acc: v128): void {
  const wide = i32x4.extadd_pairwise_i16x8_u(acc);
  negativeZeros += i32x4.extract_lane(wide, 0) + i32x4.extract_lane(wide, 1) + i32x4.extract_lane(wide, 2) + i32x4.extract_lane(wide, 3);
}
export function getTotal(): f64 {
  return totalMagnitude;
}
export function getKept(): f64 {
  return keptMagnitude;
}

// ------------------------------------------------------------------------------------------ magnitudes

@inline function halfMagLo(a: v128, bf: bool): v128 {
  const w = i32x4.extend_low_i16x8_u(a);
  return bf ? i32x4.shl(w, 16) : f32x4.mul(i32x4.shl(w, 13), f32x4.splat(TWO112));
}
@inline function halfMagHi(a: v128, bf: bool): v128 {
  const w = i32x4.extend_high_i16x8_u(a);
  return bf ? i32x4.shl(w, 16) : f32x4.mul(i32x4.shl(w, 13), f32x4.splat(TWO112));
}

/** Infinity stays infinite, NaN becomes TINY, for lanes whose |bits| reach the exponent's top (rare). */
@inline function fixSpecialLo(mag: v128, a: v128, limit: i16): v128 {
  const inf = i32x4.extend_low_i16x8_s(i16x8.eq(a, i16x8.splat(limit)));
  const nan = i32x4.extend_low_i16x8_s(i16x8.gt_u(a, i16x8.splat(limit)));
  return v128.bitselect(f32x4.splat(TINY), v128.bitselect(f32x4.splat(INF), mag, inf), nan);
}
@inline function fixSpecialHi(mag: v128, a: v128, limit: i16): v128 {
  const inf = i32x4.extend_high_i16x8_s(i16x8.eq(a, i16x8.splat(limit)));
  const nan = i32x4.extend_high_i16x8_s(i16x8.gt_u(a, i16x8.splat(limit)));
  return v128.bitselect(f32x4.splat(TINY), v128.bitselect(f32x4.splat(INF), mag, inf), nan);
}

@inline function f32Mag(x: v128): v128 {
  return v128.bitselect(f32x4.splat(TINY), f32x4.abs(x), f32x4.ne(x, x));
}

@inline function promoteLo(x: v128): v128 {
  return f64x2.promote_low_f32x4(x);
}
@inline function promoteHi(x: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1));
}

/**
 * Adds, for 4 groups (one per lane) of 4 magnitudes, the total and the sum of the n largest. Sorting is exact in
 * float32; sums are float64, so results match the JavaScript kernel's.
 */
@inline function accumulate4(x0: v128, x1: v128, x2: v128, x3: v128, n: i32): void {
  // Sorting network (0,1)(2,3)(0,2)(1,3)(1,2): s0 >= s1 >= s2 >= s3 per lane.
  const a = f32x4.max(x0, x1);
  const b = f32x4.min(x0, x1);
  const c = f32x4.max(x2, x3);
  const d = f32x4.min(x2, x3);
  const s0 = f32x4.max(a, c);
  const t = f32x4.min(a, c);
  const u = f32x4.max(b, d);
  const s1 = f32x4.max(t, u);
  const s2 = f32x4.min(t, u);
  const s3 = f32x4.min(b, d);
  const k1Lo = promoteLo(s0), k1Hi = promoteHi(s0);
  const k2Lo = f64x2.add(k1Lo, promoteLo(s1)), k2Hi = f64x2.add(k1Hi, promoteHi(s1));
  const k3Lo = f64x2.add(k2Lo, promoteLo(s2)), k3Hi = f64x2.add(k2Hi, promoteHi(s2));
  const total = f64x2.add(f64x2.add(k3Lo, promoteLo(s3)), f64x2.add(k3Hi, promoteHi(s3)));
  const kept = n == 1 ? f64x2.add(k1Lo, k1Hi) : n == 2 ? f64x2.add(k2Lo, k2Hi) : f64x2.add(k3Lo, k3Hi);
  totalMagnitude += f64x2.extract_lane(total, 0) + f64x2.extract_lane(total, 1);
  keptMagnitude += f64x2.extract_lane(kept, 0) + f64x2.extract_lane(kept, 1);
}

/** As accumulate4 when every group has at most n non-zeros: the n largest are then all of them. */
@inline function accumulateValid4(x0: v128, x1: v128, x2: v128, x3: v128): void {
  const lo = f64x2.add(f64x2.add(promoteLo(x0), promoteLo(x1)), f64x2.add(promoteLo(x2), promoteLo(x3)));
  const hi = f64x2.add(f64x2.add(promoteHi(x0), promoteHi(x1)), f64x2.add(promoteHi(x2), promoteHi(x3)));
  const total = f64x2.add(lo, hi);
  const sum = f64x2.extract_lane(total, 0) + f64x2.extract_lane(total, 1);
  totalMagnitude += sum;
  keptMagnitude += sum;
}

/** Whether every lane's group mask (< 16) has at most n bits set. */
@inline function allValid(nib: v128, n: i32): bool {
  return !v128.any_true(i16x8.gt_u(i8x16.popcnt(nib), i16x8.splat(<i16>n)));
}

/**
 * 8 groups (one per i16 lane) of 4 half-precision values r0..r3 (raw bits): accumulates magnitudes and returns
 * each group's non-zero mask (bit j = element j) in its lane.
 */
@inline function groupHalf(r0: v128, r1: v128, r2: v128, r3: v128, bf: bool, n: i32): v128 {
  const abs = i16x8.splat(0x7fff);
  const zero = i16x8.splat(0);
  const a0 = v128.and(r0, abs);
  const a1 = v128.and(r1, abs);
  const a2 = v128.and(r2, abs);
  const a3 = v128.and(r3, abs);
  const nib = v128.or(
    v128.or(v128.and(i16x8.ne(a0, zero), i16x8.splat(1)), v128.and(i16x8.ne(a1, zero), i16x8.splat(2))),
    v128.or(v128.and(i16x8.ne(a2, zero), i16x8.splat(4)), v128.and(i16x8.ne(a3, zero), i16x8.splat(8))),
  );
  let lo0 = halfMagLo(a0, bf), hi0 = halfMagHi(a0, bf);
  let lo1 = halfMagLo(a1, bf), hi1 = halfMagHi(a1, bf);
  let lo2 = halfMagLo(a2, bf), hi2 = halfMagHi(a2, bf);
  let lo3 = halfMagLo(a3, bf), hi3 = halfMagHi(a3, bf);
  const limit: i16 = bf ? 0x7f80 : 0x7c00;
  const lim = i16x8.splat(limit - 1);
  const special = v128.or(v128.or(i16x8.gt_u(a0, lim), i16x8.gt_u(a1, lim)), v128.or(i16x8.gt_u(a2, lim), i16x8.gt_u(a3, lim)));
  if (v128.any_true(special)) {
    lo0 = fixSpecialLo(lo0, a0, limit); hi0 = fixSpecialHi(hi0, a0, limit);
    lo1 = fixSpecialLo(lo1, a1, limit); hi1 = fixSpecialHi(hi1, a1, limit);
    lo2 = fixSpecialLo(lo2, a2, limit); hi2 = fixSpecialHi(hi2, a2, limit);
    lo3 = fixSpecialLo(lo3, a3, limit); hi3 = fixSpecialHi(hi3, a3, limit);
  }
  if (allValid(nib, n)) {
    accumulateValid4(lo0, lo1, lo2, lo3);
    accumulateValid4(hi0, hi1, hi2, hi3);
  } else {
    accumulate4(lo0, lo1, lo2, lo3, n);
    accumulate4(hi0, hi1, hi2, hi3, n);
  }
  return nib;
}

/** As groupHalf for float32: element j of the 8 groups is in xj (lanes 0-3) and yj (lanes 4-7). */
@inline function groupF32(x0: v128, y0: v128, x1: v128, y1: v128, x2: v128, y2: v128, x3: v128, y3: v128, n: i32): v128 {
  const zero = f32x4.splat(0);
  const nz0 = i16x8.narrow_i32x4_s(f32x4.ne(x0, zero), f32x4.ne(y0, zero));
  const nz1 = i16x8.narrow_i32x4_s(f32x4.ne(x1, zero), f32x4.ne(y1, zero));
  const nz2 = i16x8.narrow_i32x4_s(f32x4.ne(x2, zero), f32x4.ne(y2, zero));
  const nz3 = i16x8.narrow_i32x4_s(f32x4.ne(x3, zero), f32x4.ne(y3, zero));
  const nib = v128.or(
    v128.or(v128.and(nz0, i16x8.splat(1)), v128.and(nz1, i16x8.splat(2))),
    v128.or(v128.and(nz2, i16x8.splat(4)), v128.and(nz3, i16x8.splat(8))),
  );
  if (allValid(nib, n)) {
    accumulateValid4(f32Mag(x0), f32Mag(x1), f32Mag(x2), f32Mag(x3));
    accumulateValid4(f32Mag(y0), f32Mag(y1), f32Mag(y2), f32Mag(y3));
  } else {
    accumulate4(f32Mag(x0), f32Mag(x1), f32Mag(x2), f32Mag(x3), n);
    accumulate4(f32Mag(y0), f32Mag(y1), f32Mag(y2), f32Mag(y3), n);
  }
  return nib;
}

// ------------------------------------------------------------------------------------------ scalar fallback

@inline function scalarMag(p: usize, dt: i32): f32 {
  if (dt == DT_F32) {
    const x = load<f32>(p);
    return x != x ? TINY : Mathf.abs(x);
  }
  const a = <u32>load<u16>(p) & 0x7fff;
  if (dt == DT_BF16) {
    if (a > 0x7f80) return TINY;
    return reinterpret<f32>(a << 16);
  }
  if (a >= 0x7c00) return a == 0x7c00 ? INF : TINY;
  return reinterpret<f32>(a << 13) * TWO112;
}

@inline function scalarNonZero(p: usize, dt: i32): i32 {
  if (dt == DT_F32) return <i32>(load<f32>(p) != 0);
  return <i32>((load<u16>(p) & 0x7fff) != 0);
}

/** One group of 4 at p, p+stride, ...: accumulates magnitudes, returns its non-zero mask. */
function scalarGroup(p: usize, stride: usize, dt: i32, n: i32): i32 {
  let mask = 0;
  const m0 = scalarMag(p, dt), m1 = scalarMag(p + stride, dt), m2 = scalarMag(p + 2 * stride, dt), m3 = scalarMag(p + 3 * stride, dt);
  mask = scalarNonZero(p, dt) | (scalarNonZero(p + stride, dt) << 1) | (scalarNonZero(p + 2 * stride, dt) << 2) | (scalarNonZero(p + 3 * stride, dt) << 3);
  const a = max(m0, m1), b = min(m0, m1), c = max(m2, m3), d = min(m2, m3);
  const s0 = max(a, c), t = min(a, c), u = max(b, d);
  let kept: f64 = <f64>s0;
  if (n >= 2) kept += <f64>max(t, u);
  if (n >= 3) kept += <f64>min(t, u);
  totalMagnitude += <f64>m0 + <f64>m1 + <f64>m2 + <f64>m3;
  keptMagnitude += kept;
  return mask;
}

// ------------------------------------------------------------------------------------------ fast half path
// Float16 and bfloat16 without special values. Magnitudes are compared as integers (for non-negative floats the
// bit patterns order like the values), 8 groups per operation; the sum of all magnitudes and the sum of the pruned
// ones (the 4 - n smallest of each group, zero when the group is valid) are added in float32 over one 16-row word,
// then in float64. Float32 bits (a << 13) are a float16 magnitude times 2^-112 (subnormals included), so no
// multiply is needed until the end; bfloat16 bits (a << 16) are the magnitude itself. Vectors with an Inf or NaN
// (or a bfloat16 magnitude >= 2^100, whose float32 sums could overflow) take the exact slow path instead.
// The scan loops work on doubled magnitudes (dblSum), the pruning loops on plain ones (bitsSum).

/** Largest magnitude bits the fast path takes: below Inf for float16, below 2^100 for bfloat16. */
@inline function fastLimit(bf: bool): v128 {
  return i16x8.splat(bf ? 0x717f : 0x7bff);
}
@inline function bitsLo(a: v128, bf: bool): v128 {
  return i32x4.shl(i32x4.extend_low_i16x8_u(a), bf ? 16 : 13);
}
@inline function bitsHi(a: v128, bf: bool): v128 {
  return i32x4.shl(i32x4.extend_high_i16x8_u(a), bf ? 16 : 13);
}
@inline function bitsSum(a: v128, bf: bool): v128 {
  return f32x4.add(bitsLo(a, bf), bitsHi(a, bf));
}
@inline function addF64(acc: v128, x: v128): v128 {
  return f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(x), f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1))));
}
/** What the fast paths' float32 magnitudes are multiplied by to be true ones: 2^112 for float16, else 1. */
@inline function halfScale(bf: bool): f64 {
  return bf ? 1 : <f64>TWO112;
}

/** Adds the fast path's float64 sums (times `scale`, see halfScale) to the totals. */
@inline function flushFast(total: v128, pruned: v128, scale: f64): void {
  const t = (f64x2.extract_lane(total, 0) + f64x2.extract_lane(total, 1)) * scale;
  const p = (f64x2.extract_lane(pruned, 0) + f64x2.extract_lane(pruned, 1)) * scale;
  totalMagnitude += t;
  keptMagnitude += t - p;
}

/**
 * Appends one group's zero flags (zj = -1 where element j is zero) below the groups already in `zw`, which holds
 * the zero bits negated (flags are -1): the loops go from the top group down, so the result is -(zero bits).
 */
@inline function pushZeroNibble(zw: v128, z0: v128, z1: v128, z2: v128, z3: v128): v128 {
  let t = i16x8.add(i16x8.add(z3, z3), z2);
  t = i16x8.add(i16x8.add(t, t), z1);
  t = i16x8.add(i16x8.add(t, t), z0);
  return i16x8.add(i16x8.shl(zw, 4), t);
}

// Magnitudes doubled: `a << 1` drops the sign and keeps the order (compared unsigned), with no constant to load.
// Float32 bits of a doubled float16 magnitude d are d << 12 (d << 15 for bfloat16), taken from each 32-bit lane's
// halves with shifts only.
@inline function dblSum(d: v128, bf: bool): v128 {
  return f32x4.add(i32x4.shr_u(i32x4.shl(d, 16), bf ? 1 : 4), i32x4.shl(i32x4.shr_u(d, 16), bf ? 15 : 12));
}
/** Doubled magnitude bits above which the fast path does not go: Inf and NaN (float16), >= 2^100 (bfloat16). */
@inline function dblLimit(bf: bool): v128 {
  const limit: i32 = bf ? 0xe2fe : 0xf7fe;
  return i16x8.splat(<i16>limit);
}

/** scanStrided for float16 and bfloat16: one copy per type and n, so that both are constants in the loops. */
function scanStridedHalf(input: usize, rows: i32, lanes: i32, bf: bool, n: i32, words: usize): void {
  if (bf) {
    if (n == 1) stridedHalf(input, rows, lanes, true, 1, words);
    else if (n == 2) stridedHalf(input, rows, lanes, true, 2, words);
    else stridedHalf(input, rows, lanes, true, 3, words);
  } else {
    if (n == 1) stridedHalf(input, rows, lanes, false, 1, words);
    else if (n == 2) stridedHalf(input, rows, lanes, false, 2, words);
    else stridedHalf(input, rows, lanes, false, 3, words);
  }
}

@inline function stridedHalf(input: usize, rows: i32, lanes: i32, bf: bool, n: i32, words: usize): void {
  const stride: usize = <usize>lanes * 2;
  const wordRows = (rows + 15) >> 4;
  let total = f64x2.splat(0);
  let pruned = f64x2.splat(0);
  for (let wr = 0; wr < wordRows; wr++) {
    const groups = min(4, (rows - wr * 16) >> 2);
    const fullBits: i32 = (1 << (groups * 4)) - 1;
    const full = i16x8.splat(<i16>fullBits);
    const top: usize = input + (<usize>(wr * 16 + groups * 4 - 4) * <usize>lanes) * 2;
    let b = 0;
    for (; b + 8 <= lanes; b += 8) {
      // Zero flags (-1 each) gathered as a negated word, from the top group down: zw = -(zero bits).
      let zw = i16x8.splat(0);
      let tot = f32x4.splat(0);
      let pr = f32x4.splat(0);
      let big = i16x8.splat(0);
      // Negative zeros per lane (-1 per hit, at most 16 per word row).
      let neg = i16x8.splat(0);
      let p = top + <usize>b * 2;
      for (let g = 0; g < groups; g++, p -= 4 * stride) {
        const r0 = v128.load(p), r1 = v128.load(p + stride), r2 = v128.load(p + 2 * stride), r3 = v128.load(p + 3 * stride);
        neg = i16x8.add(neg, i16x8.add(i16x8.add(i16x8.eq(r0, NEG_ZERO_HALF), i16x8.eq(r1, NEG_ZERO_HALF)), i16x8.add(i16x8.eq(r2, NEG_ZERO_HALF), i16x8.eq(r3, NEG_ZERO_HALF))));
        const a0 = i16x8.shl(r0, 1), a1 = i16x8.shl(r1, 1);
        const a2 = i16x8.shl(r2, 1), a3 = i16x8.shl(r3, 1);
        const zero = i16x8.splat(0);
        const z0 = i16x8.eq(a0, zero), z1 = i16x8.eq(a1, zero), z2 = i16x8.eq(a2, zero), z3 = i16x8.eq(a3, zero);
        zw = pushZeroNibble(zw, z0, z1, z2, z3);
        // Sorting network per lane: s0 >= s1 >= s2 >= s3.
        const lo01 = i16x8.min_u(a0, a1), hi01 = i16x8.max_u(a0, a1);
        const lo23 = i16x8.min_u(a2, a3), hi23 = i16x8.max_u(a2, a3);
        const s0 = i16x8.max_u(hi01, hi23);
        const m1 = i16x8.min_u(hi01, hi23), m2 = i16x8.max_u(lo01, lo23);
        const s1 = i16x8.max_u(m1, m2), s2 = i16x8.min_u(m1, m2);
        big = i16x8.max_u(big, s0);
        const c1 = dblSum(s1, bf);
        if (!v128.any_true(s2)) {
          // At most 2 non-zeros in every lane: s2 and s3 are zeros.
          tot = f32x4.add(tot, f32x4.add(dblSum(s0, bf), c1));
          if (n == 1) pr = f32x4.add(pr, c1);
        } else {
          const c2 = dblSum(s2, bf), c3 = dblSum(i16x8.min_u(lo01, lo23), bf);
          const c23 = f32x4.add(c2, c3);
          tot = f32x4.add(tot, f32x4.add(f32x4.add(dblSum(s0, bf), c1), c23));
          pr = f32x4.add(pr, n == 1 ? f32x4.add(c1, c23) : n == 2 ? c23 : c3);
        }
      }
      if (v128.any_true(i16x8.sub_sat_u(big, dblLimit(bf)))) {
        // An Inf, a NaN or a huge bfloat16 value: this word's magnitudes again, exactly.
        tot = f32x4.splat(0);
        pr = f32x4.splat(0);
        for (let g = 0; g < groups; g++) {
          const q = input + (<usize>(wr * 16 + g * 4) * <usize>lanes + <usize>b) * 2;
          slowHalf(v128.load(q), v128.load(q + stride), v128.load(q + 2 * stride), v128.load(q + 3 * stride), bf, n);
        }
      }
      total = addF64(total, tot);
      pruned = addF64(pruned, pr);
      flushNegativeZeros(i16x8.neg(neg));
      // Non-zero bits = ~(zero bits) = ~(-zw) = zw - 1, within the word's groups.
      v128.store(words + (<usize>wr * <usize>lanes + <usize>b) * 2, v128.and(i16x8.sub(zw, i16x8.splat(1)), full));
    }
    for (; b < lanes; b++) {
      let word = 0;
      for (let g = 0; g < groups; g++) {
        const p = input + (<usize>(wr * 16 + g * 4) * <usize>lanes + <usize>b) * 2;
        word |= scalarGroup(p, stride, bf ? DT_BF16 : DT_F16, n) << (g * 4);
        for (let j: usize = 0; j < 4; j++) negativeZeros += <i32>(load<u16>(p + j * stride) == 0x8000);
      }
      store<u16>(words + (<usize>wr * <usize>lanes + <usize>b) * 2, <u16>word);
    }
  }
  flushFast(total, pruned, halfScale(bf));
}

/** scanContiguous for float16 and bfloat16 (one copy per type and n, as scanStridedHalf). */
function scanContiguousHalf(input: usize, count: i32, bf: bool, n: i32, words: usize, valid: usize): void {
  if (bf) {
    if (n == 1) contiguousHalf(input, count, true, 1, words, valid);
    else if (n == 2) contiguousHalf(input, count, true, 2, words, valid);
    else contiguousHalf(input, count, true, 3, words, valid);
  } else {
    if (n == 1) contiguousHalf(input, count, false, 1, words, valid);
    else if (n == 2) contiguousHalf(input, count, false, 2, words, valid);
    else contiguousHalf(input, count, false, 3, words, valid);
  }
}

/** `valid` is validTable (u8[65536]): valid groups per word. */
@inline function contiguousHalf(input: usize, count: i32, bf: bool, n: i32, words: usize, valid: usize): void {
  let total = f64x2.splat(0);
  let pruned = f64x2.splat(0);
  let i = 0;
  // Blocks of 32 elements (2 words, 8 groups); float32 partial sums over 8 blocks.
  while (i + 32 <= count) {
    let tot = f32x4.splat(0);
    let pr = f32x4.splat(0);
    const end = min(count & ~31, i + 256);
    for (; i < end; i += 32) {
      const p = input + <usize>i * 2;
      const r0 = v128.load(p), r1 = v128.load(p, 16), r2 = v128.load(p, 32), r3 = v128.load(p, 48);
      const a0 = i16x8.shl(r0, 1), a1 = i16x8.shl(r1, 1);
      const a2 = i16x8.shl(r2, 1), a3 = i16x8.shl(r3, 1);
      // Zero flags of 16 consecutive elements, narrowed to bytes: their sign bits are the word's zero bits.
      const zero = i16x8.splat(0);
      const w0 = ~i8x16.bitmask(i8x16.narrow_i16x8_s(i16x8.eq(a0, zero), i16x8.eq(a1, zero))) & 0xffff;
      const w1 = ~i8x16.bitmask(i8x16.narrow_i16x8_s(i16x8.eq(a2, zero), i16x8.eq(a3, zero))) & 0xffff;
      store<u32>(words + (<usize>i >> 3), <u32>w0 | (<u32>w1 << 16));
      // Negative zeros: zeros whose sign bit is set (signed narrowing keeps the sign of each element).
      const negative = (i8x16.bitmask(i8x16.narrow_i16x8_s(r0, r1)) & ~w0) | ((i8x16.bitmask(i8x16.narrow_i16x8_s(r2, r3)) & ~w1) << 16);
      if (negative) negativeZeros += popcnt(negative);
      if (v128.any_true(i16x8.sub_sat_u(i16x8.max_u(i16x8.max_u(a0, a1), i16x8.max_u(a2, a3)), dblLimit(bf)))) {
        slowContiguousHalf(v128.load(p), v128.load(p, 16), v128.load(p, 32), v128.load(p, 48), bf, n);
        continue;
      }
      if (load<u8>(valid + <usize>w0) + load<u8>(valid + <usize>w1) == 8) {
        tot = f32x4.add(tot, f32x4.add(f32x4.add(dblSum(a0, bf), dblSum(a1, bf)), f32x4.add(dblSum(a2, bf), dblSum(a3, bf))));
        continue;
      }
      // Transpose with interleaves so that each lane holds the 4 elements of one group (order irrelevant here).
      const t0 = i16x8.shuffle(a0, a1, 0, 8, 1, 9, 2, 10, 3, 11), t1 = i16x8.shuffle(a0, a1, 4, 12, 5, 13, 6, 14, 7, 15);
      const t2 = i16x8.shuffle(a2, a3, 0, 8, 1, 9, 2, 10, 3, 11), t3 = i16x8.shuffle(a2, a3, 4, 12, 5, 13, 6, 14, 7, 15);
      const u0 = i16x8.shuffle(t0, t1, 0, 8, 1, 9, 2, 10, 3, 11), u1 = i16x8.shuffle(t0, t1, 4, 12, 5, 13, 6, 14, 7, 15);
      const u2 = i16x8.shuffle(t2, t3, 0, 8, 1, 9, 2, 10, 3, 11), u3 = i16x8.shuffle(t2, t3, 4, 12, 5, 13, 6, 14, 7, 15);
      const x0 = i64x2.shuffle(u0, u2, 0, 2), x1 = i64x2.shuffle(u0, u2, 1, 3);
      const x2 = i64x2.shuffle(u1, u3, 0, 2), x3 = i64x2.shuffle(u1, u3, 1, 3);
      const lo01 = i16x8.min_u(x0, x1), hi01 = i16x8.max_u(x0, x1);
      const lo23 = i16x8.min_u(x2, x3), hi23 = i16x8.max_u(x2, x3);
      const m1 = i16x8.min_u(hi01, hi23), m2 = i16x8.max_u(lo01, lo23);
      const c1 = dblSum(i16x8.max_u(m1, m2), bf), c2 = dblSum(i16x8.min_u(m1, m2), bf);
      const c3 = dblSum(i16x8.min_u(lo01, lo23), bf);
      const c23 = f32x4.add(c2, c3);
      tot = f32x4.add(tot, f32x4.add(f32x4.add(dblSum(i16x8.max_u(hi01, hi23), bf), c1), c23));
      pr = f32x4.add(pr, n == 1 ? f32x4.add(c1, c23) : n == 2 ? c23 : c3);
    }
    total = addF64(total, tot);
    pruned = addF64(pruned, pr);
  }
  flushFast(total, pruned, halfScale(bf));
  for (let j = i; j < count; j++) negativeZeros += <i32>(load<u16>(input + <usize>j * 2) == 0x8000);
  for (; i < count; i += 16) {
    let word = 0;
    const groups = min(4, (count - i) >> 2);
    for (let g = 0; g < groups; g++) word |= scalarGroup(input + <usize>(i + g * 4) * 2, 2, bf ? DT_BF16 : DT_F16, n) << (g * 4);
    store<u16>(words + (<usize>i >> 3), <u16>word);
  }
}

/** The exact path for 32 contiguous half-precision values holding an Inf, a NaN or (bfloat16) a huge value. */
function slowContiguousHalf(v0: v128, v1: v128, v2: v128, v3: v128, bf: bool, n: i32): void {
  const a = i16x8.shuffle(v0, v1, 0, 4, 8, 12, 1, 5, 9, 13);
  const b = i16x8.shuffle(v0, v1, 2, 6, 10, 14, 3, 7, 11, 15);
  const c = i16x8.shuffle(v2, v3, 0, 4, 8, 12, 1, 5, 9, 13);
  const d = i16x8.shuffle(v2, v3, 2, 6, 10, 14, 3, 7, 11, 15);
  groupHalf(
    i16x8.shuffle(a, c, 0, 1, 2, 3, 8, 9, 10, 11), i16x8.shuffle(a, c, 4, 5, 6, 7, 12, 13, 14, 15),
    i16x8.shuffle(b, d, 0, 1, 2, 3, 8, 9, 10, 11), i16x8.shuffle(b, d, 4, 5, 6, 7, 12, 13, 14, 15), bf, n);
}

/** The exact path for 8 strided groups holding an Inf, a NaN or (bfloat16) a huge value. */
function slowHalf(r0: v128, r1: v128, r2: v128, r3: v128, bf: bool, n: i32): void {
  groupHalf(r0, r1, r2, r3, bf, n);
}

// ------------------------------------------------------------------------------------------ fast float32 path
// As the half path: magnitudes (bits & 0x7fffffff, which order like the values) sorted as i32, 4 groups per
// operation; the sorted magnitudes are float32 values already, so sums need no conversion (float32 over one word,
// then float64). Inf, NaN and magnitudes >= 2^100 take groupF32, the exact path.

const F32_FAST_LIMIT: i32 = 0x717fffff; // below 2^100

@inline function absF32(x: v128): v128 {
  return v128.and(x, i32x4.splat(0x7fffffff));
}
@inline function max4i(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  return i32x4.max_s(i32x4.max_s(a0, a1), i32x4.max_s(a2, a3));
}

/** scanStrided for float32: one copy per n (a constant in the loops). */
function scanStrided32(input: usize, rows: i32, lanes: i32, n: i32, words: usize): void {
  if (n == 1) strided32(input, rows, lanes, 1, words);
  else if (n == 2) strided32(input, rows, lanes, 2, words);
  else strided32(input, rows, lanes, 3, words);
}

@inline function strided32(input: usize, rows: i32, lanes: i32, n: i32, words: usize): void {
  const stride: usize = <usize>lanes * 4;
  const wordRows = (rows + 15) >> 4;
  let total = f64x2.splat(0);
  let pruned = f64x2.splat(0);
  for (let wr = 0; wr < wordRows; wr++) {
    const groups = min(4, (rows - wr * 16) >> 2);
    const fullBits: i32 = (1 << (groups * 4)) - 1;
    const full = i16x8.splat(<i16>fullBits);
    const top: usize = input + (<usize>(wr * 16 + groups * 4 - 4) * <usize>lanes) * 4;
    let b = 0;
    for (; b + 8 <= lanes; b += 8) {
      // As stridedHalf: zero flags gathered from the top group down as a negated word.
      let zw = i16x8.splat(0);
      let tot = f32x4.splat(0);
      let pr = f32x4.splat(0);
      let big = i32x4.splat(0);
      let p = top + <usize>b * 4;
      for (let g = 0; g < groups; g++, p -= 4 * stride) {
        const x0 = absF32(v128.load(p)), y0 = absF32(v128.load(p, 16));
        const x1 = absF32(v128.load(p + stride)), y1 = absF32(v128.load(p + stride, 16));
        const x2 = absF32(v128.load(p + 2 * stride)), y2 = absF32(v128.load(p + 2 * stride, 16));
        const x3 = absF32(v128.load(p + 3 * stride)), y3 = absF32(v128.load(p + 3 * stride, 16));
        const zero = i32x4.splat(0);
        const z0 = i16x8.narrow_i32x4_s(i32x4.eq(x0, zero), i32x4.eq(y0, zero));
        const z1 = i16x8.narrow_i32x4_s(i32x4.eq(x1, zero), i32x4.eq(y1, zero));
        const z2 = i16x8.narrow_i32x4_s(i32x4.eq(x2, zero), i32x4.eq(y2, zero));
        const z3 = i16x8.narrow_i32x4_s(i32x4.eq(x3, zero), i32x4.eq(y3, zero));
        zw = pushZeroNibble(zw, z0, z1, z2, z3);
        const lox01 = i32x4.min_s(x0, x1), hix01 = i32x4.max_s(x0, x1), lox23 = i32x4.min_s(x2, x3), hix23 = i32x4.max_s(x2, x3);
        const loy01 = i32x4.min_s(y0, y1), hiy01 = i32x4.max_s(y0, y1), loy23 = i32x4.min_s(y2, y3), hiy23 = i32x4.max_s(y2, y3);
        const s0x = i32x4.max_s(hix01, hix23), s0y = i32x4.max_s(hiy01, hiy23);
        const m1x = i32x4.min_s(hix01, hix23), m2x = i32x4.max_s(lox01, lox23);
        const m1y = i32x4.min_s(hiy01, hiy23), m2y = i32x4.max_s(loy01, loy23);
        const s1x = i32x4.max_s(m1x, m2x), s1y = i32x4.max_s(m1y, m2y);
        const s2x = i32x4.min_s(m1x, m2x), s2y = i32x4.min_s(m1y, m2y);
        big = i32x4.max_s(big, i32x4.max_s(s0x, s0y));
        const c1 = f32x4.add(s1x, s1y);
        if (!v128.any_true(v128.or(s2x, s2y))) {
          // At most 2 non-zeros in every lane: s2 and s3 are zeros.
          tot = f32x4.add(tot, f32x4.add(f32x4.add(s0x, s0y), c1));
          if (n == 1) pr = f32x4.add(pr, c1);
        } else {
          const c2 = f32x4.add(s2x, s2y);
          const c3 = f32x4.add(i32x4.min_s(lox01, lox23), i32x4.min_s(loy01, loy23));
          const c23 = f32x4.add(c2, c3);
          tot = f32x4.add(tot, f32x4.add(f32x4.add(f32x4.add(s0x, s0y), c1), c23));
          pr = f32x4.add(pr, n == 1 ? f32x4.add(c1, c23) : n == 2 ? c23 : c3);
        }
      }
      if (v128.any_true(i32x4.gt_s(big, i32x4.splat(F32_FAST_LIMIT)))) {
        tot = f32x4.splat(0);
        pr = f32x4.splat(0);
        for (let g = 0; g < groups; g++) slowF32Strided(input + (<usize>(wr * 16 + g * 4) * <usize>lanes + <usize>b) * 4, stride, n);
      }
      total = addF64(total, tot);
      pruned = addF64(pruned, pr);
      v128.store(words + (<usize>wr * <usize>lanes + <usize>b) * 2, v128.and(i16x8.sub(zw, i16x8.splat(1)), full));
    }
    for (; b < lanes; b++) {
      let word = 0;
      for (let g = 0; g < groups; g++) word |= scalarGroup(input + (<usize>(wr * 16 + g * 4) * <usize>lanes + <usize>b) * 4, stride, DT_F32, n) << (g * 4);
      store<u16>(words + (<usize>wr * <usize>lanes + <usize>b) * 2, <u16>word);
    }
  }
  flushFast(total, pruned, 1);
}

/** The exact path for 8 strided float32 groups holding an Inf, a NaN or a huge value. */
function slowF32Strided(p: usize, stride: usize, n: i32): void {
  groupF32(
    v128.load(p), v128.load(p, 16), v128.load(p + stride), v128.load(p + stride, 16),
    v128.load(p + 2 * stride), v128.load(p + 2 * stride, 16), v128.load(p + 3 * stride), v128.load(p + 3 * stride, 16), n);
}

/** scanContiguous for float32: 32 elements (8 groups, 2 words) at a time; one copy per n (a constant in the loop). */
function scanContiguous32(input: usize, count: i32, n: i32, words: usize, valid: usize): void {
  if (n == 1) contiguous32(input, count, 1, words, valid);
  else if (n == 2) contiguous32(input, count, 2, words, valid);
  else contiguous32(input, count, 3, words, valid);
}

@inline function contiguous32(input: usize, count: i32, n: i32, words: usize, valid: usize): void {
  const zero = i32x4.splat(0);
  const lim = i32x4.splat(F32_FAST_LIMIT);
  let total = f64x2.splat(0);
  let pruned = f64x2.splat(0);
  let i = 0;
  // float32 partial sums over 4 blocks (32 values per lane at most).
  while (i + 32 <= count) {
    let tot = f32x4.splat(0);
    let pr = f32x4.splat(0);
    const end = min(count & ~31, i + 128);
    for (; i < end; i += 32) {
      const p = input + <usize>i * 4;
      const v0 = absF32(v128.load(p)), v1 = absF32(v128.load(p, 16)), v2 = absF32(v128.load(p, 32)), v3 = absF32(v128.load(p, 48));
      const v4 = absF32(v128.load(p, 64)), v5 = absF32(v128.load(p, 80)), v6 = absF32(v128.load(p, 96)), v7 = absF32(v128.load(p, 112));
      const za = i16x8.narrow_i32x4_s(i32x4.eq(v0, zero), i32x4.eq(v1, zero)), zb = i16x8.narrow_i32x4_s(i32x4.eq(v2, zero), i32x4.eq(v3, zero));
      const zc = i16x8.narrow_i32x4_s(i32x4.eq(v4, zero), i32x4.eq(v5, zero)), zd = i16x8.narrow_i32x4_s(i32x4.eq(v6, zero), i32x4.eq(v7, zero));
      const w0 = ~i8x16.bitmask(i8x16.narrow_i16x8_s(za, zb)) & 0xffff;
      const w1 = ~i8x16.bitmask(i8x16.narrow_i16x8_s(zc, zd)) & 0xffff;
      store<u32>(words + (<usize>i >> 3), <u32>w0 | (<u32>w1 << 16));
      // Negative zeros: zeros whose sign bit is set (signed narrowing keeps the sign of each element). The values are
      // loaded again (from L1) rather than kept: 16 live vectors would spill.
      const s0 = i8x16.bitmask(i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(v128.load(p), v128.load(p, 16)), i16x8.narrow_i32x4_s(v128.load(p, 32), v128.load(p, 48))));
      const s1 = i8x16.bitmask(i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(v128.load(p, 64), v128.load(p, 80)), i16x8.narrow_i32x4_s(v128.load(p, 96), v128.load(p, 112))));
      const negative = (s0 & ~w0) | ((s1 & ~w1) << 16);
      if (negative) negativeZeros += popcnt(negative);
      if (v128.any_true(i32x4.gt_s(i32x4.max_s(max4i(v0, v1, v2, v3), max4i(v4, v5, v6, v7)), lim))) {
        slowContiguousF32(p, n);
        continue;
      }
      if (load<u8>(valid + <usize>w0) + load<u8>(valid + <usize>w1) == 8) {
        tot = f32x4.add(tot, f32x4.add(f32x4.add(f32x4.add(v0, v1), f32x4.add(v2, v3)), f32x4.add(f32x4.add(v4, v5), f32x4.add(v6, v7))));
        continue;
      }
      // 4 x 4 transposes: lane g of xj = element j of group g (groups 0-3 in x, 4-7 in y).
      const t0 = i32x4.shuffle(v0, v1, 0, 4, 1, 5), t1 = i32x4.shuffle(v0, v1, 2, 6, 3, 7);
      const t2 = i32x4.shuffle(v2, v3, 0, 4, 1, 5), t3 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
      const u0 = i32x4.shuffle(v4, v5, 0, 4, 1, 5), u1 = i32x4.shuffle(v4, v5, 2, 6, 3, 7);
      const u2 = i32x4.shuffle(v6, v7, 0, 4, 1, 5), u3 = i32x4.shuffle(v6, v7, 2, 6, 3, 7);
      const x0 = i64x2.shuffle(t0, t2, 0, 2), x1 = i64x2.shuffle(t0, t2, 1, 3), x2 = i64x2.shuffle(t1, t3, 0, 2), x3 = i64x2.shuffle(t1, t3, 1, 3);
      const y0 = i64x2.shuffle(u0, u2, 0, 2), y1 = i64x2.shuffle(u0, u2, 1, 3), y2 = i64x2.shuffle(u1, u3, 0, 2), y3 = i64x2.shuffle(u1, u3, 1, 3);
      const lox01 = i32x4.min_s(x0, x1), hix01 = i32x4.max_s(x0, x1), lox23 = i32x4.min_s(x2, x3), hix23 = i32x4.max_s(x2, x3);
      const loy01 = i32x4.min_s(y0, y1), hiy01 = i32x4.max_s(y0, y1), loy23 = i32x4.min_s(y2, y3), hiy23 = i32x4.max_s(y2, y3);
      const m1x = i32x4.min_s(hix01, hix23), m2x = i32x4.max_s(lox01, lox23);
      const m1y = i32x4.min_s(hiy01, hiy23), m2y = i32x4.max_s(loy01, loy23);
      const c0 = f32x4.add(i32x4.max_s(hix01, hix23), i32x4.max_s(hiy01, hiy23));
      const c1 = f32x4.add(i32x4.max_s(m1x, m2x), i32x4.max_s(m1y, m2y));
      const c2 = f32x4.add(i32x4.min_s(m1x, m2x), i32x4.min_s(m1y, m2y));
      const c3 = f32x4.add(i32x4.min_s(lox01, lox23), i32x4.min_s(loy01, loy23));
      const c23 = f32x4.add(c2, c3);
      tot = f32x4.add(tot, f32x4.add(f32x4.add(c0, c1), c23));
      pr = f32x4.add(pr, n == 1 ? f32x4.add(c1, c23) : n == 2 ? c23 : c3);
    }
    total = addF64(total, tot);
    pruned = addF64(pruned, pr);
  }
  flushFast(total, pruned, 1);
  for (let j = i; j < count; j++) negativeZeros += <i32>(load<u32>(input + <usize>j * 4) == 0x80000000);
  for (; i < count; i += 16) {
    let word = 0;
    const groups = min(4, (count - i) >> 2);
    for (let g = 0; g < groups; g++) word |= scalarGroup(input + <usize>(i + g * 4) * 4, 4, DT_F32, n) << (g * 4);
    store<u16>(words + (<usize>i >> 3), <u16>word);
  }
}

/** The exact path for 32 contiguous float32 values holding an Inf, a NaN or a huge value. */
function slowContiguousF32(p: usize, n: i32): void {
  const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
  const v4 = v128.load(p, 64), v5 = v128.load(p, 80), v6 = v128.load(p, 96), v7 = v128.load(p, 112);
  const t0 = i32x4.shuffle(v0, v1, 0, 4, 1, 5), t1 = i32x4.shuffle(v0, v1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(v2, v3, 0, 4, 1, 5), t3 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
  const u0 = i32x4.shuffle(v4, v5, 0, 4, 1, 5), u1 = i32x4.shuffle(v4, v5, 2, 6, 3, 7);
  const u2 = i32x4.shuffle(v6, v7, 0, 4, 1, 5), u3 = i32x4.shuffle(v6, v7, 2, 6, 3, 7);
  groupF32(
    i32x4.shuffle(t0, t2, 0, 1, 4, 5), i32x4.shuffle(u0, u2, 0, 1, 4, 5),
    i32x4.shuffle(t0, t2, 2, 3, 6, 7), i32x4.shuffle(u0, u2, 2, 3, 6, 7),
    i32x4.shuffle(t1, t3, 0, 1, 4, 5), i32x4.shuffle(u1, u3, 0, 1, 4, 5),
    i32x4.shuffle(t1, t3, 2, 3, 6, 7), i32x4.shuffle(u1, u3, 2, 3, 6, 7), n);
}

// ------------------------------------------------------------------------------------------ 8-bit integers
// int8 and uint8 weights with one zero point for the whole tensor: magnitude |q - zp|, zero when q == zp. Bytes are
// put in unsigned order (int8 flipped by 0x80), so |q - zp| = max(q, zp) - min(q, zp) in one byte; magnitudes sort
// as bytes, 16 groups per operation, and their sums are exact integers.

const DT_I8: i32 = 3;
const DT_U8: i32 = 4;

let zeroPoint8: i32 = 0;

/** Sets the zero point the 8-bit passes use (of the stored type: -128..127 for int8, 0..255 for uint8). */
export function setZeroPoint(zp: i32): void {
  zeroPoint8 = zp;
}

@inline function magnitude8(q: v128, flip: v128, zu: v128): v128 {
  const u = v128.xor(q, flip);
  return i8x16.sub(i8x16.max_u(u, zu), i8x16.min_u(u, zu));
}

/** Sum of 4 byte vectors, pairwise into u16 lanes. */
@inline function sum8(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  return i16x8.add(
    i16x8.add(i16x8.extadd_pairwise_i8x16_u(a0), i16x8.extadd_pairwise_i8x16_u(a1)),
    i16x8.add(i16x8.extadd_pairwise_i8x16_u(a2), i16x8.extadd_pairwise_i8x16_u(a3)),
  );
}

/** For 16 groups (one per byte lane, elements in a0..a3 in any order): the 4 - n smallest, summed into u16 lanes. */
@inline function pruned8(a0: v128, a1: v128, a2: v128, a3: v128, n: i32): v128 {
  const lo01 = i8x16.min_u(a0, a1), hi01 = i8x16.max_u(a0, a1);
  const lo23 = i8x16.min_u(a2, a3), hi23 = i8x16.max_u(a2, a3);
  const s3 = i8x16.min_u(lo01, lo23);
  if (n == 3) return i16x8.extadd_pairwise_i8x16_u(s3);
  const m1 = i8x16.min_u(hi01, hi23), m2 = i8x16.max_u(lo01, lo23);
  const s2 = i8x16.min_u(m1, m2);
  const low = i16x8.add(i16x8.extadd_pairwise_i8x16_u(s2), i16x8.extadd_pairwise_i8x16_u(s3));
  if (n == 2) return low;
  return i16x8.add(low, i16x8.extadd_pairwise_i8x16_u(i8x16.max_u(m1, m2)));
}

@inline function sumU32(x: v128): f64 {
  return <f64>(<u32>i32x4.extract_lane(x, 0)) + <f64>(<u32>i32x4.extract_lane(x, 1)) + <f64>(<u32>i32x4.extract_lane(x, 2)) + <f64>(<u32>i32x4.extract_lane(x, 3));
}

@inline function scalarMag8(p: usize, signed: bool): i32 {
  return abs((signed ? <i32>load<i8>(p) : <i32>load<u8>(p)) - zeroPoint8);
}

/** One group of 4 bytes at p, p + stride, ...: adds its magnitudes, returns its non-zero mask. */
function scalarGroup8(p: usize, stride: usize, signed: bool, n: i32): i32 {
  const m0 = scalarMag8(p, signed), m1 = scalarMag8(p + stride, signed);
  const m2 = scalarMag8(p + 2 * stride, signed), m3 = scalarMag8(p + 3 * stride, signed);
  const mask = <i32>(m0 != 0) | (<i32>(m1 != 0) << 1) | (<i32>(m2 != 0) << 2) | (<i32>(m3 != 0) << 3);
  // The n largest survive.
  const a = max(m0, m1), b = min(m0, m1), c = max(m2, m3), d = min(m2, m3);
  const s0 = max(a, c), t = min(a, c), u = max(b, d);
  let kept = s0;
  if (n >= 2) kept += max(t, u);
  if (n >= 3) kept += min(t, u);
  totalMagnitude += <f64>(m0 + m1 + m2 + m3);
  keptMagnitude += <f64>kept;
  return mask;
}

/** scanStrided for int8 and uint8 (see setZeroPoint). */
function scanStrided8(input: usize, rows: i32, lanes: i32, signed: bool, n: i32, words: usize): void {
  const stride: usize = <usize>lanes;
  const wordRows = (rows + 15) >> 4;
  const flip = i8x16.splat(signed ? -128 : 0);
  const zu = i8x16.splat(<i8>(signed ? zeroPoint8 + 128 : zeroPoint8));
  const zero = i8x16.splat(0);
  const minZeros = i8x16.splat(<i8>(n - 4));
  let total = i32x4.splat(0);
  let pruned = i32x4.splat(0);
  for (let wr = 0; wr < wordRows; wr++) {
    const groups = min(4, (rows - wr * 16) >> 2);
    const fullBits: i32 = (1 << (groups * 4)) - 1;
    const full = i16x8.splat(<i16>fullBits);
    let b = 0;
    for (; b + 16 <= lanes; b += 16) {
      let zlo = i8x16.splat(0);
      let zhi = i8x16.splat(0);
      let tot = i16x8.splat(0);
      let pr = i16x8.splat(0);
      for (let g = 0; g < groups; g++) {
        const p = input + <usize>(wr * 16 + g * 4) * stride + <usize>b;
        const a0 = magnitude8(v128.load(p), flip, zu), a1 = magnitude8(v128.load(p + stride), flip, zu);
        const a2 = magnitude8(v128.load(p + 2 * stride), flip, zu), a3 = magnitude8(v128.load(p + 3 * stride), flip, zu);
        const z0 = i8x16.eq(a0, zero), z1 = i8x16.eq(a1, zero), z2 = i8x16.eq(a2, zero), z3 = i8x16.eq(a3, zero);
        const nib = v128.or(
          v128.or(v128.and(z0, i8x16.splat(1)), v128.and(z1, i8x16.splat(2))),
          v128.or(v128.and(z2, i8x16.splat(4)), v128.and(z3, i8x16.splat(8))),
        );
        if (g == 0) zlo = nib;
        else if (g == 1) zlo = v128.or(zlo, i8x16.shl(nib, 4));
        else if (g == 2) zhi = nib;
        else zhi = v128.or(zhi, i8x16.shl(nib, 4));
        tot = i16x8.add(tot, sum8(a0, a1, a2, a3));
        if (v128.any_true(i8x16.gt_s(i8x16.add(i8x16.add(z0, z1), i8x16.add(z2, z3)), minZeros))) {
          pr = i16x8.add(pr, pruned8(a0, a1, a2, a3, n));
        }
      }
      total = i32x4.add(total, i32x4.extadd_pairwise_i16x8_u(tot));
      pruned = i32x4.add(pruned, i32x4.extadd_pairwise_i16x8_u(pr));
      // Word of lane b: groups 0-1 in the low byte, 2-3 in the high byte.
      const at = words + (<usize>wr * <usize>lanes + <usize>b) * 2;
      v128.store(at, v128.andnot(full, i8x16.shuffle(zlo, zhi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)));
      v128.store(at, v128.andnot(full, i8x16.shuffle(zlo, zhi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)), 16);
    }
    for (; b < lanes; b++) {
      let word = 0;
      for (let g = 0; g < groups; g++) word |= scalarGroup8(input + <usize>(wr * 16 + g * 4) * stride + <usize>b, stride, signed, n) << (g * 4);
      store<u16>(words + (<usize>wr * <usize>lanes + <usize>b) * 2, <u16>word);
    }
  }
  const t = sumU32(total);
  totalMagnitude += t;
  keptMagnitude += t - sumU32(pruned);
}

/** scanContiguous for int8 and uint8: 64 elements (4 words, 16 groups) at a time. */
function scanContiguous8(input: usize, count: i32, signed: bool, n: i32, words: usize, valid: usize): void {
  const flip = i8x16.splat(signed ? -128 : 0);
  const zu = i8x16.splat(<i8>(signed ? zeroPoint8 + 128 : zeroPoint8));
  const zero = i8x16.splat(0);
  let total = i32x4.splat(0);
  let pruned = i32x4.splat(0);
  let i = 0;
  while (i + 64 <= count) {
    // u16 partial sums: at most 16 blocks of 2 x 255 per lane and vector (32 640).
    let tot = i16x8.splat(0);
    let pr = i16x8.splat(0);
    const end = min(count & ~63, i + 1024);
    for (; i < end; i += 64) {
      const p = input + <usize>i;
      const a0 = magnitude8(v128.load(p), flip, zu), a1 = magnitude8(v128.load(p, 16), flip, zu);
      const a2 = magnitude8(v128.load(p, 32), flip, zu), a3 = magnitude8(v128.load(p, 48), flip, zu);
      const w0 = ~i8x16.bitmask(i8x16.eq(a0, zero)) & 0xffff, w1 = ~i8x16.bitmask(i8x16.eq(a1, zero)) & 0xffff;
      const w2 = ~i8x16.bitmask(i8x16.eq(a2, zero)) & 0xffff, w3 = ~i8x16.bitmask(i8x16.eq(a3, zero)) & 0xffff;
      store<u64>(words + (<usize>i >> 3), <u64>w0 | (<u64>w1 << 16) | (<u64>w2 << 32) | (<u64>w3 << 48));
      tot = i16x8.add(tot, sum8(a0, a1, a2, a3));
      if (<i32>load<u8>(valid + <usize>w0) + <i32>load<u8>(valid + <usize>w1) + <i32>load<u8>(valid + <usize>w2) + <i32>load<u8>(valid + <usize>w3) == 16) continue;
      pr = i16x8.add(pr, prunedOf64(a0, a1, a2, a3, n));
    }
    total = i32x4.add(total, i32x4.extadd_pairwise_i16x8_u(tot));
    pruned = i32x4.add(pruned, i32x4.extadd_pairwise_i16x8_u(pr));
  }
  const t = sumU32(total);
  totalMagnitude += t;
  keptMagnitude += t - sumU32(pruned);
  for (; i < count; i += 16) {
    let word = 0;
    const groups = min(4, (count - i) >> 2);
    for (let g = 0; g < groups; g++) word |= scalarGroup8(input + <usize>(i + g * 4), 1, signed, n) << (g * 4);
    store<u16>(words + (<usize>i >> 3), <u16>word);
  }
}

/** Byte order that puts element j of the 4 groups of a vector in i32 lane j. */
const GROUP_BYTES: v128 = i8x16(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);

/**
 * The pruned magnitudes (pruned8) of 64 byte magnitudes in element order, 16 groups of 4 along K: bytes of each group
 * to lanes (element j of 4 groups in i32 lane j), then a 4 x 4 i32 transpose.
 */
@inline function prunedOf64(a0: v128, a1: v128, a2: v128, a3: v128, n: i32): v128 {
  const b0 = i8x16.swizzle(a0, GROUP_BYTES), b1 = i8x16.swizzle(a1, GROUP_BYTES);
  const b2 = i8x16.swizzle(a2, GROUP_BYTES), b3 = i8x16.swizzle(a3, GROUP_BYTES);
  const t0 = i32x4.shuffle(b0, b1, 0, 4, 1, 5), t1 = i32x4.shuffle(b0, b1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(b2, b3, 0, 4, 1, 5), t3 = i32x4.shuffle(b2, b3, 2, 6, 3, 7);
  return pruned8(i64x2.shuffle(t0, t2, 0, 2), i64x2.shuffle(t0, t2, 1, 3), i64x2.shuffle(t1, t3, 0, 2), i64x2.shuffle(t1, t3, 1, 3), n);
}

// ------------------------------------------------------------------------------------------ element passes

/**
 * A slab of `rows` K-rows x `lanes` lanes, row-major (K is the slower axis), at `input`. Writes one u16 word per
 * (16-row block, lane) to `words` (row-major [ceil(rows/16)][lanes]): bit i = row 16*block + i is non-zero.
 * `rows` is a multiple of 4.
 */
export function scanStrided(input: usize, rows: i32, lanes: i32, dt: i32, n: i32, words: usize): void {
  if (dt == DT_I8 || dt == DT_U8) scanStrided8(input, rows, lanes, dt == DT_I8, n, words);
  else if (dt == DT_F32) scanStrided32(input, rows, lanes, n, words);
  else scanStridedHalf(input, rows, lanes, dt == DT_BF16, n, words);
}

/** K contiguous (one lane): `count` elements (a multiple of 4) at `input`; one u16 word per 16 elements. */
export function scanContiguous(input: usize, count: i32, dt: i32, n: i32, words: usize, valid: usize): void {
  if (dt == DT_I8 || dt == DT_U8) scanContiguous8(input, count, dt == DT_I8, n, words, valid);
  else if (dt == DT_F32) scanContiguous32(input, count, n, words, valid);
  else scanContiguousHalf(input, count, dt == DT_BF16, n, words, valid);
}

// ------------------------------------------------------------------------------------------ word statistics

/** The valid table for n at `at` (u8[65536]): at[word] = groups of 4 (nibbles) with at most n non-zeros. */
export function fillValidTable(at: usize, n: i32): void {
  // Bytes first (at[0..255]: valid nibbles of one byte), then each high byte's row as 16-byte vector adds.
  for (let b = 0; b < 256; b++) store<u8>(at + <usize>b, <u8>(<i32>(popcnt<i32>(b & 15) <= n) + <i32>(popcnt<i32>(b >> 4) <= n)));
  for (let hi = 255; hi >= 0; hi--) {
    const add = i8x16.splat(load<i8>(at + <usize>hi));
    for (let lo = 0; lo < 256; lo += 16) v128.store(at + (<usize>hi << 8) + <usize>lo, i8x16.add(v128.load(at + <usize>lo), add));
  }
}

/**
 * The tile row offsets (tile row x cols) of `count` whole K-contiguous rows a0, a0 + 1, ... (one lane each), to
 * rowTiles (i32): row a's output feature r = (a / rStride) % R (r in A; else 0), its tile row floor(r * rows / R).
 */
export function lineTiles(rowTiles: usize, count: i32, a0: i32, rInA: i32, rStride: i32, R: i32, rows: i32, cols: i32): void {
  for (let i = 0; i < count; i++) {
    const r = rInA ? ((a0 + i) / rStride) % R : 0;
    store<i32>(rowTiles + (<usize>i << 2), <i32>((<i64>r * <i64>rows) / <i64>R) * cols);
  }
}

/** Counts `count` rows in lineCounts (u32 pairs per tile row: rows, and rows whose `kinds` byte is 1: all valid). */
export function countLines(rowTiles: usize, kinds: usize, count: i32, cols: i32, lineCounts: usize): void {
  for (let i = 0; i < count; i++) {
    const at = lineCounts + (<usize>(load<i32>(rowTiles + (<usize>i << 2)) / cols) << 3);
    store<u32>(at, load<u32>(at) + 1);
    store<u32>(at, load<u32>(at, 4) + <u32>(load<u8>(kinds + <usize>i) == 1), 4);
  }
}

/**
 * Adds the rows counted in lineCounts (lineTiles') to the grid: in tile row t, each of its `rows` rows adds every
 * group of run j (4 per word; `runs` as i32 pairs [column, first word], ended by a column of -1) to total, and each
 * all-valid row to valid.
 */
export function addLines(lineCounts: usize, rows: i32, cols: i32, runs: usize, gridValid: usize, gridTotal: usize): void {
  for (let t = 0; t < rows; t++) {
    const count = load<u32>(lineCounts + (<usize>t << 3));
    if (count == 0) continue;
    const valid = load<u32>(lineCounts + (<usize>t << 3), 4);
    for (let j: usize = 0; load<i32>(runs + (j << 3)) >= 0; j++) {
      const groups = <u32>(4 * (load<i32>(runs + (j << 3), 12) - load<i32>(runs + (j << 3), 4)));
      const tile = (<usize>(t * cols + load<i32>(runs + (j << 3)))) << 2;
      store<u32>(gridTotal + tile, load<u32>(gridTotal + tile) + groups * count);
      store<u32>(gridValid + tile, load<u32>(gridValid + tile) + groups * valid);
    }
  }
}

/**
 * How a grid's valid counts stand to its totals (`tiles` u32 each): 0 no group valid, 1 every group valid (the
 * two equal), 2 neither. What a scan job sends of its grid follows from it (kernel.ts, compactGrid).
 */
export function gridKind(valid: usize, total: usize, tiles: i32): i32 {
  let any = i32x4.splat(0);
  let diff = i32x4.splat(0);
  let t = 0;
  for (; t + 4 <= tiles; t += 4) {
    const v = v128.load(valid + (<usize>t << 2));
    any = v128.or(any, v);
    diff = v128.or(diff, v128.xor(v, v128.load(total + (<usize>t << 2))));
  }
  let anyTail = 0, diffTail = 0;
  for (; t < tiles; t++) {
    const v = load<u32>(valid + (<usize>t << 2));
    anyTail |= v;
    diffTail |= v ^ load<u32>(total + (<usize>t << 2));
  }
  if (!v128.any_true(any) && anyTail == 0) return 0;
  return !v128.any_true(diff) && diffTail == 0 ? 1 : 2;
}

/** Adds the 16-bit word counts `hist16` (u32[65536]) to the byte tables histLo and histHi (u32[256] each). */
export function foldWords(hist16: usize, histLo: usize, histHi: usize): void {
  for (let w = 0; w < 65536; w++) {
    const c = load<u32>(hist16 + (<usize>w << 2));
    if (c) {
      const lo = histLo + (<usize>(w & 255) << 2), hi = histHi + (<usize>(w >> 8) << 2);
      store<u32>(lo, load<u32>(lo) + c);
      store<u32>(hi, load<u32>(hi) + c);
    }
  }
}

/**
 * Counts the low and high bytes (8 K-rows each) of each word in `histLo` and `histHi` (u32[256] each; two tables
 * so that repeated patterns do not chain their increments); a last-block word (fewer than 16 rows) counts in `tailLo`
 * and `tailHi` instead. Adds each word's valid and total groups to its grid tile: lane b's row offset laneTile[b]
 * (tile row x cols), column floor((kw * P + laneP[b]) * cols / colDen) for the word's global block row kw = kw0 + wr.
 */
export function wordStats(
  words: usize, wordRows: i32, lanes: i32, lastRows: i32,
  histLo: usize, histHi: usize, tailLo: usize, tailHi: usize, laneTile: usize, laneP: usize,
  kw0: i32, P: i32, cols: i32, colDen: f64,
  validTable: usize, gridValid: usize, gridTotal: usize,
): void {
  const colScale: f64 = <f64>cols / colDen;
  // Neighbouring words mostly share a tile: sum in registers, store when the tile changes.
  let tile: usize = 0;
  let tileValid: u32 = 0;
  let tileTotal: u32 = 0;
  for (let wr = 0; wr < wordRows; wr++) {
    const full = wr < wordRows - 1 || lastRows == 16;
    const groups = full ? 4 : lastRows >> 2;
    const missing = 4 - groups;
    const lo = full ? histLo : tailLo;
    const hi = full ? histHi : tailHi;
    const kwP = <f64>(kw0 + wr) * <f64>P;
    // With one position per output feature (P = 1) the column is the same for every lane of this row.
    const rowCol = <i32>(kwP * colScale);
    const row = words + <usize>wr * <usize>lanes * 2;
    for (let b = 0; b < lanes; b++) {
      const w = <usize>load<u16>(row + <usize>b * 2);
      const atLo = lo + ((w & 0xff) << 2);
      store<u32>(atLo, load<u32>(atLo) + 1);
      const atHi = hi + ((w >> 8) << 2);
      store<u32>(atHi, load<u32>(atHi) + 1);
      const col = P == 1 ? rowCol : <i32>((kwP + <f64>load<i32>(laneP + (<usize>b << 2))) * colScale);
      const at = <usize>(load<i32>(laneTile + (<usize>b << 2)) + col) << 2;
      if (at != tile) {
        store<u32>(gridValid + tile, load<u32>(gridValid + tile) + tileValid);
        store<u32>(gridTotal + tile, load<u32>(gridTotal + tile) + tileTotal);
        tile = at;
        tileValid = 0;
        tileTotal = 0;
      }
      // Missing groups of a last-block word are zero nibbles, which the table counts as valid.
      tileValid += <u32>(<i32>load<u8>(validTable + w) - missing);
      tileTotal += <u32>groups;
    }
  }
  store<u32>(gridValid + tile, load<u32>(gridValid + tile) + tileValid);
  store<u32>(gridTotal + tile, load<u32>(gridTotal + tile) + tileTotal);
}

/** Popcounts of the 16 nibbles, as a byte lookup table for i8x16.swizzle. */
const NIBBLE_POPCOUNT: v128 = i8x16(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);

/** For 8 full words: minus the number of valid groups (nibbles with at most n bits) of each word, in i16 lanes. */
@inline function negValidPerWord(w: v128, n: i32): v128 {
  const nibbles = i16x8.splat(0x0f0f);
  const lo = i8x16.swizzle(NIBBLE_POPCOUNT, v128.and(w, nibbles));
  const hi = i8x16.swizzle(NIBBLE_POPCOUNT, v128.and(i16x8.shr_u(w, 4), nibbles));
  const limit = i8x16.splat(<i8>n);
  return i16x8.extadd_pairwise_i8x16_s(i8x16.add(i8x16.le_u(lo, limit), i8x16.le_u(hi, limit)));
}

@inline function hsumI16(x: v128): i32 {
  const e = i32x4.extadd_pairwise_i16x8_s(x);
  const f = i32x4.add(e, i32x4.shuffle(e, e, 2, 3, 0, 1));
  return i32x4.extract_lane(i32x4.add(f, i32x4.shuffle(f, f, 1, 0, 3, 2)), 0);
}

@inline function hsumI32(x: v128): f64 {
  return <f64>i32x4.extract_lane(x, 0) + <f64>i32x4.extract_lane(x, 1) + <f64>i32x4.extract_lane(x, 2) + <f64>i32x4.extract_lane(x, 3);
}

@inline function countWord(hist16: usize, w: u32): void {
  const at = hist16 + (<usize>w << 2);
  store<u32>(at, load<u32>(at) + 1);
}

/** Counts 8 words in `hist16`: once, 8 times over, when they are all equal. */
@inline function countWords8(hist16: usize, w: v128): void {
  const w0 = <u32>i16x8.extract_lane_u(w, 0);
  if (i16x8.all_true(i16x8.eq(w, i16x8.splat(<i16>w0)))) {
    const at = hist16 + (<usize>w0 << 2);
    store<u32>(at, load<u32>(at) + 8);
  } else {
    countWord(hist16, w0);
    countWord(hist16, <u32>i16x8.extract_lane_u(w, 1));
    countWord(hist16, <u32>i16x8.extract_lane_u(w, 2));
    countWord(hist16, <u32>i16x8.extract_lane_u(w, 3));
    countWord(hist16, <u32>i16x8.extract_lane_u(w, 4));
    countWord(hist16, <u32>i16x8.extract_lane_u(w, 5));
    countWord(hist16, <u32>i16x8.extract_lane_u(w, 6));
    countWord(hist16, <u32>i16x8.extract_lane_u(w, 7));
  }
}

@inline function addTile(gridValid: usize, gridTotal: usize, tile: i32, valid: i32, groups: i32): void {
  const at = <usize>tile << 2;
  store<u32>(gridValid + at, load<u32>(gridValid + at) + <u32>valid);
  store<u32>(gridTotal + at, load<u32>(gridTotal + at) + <u32>groups);
}

/**
 * wordStats for full word rows (16 K-rows each) when every lane of a row shares one grid column (P = 1): counts
 * each word in `hist16` (u32[65536]) and adds valid and total groups to the grid, 8 lanes at a time. `vecTile`
 * (i32[lanes / 8]) is the tile-row offset of each 8-lane vector, or -1 when its lanes straddle two tile rows.
 */
export function wordStatsRows(
  words: usize, wordRows: i32, lanes: i32, hist16: usize, laneTile: usize, vecTile: usize,
  kw0: i32, cols: i32, colDen: f64, n: i32, validTable: usize, gridValid: usize, gridTotal: usize,
): void {
  const colScale: f64 = <f64>cols / colDen;
  for (let wr = 0; wr < wordRows; wr++) {
    const col = <i32>(<f64>(kw0 + wr) * colScale);
    const row = words + <usize>wr * <usize>lanes * 2;
    let b = 0;
    for (; b + 8 <= lanes; b += 8) {
      const w = v128.load(row + <usize>b * 2);
      countWords8(hist16, w);
      const neg = negValidPerWord(w, n);
      const vt = load<i32>(vecTile + (<usize>(b >> 3) << 2));
      if (vt >= 0) {
        addTile(gridValid, gridTotal, vt + col, -hsumI16(neg), 32);
      } else {
        const lt = laneTile + (<usize>b << 2);
        addTile(gridValid, gridTotal, load<i32>(lt) + col, -i16x8.extract_lane_s(neg, 0), 4);
        addTile(gridValid, gridTotal, load<i32>(lt, 4) + col, -i16x8.extract_lane_s(neg, 1), 4);
        addTile(gridValid, gridTotal, load<i32>(lt, 8) + col, -i16x8.extract_lane_s(neg, 2), 4);
        addTile(gridValid, gridTotal, load<i32>(lt, 12) + col, -i16x8.extract_lane_s(neg, 3), 4);
        addTile(gridValid, gridTotal, load<i32>(lt, 16) + col, -i16x8.extract_lane_s(neg, 4), 4);
        addTile(gridValid, gridTotal, load<i32>(lt, 20) + col, -i16x8.extract_lane_s(neg, 5), 4);
        addTile(gridValid, gridTotal, load<i32>(lt, 24) + col, -i16x8.extract_lane_s(neg, 6), 4);
        addTile(gridValid, gridTotal, load<i32>(lt, 28) + col, -i16x8.extract_lane_s(neg, 7), 4);
      }
    }
    for (; b < lanes; b++) {
      const w = <u32>load<u16>(row + <usize>b * 2);
      countWord(hist16, w);
      addTile(gridValid, gridTotal, load<i32>(laneTile + (<usize>b << 2)) + col, <i32>load<u8>(validTable + w), 4);
    }
  }
}

/**
 * wordStats for one K-contiguous row of `count` full words (its whole K): counts each word in `hist16` and returns
 * 0 when no group of the row is valid, 1 when every group is (the caller then adds the row's grid counts from the
 * column layout), or 2 when they are mixed: the valid groups were then added to the grid here, column run by
 * column run (`runs`: i32 pairs [column, first word], then a sentinel [-1, count]), the totals left to the caller.
 */
export function wordStatsLine(words: usize, count: i32, hist16: usize, n: i32, validTable: usize, rowTile: i32, runs: usize, gridValid: usize): i32 {
  let anyValid = i16x8.splat(0);
  let allValid = i16x8.splat(-1);
  const four = i16x8.splat(-4);
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const w = v128.load(words + (<usize>i << 1));
    countWords8(hist16, w);
    const neg = negValidPerWord(w, n);
    anyValid = v128.or(anyValid, neg);
    allValid = v128.and(allValid, i16x8.eq(neg, four));
  }
  let some = v128.any_true(anyValid);
  let every = i16x8.all_true(allValid);
  for (; i < count; i++) {
    const w = <u32>load<u16>(words + (<usize>i << 1));
    countWord(hist16, w);
    const v = load<u8>(validTable + w);
    some = some || v != 0;
    every = every && v == 4;
  }
  if (!some) return 0;
  if (every) return 1;
  lineRunsValid(words, validTable, rowTile, runs, gridValid);
  return 2;
}

/** Adds the valid groups of one K-contiguous row's words to the grid, column run by column run (see wordStatsLine). */
function lineRunsValid(words: usize, validTable: usize, rowTile: i32, runs: usize, gridValid: usize): void {
  for (let r = 0; ; r++) {
    const col = load<i32>(runs + (<usize>r << 3));
    if (col < 0) break;
    const from = load<i32>(runs + (<usize>r << 3), 4);
    const to = load<i32>(runs + (<usize>(r + 1) << 3), 4);
    let valid: u32 = 0;
    for (let j = from; j < to; j++) valid += load<u8>(validTable + <usize>load<u16>(words + (<usize>j << 1)));
    const at = gridValid + (<usize>(rowTile + col) << 2);
    store<u32>(at, load<u32>(at) + valid);
  }
}

/** lineRunsValid for each of `rows` rows of `perRow` words whose kind (kinds, u8 each) is 2. */
export function mixedLines(words: usize, rows: i32, perRow: i32, validTable: usize, rowTiles: usize, runs: usize, gridValid: usize, kinds: usize): void {
  for (let i = 0; i < rows; i++) {
    if (load<u8>(kinds + <usize>i) != 2) continue;
    lineRunsValid(words + <usize>i * <usize>perRow * 2, validTable, load<i32>(rowTiles + (<usize>i << 2)), runs, gridValid);
  }
}

/**
 * laneBlocks for full word rows when lane b is output feature b (r across lanes with stride 1, lanes = R): the
 * 2x1, 4x1 and 4x16 blocks of 8 lanes at a time.
 */
export function laneBlocksFull(words: usize, wordRows: i32, lanes: i32, enabled: i32, counts: usize): void {
  let pop2 = i32x4.splat(0), pop4 = i32x4.splat(0), zero16 = i32x4.splat(0);
  let tail2: f64 = 0, tail4: f64 = 0, tail16: f64 = 0;
  const vectors = lanes & ~7;
  const low16 = i32x4.splat(0xffff);
  for (let wr = 0; wr < wordRows; wr++) {
    const row = words + <usize>wr * <usize>lanes * 2;
    for (let b = 0; b < vectors; b += 8) {
      const w = v128.load(row + (<usize>b << 1));
      // Pairs of lanes share an i32 lane, quads an i64 lane: OR the halves together.
      const or2 = v128.or(w, i32x4.shr_u(w, 16));
      const or4 = v128.or(or2, i64x2.shr_u(or2, 32));
      pop2 = i32x4.add(pop2, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(v128.and(or2, low16)))));
      const quad = v128.and(or4, i64x2.splat(0xffff));
      pop4 = i32x4.add(pop4, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(quad))));
      zero16 = i32x4.sub(zero16, i64x2.eq(quad, i64x2.splat(0)));
    }
    for (let b = vectors; b + 1 < lanes; b += 2) {
      const or2 = <u32>load<u16>(row + (<usize>b << 1)) | <u32>load<u16>(row + (<usize>b << 1), 2);
      tail2 += <f64>popcnt(or2);
      if ((b & 3) == 0 && b + 3 < lanes) {
        const or4 = or2 | <u32>load<u16>(row + (<usize>b << 1), 4) | <u32>load<u16>(row + (<usize>b << 1), 6);
        tail4 += <f64>popcnt(or4);
        tail16 += or4 == 0 ? 1 : 0;
      }
    }
  }
  const pairs = <f64>wordRows * <f64>(lanes >> 1);
  const quads = <f64>wordRows * <f64>(lanes >> 2);
  // i64x2.eq gives two -1 i32 halves per all-zero quad.
  addBlockCounts(counts,
    enabled & 1 ? pairs * 16 - hsumI32(pop2) - tail2 : 0, enabled & 1 ? pairs * 16 : 0,
    enabled & 2 ? quads * 16 - hsumI32(pop4) - tail4 : 0, enabled & 2 ? quads * 16 : 0,
    enabled & 4 ? hsumI32(zero16) / 2 + tail16 : 0, enabled & 4 ? quads : 0);
}

/**
 * wordStatsLine for `rows` consecutive K-contiguous rows of `perRow` full words each (row i's words at
 * words + 2 perRow i, its tile-row offset at rowTiles[i]); writes each row's kind (0, 1, 2) to kinds[i].
 */
export function lineStats(words: usize, rows: i32, perRow: i32, hist16: usize, n: i32, validTable: usize, rowTiles: usize, runs: usize, gridValid: usize, kinds: usize): void {
  for (let i = 0; i < rows; i++) {
    const kind = wordStatsLine(words + <usize>i * <usize>perRow * 2, perRow, hist16, n, validTable, load<i32>(rowTiles + (<usize>i << 2)), runs, gridValid);
    store<u8>(kinds + <usize>i, <u8>kind);
  }
}

/**
 * rowBlocksFull for `rows` consecutive K-contiguous rows a0, a0 + 1, ... of `perRow` full words each: row a's
 * accumulators at acc + 2 perRow (a % rStride), its output feature (a / rStride) % R.
 */
export function rowBlocksLines(words: usize, rows: i32, perRow: i32, acc: usize, a0: i32, rStride: i32, R: i32, enabled: i32, counts: usize, accStride: i32): void {
  for (let i = 0; i < rows; ) {
    const a = a0 + i;
    const r = (a / rStride) % R;
    // Four rows of one block of rows in this read (output features r..r+3 one after another): measured together,
    // with no partial ORs kept (the next row starts a new block).
    if (rStride == 1 && (r & 3) == 0 && i + 4 <= rows && r + 3 < R) {
      rowQuad(words + <usize>i * <usize>perRow * 2, perRow, enabled, counts);
      i += 4;
      continue;
    }
    rowBlocksFull(words + <usize>i * <usize>perRow * 2, perRow, acc + <usize>(a % rStride) * <usize>perRow * 2, r, enabled, counts, accStride);
    i++;
  }
}

/**
 * The 2x1, 4x1 and 4x16 blocks of four consecutive rows (block rows r..r+3, r a multiple of 4) of `perRow` full
 * words each, row after row at `words`: as rowBlocksFull over the four, without the partial ORs.
 */
function rowQuad(words: usize, perRow: i32, enabled: i32, counts: usize): void {
  const stride = <usize>perRow * 2;
  // Set bits of the pairs' ORs: popcnt(a | b) + popcnt(c | d) = popcnt(a | b | c | d) + popcnt((a | b) & (c | d)),
  // so two byte popcounts a vector, not three. They are added up as bytes (at most 8 a vector) for up to 31
  // vectors, the all-zero words as 16-bit counts, then widened: no widening in each step.
  let pop4 = i32x4.splat(0), popBoth = i32x4.splat(0), zero16 = i32x4.splat(0);
  const vectors = perRow & ~7;
  for (let i0 = 0; i0 < vectors; i0 += 8 * 31) {
    const iEnd = min(vectors, i0 + 8 * 31);
    let bytes4 = i8x16.splat(0), bytesBoth = i8x16.splat(0), zeros = i16x8.splat(0);
    for (let i = i0; i < iEnd; i += 8) {
      const at = words + (<usize>i << 1);
      const w0 = v128.load(at), w1 = v128.load(at + stride), w2 = v128.load(at + 2 * stride), w3 = v128.load(at + 3 * stride);
      const or01 = v128.or(w0, w1), or23 = v128.or(w2, w3);
      const or4 = v128.or(or01, or23);
      if (enabled & 3) bytes4 = i8x16.add(bytes4, i8x16.popcnt(or4));
      if (enabled & 1) bytesBoth = i8x16.add(bytesBoth, i8x16.popcnt(v128.and(or01, or23)));
      // A zero word compares to -1: subtracted, it counts.
      if (enabled & 4) zeros = i16x8.sub(zeros, i16x8.eq(or4, i16x8.splat(0)));
    }
    pop4 = i32x4.add(pop4, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(bytes4)));
    popBoth = i32x4.add(popBoth, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(bytesBoth)));
    zero16 = i32x4.add(zero16, i32x4.extadd_pairwise_i16x8_u(zeros));
  }
  const pop2 = i32x4.add(pop4, popBoth);
  let z2: f64 = (enabled & 1 ? 2 * <f64>vectors * 16 - hsumI32(pop2) : 0);
  let z4: f64 = (enabled & 2 ? <f64>vectors * 16 - hsumI32(pop4) : 0);
  let z16: f64 = (enabled & 4 ? hsumI32(zero16) : 0);
  for (let i = vectors; i < perRow; i++) {
    const at = words + (<usize>i << 1);
    const w0 = <u32>load<u16>(at), w1 = <u32>load<u16>(at + stride), w2 = <u32>load<u16>(at + 2 * stride), w3 = <u32>load<u16>(at + 3 * stride);
    z2 += <f64>(popcnt(~(w0 | w1) & 0xffff) + popcnt(~(w2 | w3) & 0xffff));
    const or4 = w0 | w1 | w2 | w3;
    z4 += <f64>popcnt(~or4 & 0xffff);
    z16 += or4 == 0 ? 1 : 0;
  }
  const bits = <f64>perRow * 16;
  addBlockCounts(counts,
    enabled & 1 ? z2 : 0, enabled & 1 ? 2 * bits : 0,
    enabled & 2 ? z4 : 0, enabled & 2 ? bits : 0,
    enabled & 4 ? z16 : 0, enabled & 4 ? <f64>perRow : 0);
}

/** rowBlocks for `count` full words (16 rows each) at once; see rowBlocks. */
export function rowBlocksFull(words: usize, count: i32, acc: usize, r: i32, enabled: i32, counts: usize, accStride: i32): void {
  const first2 = (r & 1) == 0, last2 = (r & 1) == 1;
  const first4 = (r & 3) == 0, last4 = (r & 3) == 3;
  let pop2 = i32x4.splat(0), pop4 = i32x4.splat(0), zero16 = i32x4.splat(0);
  const vectors = count & ~7;
  const acc4 = acc + (<usize>accStride << 1);
  for (let i = 0; i < vectors; i += 8) {
    const off = <usize>i << 1;
    const w = v128.load(words + off);
    if (enabled & 1) {
      const or2 = first2 ? w : v128.or(v128.load(acc + off), w);
      v128.store(acc + off, or2);
      if (last2) pop2 = i32x4.add(pop2, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(or2))));
    }
    if (enabled & 6) {
      const or4 = first4 ? w : v128.or(v128.load(acc4 + off), w);
      v128.store(acc4 + off, or4);
      if (last4) {
        if (enabled & 2) pop4 = i32x4.add(pop4, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(or4))));
        if (enabled & 4) zero16 = i32x4.sub(zero16, i32x4.extadd_pairwise_i16x8_s(i16x8.eq(or4, i16x8.splat(0))));
      }
    }
  }
  const bits = <f64>vectors * 16;
  addBlockCounts(counts,
    enabled & 1 && last2 ? bits - hsumI32(pop2) : 0, enabled & 1 && last2 ? bits : 0,
    enabled & 2 && last4 ? bits - hsumI32(pop4) : 0, enabled & 2 && last4 ? bits : 0,
    enabled & 4 && last4 ? hsumI32(zero16) : 0, enabled & 4 && last4 ? <f64>vectors : 0);
  if (vectors < count) rowBlocks(words + (<usize>vectors << 1), 1, count - vectors, 16, acc + (<usize>vectors << 1), r, enabled, counts, accStride);
}

/** Adds one call's block counts to `counts` (f64[6]: 2x1 zero, total, 4x1 zero, total, 4x16 zero, total). */
@inline function addBlockCounts(counts: usize, z2: f64, t2: f64, z4: f64, t4: f64, z16: f64, t16: f64): void {
  store<f64>(counts, load<f64>(counts) + z2);
  store<f64>(counts, load<f64>(counts, 8) + t2, 8);
  store<f64>(counts, load<f64>(counts, 16) + z4, 16);
  store<f64>(counts, load<f64>(counts, 24) + t4, 24);
  store<f64>(counts, load<f64>(counts, 32) + z16, 32);
  store<f64>(counts, load<f64>(counts, 40) + t16, 40);
}

/**
 * Output-feature blocks (2x1, 4x1, 4x16) when the output-feature axis runs across lanes: lanes b, b + rStride, ...
 * are consecutive rows. `laneR` (i32[lanes]) gives each lane's output feature. Adds zero and total block counts to
 * `counts` (f64[6]: 2x1 zero, total, 4x1 zero, total, 4x16 zero, total) for the shapes enabled in `enabled`
 * (bit 0: 2x1, bit 1: 4x1, bit 2: 4x16).
 */
export function laneBlocks(words: usize, wordRows: i32, lanes: i32, lastRows: i32, laneR: usize, rStride: i32, enabled: i32, counts: usize): void {
  let z2: f64 = 0, t2: f64 = 0, z4: f64 = 0, t4: f64 = 0, z16: f64 = 0, t16: f64 = 0;
  for (let wr = 0; wr < wordRows; wr++) {
    const rows = wr < wordRows - 1 ? 16 : lastRows;
    const rowMask: u32 = rows == 16 ? 0xffff : (1 << rows) - 1;
    const row = words + <usize>wr * <usize>lanes * 2;
    for (let b = 0; b < lanes; b++) {
      const r = load<i32>(laneR + (<usize>b << 2));
      if (r & 1) continue;
      const w0 = <u32>load<u16>(row + <usize>b * 2);
      const w1 = <u32>load<u16>(row + <usize>(b + rStride) * 2);
      const or2 = w0 | w1;
      if (enabled & 1) {
        z2 += <f64>popcnt(~or2 & rowMask);
        t2 += <f64>rows;
      }
      if ((r & 3) == 0 && (enabled & 6)) {
        const or4 = or2 | <u32>load<u16>(row + <usize>(b + 2 * rStride) * 2) | <u32>load<u16>(row + <usize>(b + 3 * rStride) * 2);
        if (enabled & 2) {
          z4 += <f64>popcnt(~or4 & rowMask);
          t4 += <f64>rows;
        }
        if (enabled & 4) {
          z16 += or4 == 0 ? 1 : 0;
          t16 += 1;
        }
      }
    }
  }
  addBlockCounts(counts, z2, t2, z4, t4, z16, t16);
}

/**
 * Output-feature blocks when that axis runs across slabs (r in A): ORs this slab's words into `acc2`/`acc4`
 * (u16 per (block row offset, lane)) and, on a block's last row, counts its zero blocks into `counts`.
 */
export function rowBlocks(words: usize, wordRows: i32, lanes: i32, lastRows: i32, acc: usize, r: i32, enabled: i32, counts: usize, accStride: i32): void {
  // acc holds two planes: [0, accStride) for 2x1, [accStride, 2 accStride) for 4x1 and 4x16 (u16 each).
  let z2: f64 = 0, t2: f64 = 0, z4: f64 = 0, t4: f64 = 0, z16: f64 = 0, t16: f64 = 0;
  const first2 = (r & 1) == 0, last2 = (r & 1) == 1;
  const first4 = (r & 3) == 0, last4 = (r & 3) == 3;
  for (let wr = 0; wr < wordRows; wr++) {
    const rows = wr < wordRows - 1 ? 16 : lastRows;
    const rowMask: u32 = rows == 16 ? 0xffff : (1 << rows) - 1;
    for (let b = 0; b < lanes; b++) {
      const i = <usize>(wr * lanes + b);
      const w = <u32>load<u16>(words + i * 2);
      if (enabled & 1) {
        const at = acc + i * 2;
        const or2 = first2 ? w : (<u32>load<u16>(at) | w);
        store<u16>(at, <u16>or2);
        if (last2) {
          z2 += <f64>popcnt(~or2 & rowMask);
          t2 += <f64>rows;
        }
      }
      if (enabled & 6) {
        const at = acc + (<usize>accStride + i) * 2;
        const or4 = first4 ? w : (<u32>load<u16>(at) | w);
        store<u16>(at, <u16>or4);
        if (last4) {
          if (enabled & 2) {
            z4 += <f64>popcnt(~or4 & rowMask);
            t4 += <f64>rows;
          }
          if (enabled & 4) {
            z16 += or4 == 0 ? 1 : 0;
            t16 += 1;
          }
        }
      }
    }
  }
  addBlockCounts(counts, z2, t2, z4, t4, z16, t16);
}

// ------------------------------------------------------------------------------------------ pruning (M = 4)

let prunedCount: i32 = 0;

export function resetPruned(): void {
  prunedCount = 0;
  resetSums();
}
export function getPruned(): i32 {
  return prunedCount;
}

/**
 * Which of 4 elements (one per lane of x0..x3) survive N:4 magnitude pruning: element j is kept when fewer than n
 * others beat it (larger, or equal and earlier). Returns i32x4 masks (-1 = keep) through the globals below.
 */
let keep0: v128 = i32x4.splat(0);
let keep1: v128 = i32x4.splat(0);
let keep2: v128 = i32x4.splat(0);
let keep3: v128 = i32x4.splat(0);

@inline function rank4(x0: v128, x1: v128, x2: v128, x3: v128, n: i32): void {
  // Sums of -1 masks: minus the number of elements that beat each one.
  const r0 = i32x4.add(i32x4.add(f32x4.gt(x1, x0), f32x4.gt(x2, x0)), f32x4.gt(x3, x0));
  const r1 = i32x4.add(i32x4.add(f32x4.ge(x0, x1), f32x4.gt(x2, x1)), f32x4.gt(x3, x1));
  const r2 = i32x4.add(i32x4.add(f32x4.ge(x0, x2), f32x4.ge(x1, x2)), f32x4.gt(x3, x2));
  const r3 = i32x4.add(i32x4.add(f32x4.ge(x0, x3), f32x4.ge(x1, x3)), f32x4.ge(x2, x3));
  const limit = i32x4.splat(-n);
  keep0 = i32x4.gt_s(r0, limit);
  keep1 = i32x4.gt_s(r1, limit);
  keep2 = i32x4.gt_s(r2, limit);
  keep3 = i32x4.gt_s(r3, limit);
}

/** Prunes 8 groups of 4 half-precision values (rows r0..r3, raw bits, one group per lane); returns the new rows via globals. */
let out0: v128 = i32x4.splat(0);
let out1: v128 = i32x4.splat(0);
let out2: v128 = i32x4.splat(0);
let out3: v128 = i32x4.splat(0);

@inline function pruneHalf(r0: v128, r1: v128, r2: v128, r3: v128, bf: bool, n: i32): void {
  const abs = i16x8.splat(0x7fff);
  const zero = i16x8.splat(0);
  const a0 = v128.and(r0, abs), a1 = v128.and(r1, abs), a2 = v128.and(r2, abs), a3 = v128.and(r3, abs);
  let lo0 = halfMagLo(a0, bf), hi0 = halfMagHi(a0, bf);
  let lo1 = halfMagLo(a1, bf), hi1 = halfMagHi(a1, bf);
  let lo2 = halfMagLo(a2, bf), hi2 = halfMagHi(a2, bf);
  let lo3 = halfMagLo(a3, bf), hi3 = halfMagHi(a3, bf);
  const limit: i16 = bf ? 0x7f80 : 0x7c00;
  const lim = i16x8.splat(limit - 1);
  if (v128.any_true(v128.or(v128.or(i16x8.gt_u(a0, lim), i16x8.gt_u(a1, lim)), v128.or(i16x8.gt_u(a2, lim), i16x8.gt_u(a3, lim))))) {
    lo0 = fixSpecialLo(lo0, a0, limit); hi0 = fixSpecialHi(hi0, a0, limit);
    lo1 = fixSpecialLo(lo1, a1, limit); hi1 = fixSpecialHi(hi1, a1, limit);
    lo2 = fixSpecialLo(lo2, a2, limit); hi2 = fixSpecialHi(hi2, a2, limit);
    lo3 = fixSpecialLo(lo3, a3, limit); hi3 = fixSpecialHi(hi3, a3, limit);
  }
  accumulate4(lo0, lo1, lo2, lo3, n);
  accumulate4(hi0, hi1, hi2, hi3, n);
  rank4(lo0, lo1, lo2, lo3, n);
  const kl0 = keep0, kl1 = keep1, kl2 = keep2, kl3 = keep3;
  rank4(hi0, hi1, hi2, hi3, n);
  // Pruned: non-zero and not kept. Zeros are never touched, so -0 stays -0.
  const p0 = v128.andnot(i16x8.ne(a0, zero), i16x8.narrow_i32x4_s(kl0, keep0));
  const p1 = v128.andnot(i16x8.ne(a1, zero), i16x8.narrow_i32x4_s(kl1, keep1));
  const p2 = v128.andnot(i16x8.ne(a2, zero), i16x8.narrow_i32x4_s(kl2, keep2));
  const p3 = v128.andnot(i16x8.ne(a3, zero), i16x8.narrow_i32x4_s(kl3, keep3));
  prunedCount += popcnt(i16x8.bitmask(p0)) + popcnt(i16x8.bitmask(p1)) + popcnt(i16x8.bitmask(p2)) + popcnt(i16x8.bitmask(p3));
  out0 = v128.andnot(r0, p0);
  out1 = v128.andnot(r1, p1);
  out2 = v128.andnot(r2, p2);
  out3 = v128.andnot(r3, p3);
}

/** Prunes 4 groups of 4 float32 values (one group per lane) in place at p, p+stride, ... (K strided). */
@inline function pruneF32Quad(x0: v128, x1: v128, x2: v128, x3: v128, n: i32): void {
  const zero = f32x4.splat(0);
  const m0 = f32Mag(x0), m1 = f32Mag(x1), m2 = f32Mag(x2), m3 = f32Mag(x3);
  accumulate4(m0, m1, m2, m3, n);
  rank4(m0, m1, m2, m3, n);
  const p0 = v128.andnot(f32x4.ne(x0, zero), keep0);
  const p1 = v128.andnot(f32x4.ne(x1, zero), keep1);
  const p2 = v128.andnot(f32x4.ne(x2, zero), keep2);
  const p3 = v128.andnot(f32x4.ne(x3, zero), keep3);
  prunedCount += popcnt(i32x4.bitmask(p0)) + popcnt(i32x4.bitmask(p1)) + popcnt(i32x4.bitmask(p2)) + popcnt(i32x4.bitmask(p3));
  out0 = v128.andnot(x0, p0);
  out1 = v128.andnot(x1, p1);
  out2 = v128.andnot(x2, p2);
  out3 = v128.andnot(x3, p3);
}

/** Scalar N:4 pruning of one group at p, p+stride, ... (tails); the same ranking as rank4. */
function pruneScalar(p: usize, stride: usize, dt: i32, n: i32): void {
  const m0 = scalarMag(p, dt), m1 = scalarMag(p + stride, dt), m2 = scalarMag(p + 2 * stride, dt), m3 = scalarMag(p + 3 * stride, dt);
  const r0 = <i32>(m1 > m0) + <i32>(m2 > m0) + <i32>(m3 > m0);
  const r1 = <i32>(m0 >= m1) + <i32>(m2 > m1) + <i32>(m3 > m1);
  const r2 = <i32>(m0 >= m2) + <i32>(m1 >= m2) + <i32>(m3 > m2);
  const r3 = <i32>(m0 >= m3) + <i32>(m1 >= m3) + <i32>(m2 >= m3);
  let kept: f64 = 0;
  if (r0 < n) kept += <f64>m0;
  if (r1 < n) kept += <f64>m1;
  if (r2 < n) kept += <f64>m2;
  if (r3 < n) kept += <f64>m3;
  totalMagnitude += <f64>m0 + <f64>m1 + <f64>m2 + <f64>m3;
  keptMagnitude += kept;
  pruneScalarAt(p, dt, r0 < n);
  pruneScalarAt(p + stride, dt, r1 < n);
  pruneScalarAt(p + 2 * stride, dt, r2 < n);
  pruneScalarAt(p + 3 * stride, dt, r3 < n);
}

@inline function pruneScalarAt(at: usize, dt: i32, keep: bool): void {
  if (keep || !scalarNonZero(at, dt)) return;
  if (dt == DT_F32) store<u32>(at, 0);
  else store<u16>(at, 0);
  prunedCount++;
}

// Fast float pruning (pruneQuadHalf, pruneQuad32): ranks compared as integers, magnitudes summed as in the scan's
// fast path (float32 over at most 4 calls, then float64); Inf, NaN and huge values go to the exact paths
// (pruneHalf, pruneF32Quad). State between calls: the float32 partial sums, the kept-or-zero count and the
// elements seen.
let pTot: v128 = f32x4.splat(0);
let pPr: v128 = f32x4.splat(0);
let pRuns: i32 = 0;
let pTotal64: f64 = 0;
let pPruned64: f64 = 0;
let pKept: v128 = i32x4.splat(0);
let pElements: i32 = 0;

@inline function sumF32(x: v128): f64 {
  return <f64>f32x4.extract_lane(x, 0) + <f64>f32x4.extract_lane(x, 1) + <f64>f32x4.extract_lane(x, 2) + <f64>f32x4.extract_lane(x, 3);
}

function flushPrune(): void {
  pTotal64 += sumF32(pTot);
  pPruned64 += sumF32(pPr);
  pTot = f32x4.splat(0);
  pPr = f32x4.splat(0);
  pRuns = 0;
}

/** Adds the fast pruning path's sums (times `scale`, see halfScale) and counts to the totals (once per call). */
function finishPrune(scale: f64): void {
  flushPrune();
  totalMagnitude += pTotal64 * scale;
  keptMagnitude += (pTotal64 - pPruned64) * scale;
  prunedCount += pElements + i32x4.extract_lane(pKept, 0) + i32x4.extract_lane(pKept, 1) + i32x4.extract_lane(pKept, 2) + i32x4.extract_lane(pKept, 3);
  pTotal64 = 0;
  pPruned64 = 0;
  pKept = i32x4.splat(0);
  pElements = 0;
}

/**
 * N:4 magnitude pruning of 8 groups in place: element j of the 8 groups is the 8 half-precision lanes at pj. An
 * element is kept when fewer than n others beat it (larger, or equal and earlier); zeros are never touched.
 */
@inline function pruneQuadHalf(p0: usize, p1: usize, p2: usize, p3: usize, n: i32, bf: bool): void {
  const abs = i16x8.splat(0x7fff);
  const zero = i16x8.splat(0);
  const r0 = v128.load(p0), r1 = v128.load(p1), r2 = v128.load(p2), r3 = v128.load(p3);
  const a0 = v128.and(r0, abs), a1 = v128.and(r1, abs), a2 = v128.and(r2, abs), a3 = v128.and(r3, abs);
  const lo01 = i16x8.min_s(a0, a1), hi01 = i16x8.max_s(a0, a1);
  const lo23 = i16x8.min_s(a2, a3), hi23 = i16x8.max_s(a2, a3);
  const s0 = i16x8.max_s(hi01, hi23);
  if (v128.any_true(i16x8.gt_s(s0, fastLimit(bf)))) {
    pruneHalf(r0, r1, r2, r3, bf, n);
    v128.store(p0, out0);
    v128.store(p1, out1);
    v128.store(p2, out2);
    v128.store(p3, out3);
    return;
  }
  const g10 = i16x8.gt_s(a1, a0), g20 = i16x8.gt_s(a2, a0), g30 = i16x8.gt_s(a3, a0);
  const g21 = i16x8.gt_s(a2, a1), g31 = i16x8.gt_s(a3, a1), g32 = i16x8.gt_s(a3, a2);
  // Minus the number of elements that beat each one (masks are -1): element 1 is beaten by 0 unless it is larger...
  const b0 = i16x8.add(i16x8.add(g10, g20), g30);
  const b1 = i16x8.sub(i16x8.add(g21, g31), i16x8.add(g10, i16x8.splat(1)));
  const b2 = i16x8.sub(g32, i16x8.add(i16x8.add(g20, g21), i16x8.splat(2)));
  const b3 = i16x8.sub(i16x8.splat(-3), i16x8.add(i16x8.add(g30, g31), g32));
  const limit = i16x8.splat(<i16>-n);
  // Kept or zero: left as they are.
  const k0 = v128.or(i16x8.gt_s(b0, limit), i16x8.eq(a0, zero));
  const k1 = v128.or(i16x8.gt_s(b1, limit), i16x8.eq(a1, zero));
  const k2 = v128.or(i16x8.gt_s(b2, limit), i16x8.eq(a2, zero));
  const k3 = v128.or(i16x8.gt_s(b3, limit), i16x8.eq(a3, zero));
  v128.store(p0, v128.and(r0, k0));
  v128.store(p1, v128.and(r1, k1));
  v128.store(p2, v128.and(r2, k2));
  v128.store(p3, v128.and(r3, k3));
  pKept = i32x4.add(pKept, i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.add(k0, k1), i16x8.add(k2, k3))));
  pElements += 32;
  // Magnitudes: the sorted values give the total and the 4 - n smallest (the pruned ones, or zeros).
  const m1 = i16x8.min_s(hi01, hi23), m2 = i16x8.max_s(lo01, lo23);
  const c1 = bitsSum(i16x8.max_s(m1, m2), bf), c2 = bitsSum(i16x8.min_s(m1, m2), bf);
  const c3 = bitsSum(i16x8.min_s(lo01, lo23), bf);
  const c23 = f32x4.add(c2, c3);
  pTot = f32x4.add(pTot, f32x4.add(f32x4.add(bitsSum(s0, bf), c1), c23));
  pPr = f32x4.add(pPr, n == 1 ? f32x4.add(c1, c23) : n == 2 ? c23 : c3);
  if (++pRuns == 4) flushPrune();
}

/** pruneStrided for float16 and bfloat16: one copy per type and n (see scanStridedHalf). */
function pruneStridedHalf(input: usize, rows: i32, lanes: i32, bf: bool, n: i32): void {
  if (bf) {
    if (n == 1) pruneStridedHalfT(input, rows, lanes, true, 1);
    else if (n == 2) pruneStridedHalfT(input, rows, lanes, true, 2);
    else pruneStridedHalfT(input, rows, lanes, true, 3);
  } else {
    if (n == 1) pruneStridedHalfT(input, rows, lanes, false, 1);
    else if (n == 2) pruneStridedHalfT(input, rows, lanes, false, 2);
    else pruneStridedHalfT(input, rows, lanes, false, 3);
  }
}

@inline function pruneStridedHalfT(input: usize, rows: i32, lanes: i32, bf: bool, n: i32): void {
  const stride: usize = <usize>lanes * 2;
  for (let g = 0; g + 4 <= rows; g += 4) {
    let b = 0;
    for (; b + 8 <= lanes; b += 8) {
      const p = input + (<usize>g * <usize>lanes + <usize>b) * 2;
      pruneQuadHalf(p, p + stride, p + 2 * stride, p + 3 * stride, n, bf);
    }
    for (; b < lanes; b++) pruneScalar(input + (<usize>g * <usize>lanes + <usize>b) * 2, stride, bf ? DT_BF16 : DT_F16, n);
  }
  finishPrune(halfScale(bf));
}

/** pruneContiguous for float16 and bfloat16: 32 elements at a time, transposed through `scratch` (64 bytes). */
function pruneContiguousHalf(input: usize, count: i32, bf: bool, n: i32, scratch: usize): void {
  if (bf) {
    if (n == 1) pruneContiguousHalfT(input, count, true, 1, scratch);
    else if (n == 2) pruneContiguousHalfT(input, count, true, 2, scratch);
    else pruneContiguousHalfT(input, count, true, 3, scratch);
  } else {
    if (n == 1) pruneContiguousHalfT(input, count, false, 1, scratch);
    else if (n == 2) pruneContiguousHalfT(input, count, false, 2, scratch);
    else pruneContiguousHalfT(input, count, false, 3, scratch);
  }
}

@inline function pruneContiguousHalfT(input: usize, count: i32, bf: bool, n: i32, scratch: usize): void {
  let i = 0;
  for (; i + 32 <= count; i += 32) {
    const p = input + <usize>i * 2;
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    // Interleaves: lane g of xj = element j of group g (see scanContiguousHalf).
    const t0 = i16x8.shuffle(v0, v1, 0, 8, 1, 9, 2, 10, 3, 11), t1 = i16x8.shuffle(v0, v1, 4, 12, 5, 13, 6, 14, 7, 15);
    const t2 = i16x8.shuffle(v2, v3, 0, 8, 1, 9, 2, 10, 3, 11), t3 = i16x8.shuffle(v2, v3, 4, 12, 5, 13, 6, 14, 7, 15);
    const u0 = i16x8.shuffle(t0, t1, 0, 8, 1, 9, 2, 10, 3, 11), u1 = i16x8.shuffle(t0, t1, 4, 12, 5, 13, 6, 14, 7, 15);
    const u2 = i16x8.shuffle(t2, t3, 0, 8, 1, 9, 2, 10, 3, 11), u3 = i16x8.shuffle(t2, t3, 4, 12, 5, 13, 6, 14, 7, 15);
    v128.store(scratch, i64x2.shuffle(u0, u2, 0, 2));
    v128.store(scratch, i64x2.shuffle(u0, u2, 1, 3), 16);
    v128.store(scratch, i64x2.shuffle(u1, u3, 0, 2), 32);
    v128.store(scratch, i64x2.shuffle(u1, u3, 1, 3), 48);
    pruneQuadHalf(scratch, scratch + 16, scratch + 32, scratch + 48, n, bf);
    const x0 = v128.load(scratch), x1 = v128.load(scratch, 16), x2 = v128.load(scratch, 32), x3 = v128.load(scratch, 48);
    // The inverse: pairs of elements per group, then the two pairs of each group side by side.
    const e0 = i16x8.shuffle(x0, x1, 0, 8, 1, 9, 2, 10, 3, 11), e1 = i16x8.shuffle(x0, x1, 4, 12, 5, 13, 6, 14, 7, 15);
    const e2 = i16x8.shuffle(x2, x3, 0, 8, 1, 9, 2, 10, 3, 11), e3 = i16x8.shuffle(x2, x3, 4, 12, 5, 13, 6, 14, 7, 15);
    v128.store(p, i32x4.shuffle(e0, e2, 0, 4, 1, 5));
    v128.store(p, i32x4.shuffle(e0, e2, 2, 6, 3, 7), 16);
    v128.store(p, i32x4.shuffle(e1, e3, 0, 4, 1, 5), 32);
    v128.store(p, i32x4.shuffle(e1, e3, 2, 6, 3, 7), 48);
  }
  finishPrune(halfScale(bf));
  for (; i < count; i += 4) pruneScalar(input + <usize>i * 2, 2, bf ? DT_BF16 : DT_F16, n);
}

/**
 * N:4 magnitude pruning of 4 float32 groups in place (element j of the 4 groups: the 4 lanes at pj), as
 * pruneQuadHalf with i32 comparisons; Inf, NaN and magnitudes >= 2^100 take pruneF32Quad (exact sums).
 */
@inline function pruneQuad32(p0: usize, p1: usize, p2: usize, p3: usize, n: i32): void {
  const zero = i32x4.splat(0);
  const r0 = v128.load(p0), r1 = v128.load(p1), r2 = v128.load(p2), r3 = v128.load(p3);
  const a0 = absF32(r0), a1 = absF32(r1), a2 = absF32(r2), a3 = absF32(r3);
  const lo01 = i32x4.min_s(a0, a1), hi01 = i32x4.max_s(a0, a1);
  const lo23 = i32x4.min_s(a2, a3), hi23 = i32x4.max_s(a2, a3);
  const s0 = i32x4.max_s(hi01, hi23);
  if (v128.any_true(i32x4.gt_s(s0, i32x4.splat(F32_FAST_LIMIT)))) {
    pruneF32Quad(r0, r1, r2, r3, n);
    v128.store(p0, out0);
    v128.store(p1, out1);
    v128.store(p2, out2);
    v128.store(p3, out3);
    return;
  }
  const g10 = i32x4.gt_s(a1, a0), g20 = i32x4.gt_s(a2, a0), g30 = i32x4.gt_s(a3, a0);
  const g21 = i32x4.gt_s(a2, a1), g31 = i32x4.gt_s(a3, a1), g32 = i32x4.gt_s(a3, a2);
  const b0 = i32x4.add(i32x4.add(g10, g20), g30);
  const b1 = i32x4.sub(i32x4.add(g21, g31), i32x4.add(g10, i32x4.splat(1)));
  const b2 = i32x4.sub(g32, i32x4.add(i32x4.add(g20, g21), i32x4.splat(2)));
  const b3 = i32x4.sub(i32x4.splat(-3), i32x4.add(i32x4.add(g30, g31), g32));
  const limit = i32x4.splat(-n);
  const k0 = v128.or(i32x4.gt_s(b0, limit), i32x4.eq(a0, zero));
  const k1 = v128.or(i32x4.gt_s(b1, limit), i32x4.eq(a1, zero));
  const k2 = v128.or(i32x4.gt_s(b2, limit), i32x4.eq(a2, zero));
  const k3 = v128.or(i32x4.gt_s(b3, limit), i32x4.eq(a3, zero));
  v128.store(p0, v128.and(r0, k0));
  v128.store(p1, v128.and(r1, k1));
  v128.store(p2, v128.and(r2, k2));
  v128.store(p3, v128.and(r3, k3));
  pKept = i32x4.add(pKept, i32x4.add(i32x4.add(k0, k1), i32x4.add(k2, k3)));
  pElements += 16;
  const m1 = i32x4.min_s(hi01, hi23), m2 = i32x4.max_s(lo01, lo23);
  const c1 = i32x4.max_s(m1, m2);
  const c3 = i32x4.min_s(lo01, lo23);
  const c23 = f32x4.add(i32x4.min_s(m1, m2), c3);
  pTot = f32x4.add(pTot, f32x4.add(f32x4.add(s0, c1), c23));
  pPr = f32x4.add(pPr, n == 1 ? f32x4.add(c1, c23) : n == 2 ? c23 : c3);
  if (++pRuns == 4) flushPrune();
}

function pruneStrided32(input: usize, rows: i32, lanes: i32, n: i32): void {
  const stride: usize = <usize>lanes * 4;
  for (let g = 0; g + 4 <= rows; g += 4) {
    let b = 0;
    for (; b + 4 <= lanes; b += 4) {
      const p = input + (<usize>g * <usize>lanes + <usize>b) * 4;
      pruneQuad32(p, p + stride, p + 2 * stride, p + 3 * stride, n);
    }
    for (; b < lanes; b++) pruneScalar(input + (<usize>g * <usize>lanes + <usize>b) * 4, stride, DT_F32, n);
  }
  finishPrune(1);
}

function pruneContiguous32(input: usize, count: i32, n: i32, scratch: usize): void {
  let i = 0;
  for (; i + 16 <= count; i += 16) {
    const p = input + <usize>i * 4;
    // One group per vector: a 4 x 4 transpose (its own inverse) so that lane g of xj is element j of group g.
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    const t0 = i32x4.shuffle(v0, v1, 0, 4, 1, 5), t1 = i32x4.shuffle(v0, v1, 2, 6, 3, 7);
    const t2 = i32x4.shuffle(v2, v3, 0, 4, 1, 5), t3 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
    v128.store(scratch, i64x2.shuffle(t0, t2, 0, 2));
    v128.store(scratch, i64x2.shuffle(t0, t2, 1, 3), 16);
    v128.store(scratch, i64x2.shuffle(t1, t3, 0, 2), 32);
    v128.store(scratch, i64x2.shuffle(t1, t3, 1, 3), 48);
    pruneQuad32(scratch, scratch + 16, scratch + 32, scratch + 48, n);
    const x0 = v128.load(scratch), x1 = v128.load(scratch, 16), x2 = v128.load(scratch, 32), x3 = v128.load(scratch, 48);
    const u0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5), u1 = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
    const u2 = i32x4.shuffle(x2, x3, 0, 4, 1, 5), u3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
    v128.store(p, i64x2.shuffle(u0, u2, 0, 2));
    v128.store(p, i64x2.shuffle(u0, u2, 1, 3), 16);
    v128.store(p, i64x2.shuffle(u1, u3, 0, 2), 32);
    v128.store(p, i64x2.shuffle(u1, u3, 1, 3), 48);
  }
  finishPrune(1);
  for (; i < count; i += 4) pruneScalar(input + <usize>i * 4, 4, DT_F32, n);
}

// 8-bit pruning (one zero point, see setZeroPoint): ranks compared as unsigned bytes, 16 groups per operation;
// pruned elements become the zero point; sums are exact integers.
let q8Tot: v128 = i32x4.splat(0);
let q8Pr: v128 = i32x4.splat(0);
let q8Kept: v128 = i32x4.splat(0);
let q8Elements: i32 = 0;

@inline function widen8(x: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_u(x);
}

/** Prunes 16 groups in place: element j of the 16 groups is the 16 bytes at pj. */
@inline function pruneQuad8(p0: usize, p1: usize, p2: usize, p3: usize, flip: v128, zu: v128, zraw: v128, n: i32): void {
  const zero = i8x16.splat(0);
  const r0 = v128.load(p0), r1 = v128.load(p1), r2 = v128.load(p2), r3 = v128.load(p3);
  const a0 = magnitude8(r0, flip, zu), a1 = magnitude8(r1, flip, zu), a2 = magnitude8(r2, flip, zu), a3 = magnitude8(r3, flip, zu);
  const g10 = i8x16.gt_u(a1, a0), g20 = i8x16.gt_u(a2, a0), g30 = i8x16.gt_u(a3, a0);
  const g21 = i8x16.gt_u(a2, a1), g31 = i8x16.gt_u(a3, a1), g32 = i8x16.gt_u(a3, a2);
  // Minus the number of elements that beat each one (larger, or equal and earlier), as in pruneQuadHalf.
  const b0 = i8x16.add(i8x16.add(g10, g20), g30);
  const b1 = i8x16.sub(i8x16.add(g21, g31), i8x16.add(g10, i8x16.splat(1)));
  const b2 = i8x16.sub(g32, i8x16.add(i8x16.add(g20, g21), i8x16.splat(2)));
  const b3 = i8x16.sub(i8x16.splat(-3), i8x16.add(i8x16.add(g30, g31), g32));
  const limit = i8x16.splat(<i8>-n);
  const k0 = v128.or(i8x16.gt_s(b0, limit), i8x16.eq(a0, zero));
  const k1 = v128.or(i8x16.gt_s(b1, limit), i8x16.eq(a1, zero));
  const k2 = v128.or(i8x16.gt_s(b2, limit), i8x16.eq(a2, zero));
  const k3 = v128.or(i8x16.gt_s(b3, limit), i8x16.eq(a3, zero));
  v128.store(p0, v128.bitselect(r0, zraw, k0));
  v128.store(p1, v128.bitselect(r1, zraw, k1));
  v128.store(p2, v128.bitselect(r2, zraw, k2));
  v128.store(p3, v128.bitselect(r3, zraw, k3));
  q8Tot = i32x4.add(q8Tot, widen8(sum8(a0, a1, a2, a3)));
  q8Pr = i32x4.add(q8Pr, widen8(sum8(v128.andnot(a0, k0), v128.andnot(a1, k1), v128.andnot(a2, k2), v128.andnot(a3, k3))));
  q8Kept = i32x4.add(q8Kept, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(i8x16.add(i8x16.add(k0, k1), i8x16.add(k2, k3)))));
  q8Elements += 64;
}

function finishPrune8(): void {
  const t = sumU32(q8Tot);
  totalMagnitude += t;
  keptMagnitude += t - sumU32(q8Pr);
  prunedCount += q8Elements + i32x4.extract_lane(q8Kept, 0) + i32x4.extract_lane(q8Kept, 1) + i32x4.extract_lane(q8Kept, 2) + i32x4.extract_lane(q8Kept, 3);
  q8Tot = i32x4.splat(0);
  q8Pr = i32x4.splat(0);
  q8Kept = i32x4.splat(0);
  q8Elements = 0;
}

/** Scalar N:4 pruning of one 8-bit group at p, p + stride, ... (tails); the same ranking as pruneQuad8. */
function pruneScalar8(p: usize, stride: usize, signed: bool, n: i32): void {
  const m0 = scalarMag8(p, signed), m1 = scalarMag8(p + stride, signed);
  const m2 = scalarMag8(p + 2 * stride, signed), m3 = scalarMag8(p + 3 * stride, signed);
  const r0 = <i32>(m1 > m0) + <i32>(m2 > m0) + <i32>(m3 > m0);
  const r1 = <i32>(m0 >= m1) + <i32>(m2 > m1) + <i32>(m3 > m1);
  const r2 = <i32>(m0 >= m2) + <i32>(m1 >= m2) + <i32>(m3 > m2);
  const r3 = <i32>(m0 >= m3) + <i32>(m1 >= m3) + <i32>(m2 >= m3);
  let kept = 0;
  if (r0 < n) kept += m0;
  if (r1 < n) kept += m1;
  if (r2 < n) kept += m2;
  if (r3 < n) kept += m3;
  totalMagnitude += <f64>(m0 + m1 + m2 + m3);
  keptMagnitude += <f64>kept;
  pruneScalarAt8(p, m0, r0 < n);
  pruneScalarAt8(p + stride, m1, r1 < n);
  pruneScalarAt8(p + 2 * stride, m2, r2 < n);
  pruneScalarAt8(p + 3 * stride, m3, r3 < n);
}

@inline function pruneScalarAt8(at: usize, magnitude: i32, keep: bool): void {
  if (keep || magnitude == 0) return;
  store<u8>(at, <u8>zeroPoint8);
  prunedCount++;
}

function pruneStrided8(input: usize, rows: i32, lanes: i32, signed: bool, n: i32): void {
  const stride: usize = <usize>lanes;
  const flip = i8x16.splat(signed ? -128 : 0);
  const zu = i8x16.splat(<i8>(signed ? zeroPoint8 + 128 : zeroPoint8));
  const zraw = i8x16.splat(<i8>zeroPoint8);
  for (let g = 0; g + 4 <= rows; g += 4) {
    let b = 0;
    for (; b + 16 <= lanes; b += 16) {
      const p = input + <usize>g * stride + <usize>b;
      pruneQuad8(p, p + stride, p + 2 * stride, p + 3 * stride, flip, zu, zraw, n);
    }
    for (; b < lanes; b++) pruneScalar8(input + <usize>g * stride + <usize>b, stride, signed, n);
  }
  finishPrune8();
}

function pruneContiguous8(input: usize, count: i32, signed: bool, n: i32, scratch: usize): void {
  const flip = i8x16.splat(signed ? -128 : 0);
  const zu = i8x16.splat(<i8>(signed ? zeroPoint8 + 128 : zeroPoint8));
  const zraw = i8x16.splat(<i8>zeroPoint8);
  let i = 0;
  for (; i + 64 <= count; i += 64) {
    const p = input + <usize>i;
    // Bytes of each group to lanes, a 4 x 4 i32 transpose, and the same two steps back (both are their own inverse).
    const b0 = i8x16.swizzle(v128.load(p), GROUP_BYTES), b1 = i8x16.swizzle(v128.load(p, 16), GROUP_BYTES);
    const b2 = i8x16.swizzle(v128.load(p, 32), GROUP_BYTES), b3 = i8x16.swizzle(v128.load(p, 48), GROUP_BYTES);
    const t0 = i32x4.shuffle(b0, b1, 0, 4, 1, 5), t1 = i32x4.shuffle(b0, b1, 2, 6, 3, 7);
    const t2 = i32x4.shuffle(b2, b3, 0, 4, 1, 5), t3 = i32x4.shuffle(b2, b3, 2, 6, 3, 7);
    v128.store(scratch, i64x2.shuffle(t0, t2, 0, 2));
    v128.store(scratch, i64x2.shuffle(t0, t2, 1, 3), 16);
    v128.store(scratch, i64x2.shuffle(t1, t3, 0, 2), 32);
    v128.store(scratch, i64x2.shuffle(t1, t3, 1, 3), 48);
    pruneQuad8(scratch, scratch + 16, scratch + 32, scratch + 48, flip, zu, zraw, n);
    const x0 = v128.load(scratch), x1 = v128.load(scratch, 16), x2 = v128.load(scratch, 32), x3 = v128.load(scratch, 48);
    const u0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5), u1 = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
    const u2 = i32x4.shuffle(x2, x3, 0, 4, 1, 5), u3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
    v128.store(p, i8x16.swizzle(i64x2.shuffle(u0, u2, 0, 2), GROUP_BYTES));
    v128.store(p, i8x16.swizzle(i64x2.shuffle(u0, u2, 1, 3), GROUP_BYTES), 16);
    v128.store(p, i8x16.swizzle(i64x2.shuffle(u1, u3, 0, 2), GROUP_BYTES), 32);
    v128.store(p, i8x16.swizzle(i64x2.shuffle(u1, u3, 1, 3), GROUP_BYTES), 48);
  }
  finishPrune8();
  for (; i < count; i += 4) pruneScalar8(input + <usize>i, 1, signed, n);
}

/** N:4 pruning in place of a slab of `rows` K-rows x `lanes` lanes (K the slower axis); rows a multiple of 4. */
export function pruneStrided(input: usize, rows: i32, lanes: i32, dt: i32, n: i32): void {
  if (dt == DT_I8 || dt == DT_U8) pruneStrided8(input, rows, lanes, dt == DT_I8, n);
  else if (dt == DT_F32) pruneStrided32(input, rows, lanes, n);
  else pruneStridedHalf(input, rows, lanes, dt == DT_BF16, n);
}

/** N:4 pruning in place of `count` contiguous elements (K innermost, one lane); count a multiple of 4. */
export function pruneContiguous(input: usize, count: i32, dt: i32, n: i32): void {
  if (dt == DT_I8 || dt == DT_U8) pruneContiguous8(input, count, dt == DT_I8, n, scratchBase());
  else if (dt == DT_F32) pruneContiguous32(input, count, n, scratchBase());
  else pruneContiguousHalf(input, count, dt == DT_BF16, n, scratchBase());
}

// ------------------------------------------------------------------------------------------ negative zeros

/**
 * How many of `count` float32 elements at `input` are -0.0 (bits 0x80000000): zeros to the scan, but not to a kernel
 * or exporter that tests bits. For float32 slabs with K strided across lanes; the K-contiguous float32 scan and the
 * float16/bfloat16 scans count theirs as they go (getNegativeZeros).
 */
export function countNegativeZeros32(input: usize, count: i32): i32 {
  let found = 0;
  let i = 0;
  const negZero = i32x4.splat(0x80000000);
  let acc = i32x4.splat(0);
  for (; i + 16 <= count; i += 16) {
    const p = input + (<usize>i << 2);
    const e = i32x4.add(i32x4.add(i32x4.eq(v128.load(p), negZero), i32x4.eq(v128.load(p, 16), negZero)), i32x4.add(i32x4.eq(v128.load(p, 32), negZero), i32x4.eq(v128.load(p, 48), negZero)));
    acc = i32x4.sub(acc, e);
  }
  found = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; i < count; i++) found += <i32>(load<u32>(input + (<usize>i << 2)) == 0x80000000);
  return found;
}

// ------------------------------------------------------------------------------------------ 4-bit packed codes

/**
 * 4-bit packed codes (MatMulNBits, QMoE: ONNX Runtime's docs/ContribOperators.md, two codes a byte, low nibble first,
 * each row's blobs of blockSize codes padded) as distances |code - zero point|, one byte per real code, into `out`.
 * `rows` stored rows of `rowBytes` from `stored`: codes k0..K of the first, 0..K of the middle ones, 0..kEnd of the
 * last; one zero point byte per (row, block) at `points`. Returns how many codes equal a non-zero zero point.
 */
export function packedDistances4(stored: usize, rowBytes: i32, rows: i32, K: i32, k0: i32, kEnd: i32, blockSize: i32, points: usize, out: usize): i32 {
  const blob = blockSize >> 1;
  const blocks = (K + blockSize - 1) / blockSize;
  let equal = 0;
  let at = out;
  for (let r = 0; r < rows; r++) {
    const row = stored + <usize>r * rowBytes;
    let k = r == 0 ? k0 : 0;
    const k1 = r == rows - 1 ? kEnd : K;
    while (k < k1) {
      const b = k / blockSize;
      const j = k - b * blockSize;
      const end = min(k1, (b + 1) * blockSize);
      const point = <i32>load<u8>(points + <usize>(r * blocks + b));
      const same = blockDistances4(row + <usize>(b * blob + (j >> 1)), j & 1, end - k, point, at);
      // A zero point of 0 makes its codes' zeros ordinary zeros, not fragile ones (fragile.ts).
      if (point != 0) equal += same;
      at += <usize>(end - k);
      k = end;
    }
  }
  return equal;
}

/** `count` codes of one block from byte `src` (from its high nibble when `odd`) as |code - point| into `out`; returns how many are 0. */
function blockDistances4(src: usize, odd: i32, count: i32, point: i32, out: usize): i32 {
  let zeros = 0;
  let i = 0;
  if (odd && count > 0) {
    const d = abs<i32>((<i32>load<u8>(src) >> 4) - point);
    store<u8>(out, <u8>d);
    zeros += <i32>(d == 0);
    src++;
    i = 1;
  }
  const zp = i8x16.splat(<i8>point);
  const nibble = i8x16.splat(15);
  const none = i8x16.splat(0);
  // 16 bytes hold 32 codes: split the nibbles, measure both halves, then interleave them back into element order.
  for (; i + 32 <= count; i += 32) {
    const v = v128.load(src);
    const lo = i8x16.sub(i8x16.max_u(v128.and(v, nibble), zp), i8x16.min_u(v128.and(v, nibble), zp));
    const hi = i8x16.sub(i8x16.max_u(i8x16.shr_u(v, 4), zp), i8x16.min_u(i8x16.shr_u(v, 4), zp));
    const at = out + <usize>i;
    v128.store(at, i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    v128.store(at, i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 16);
    zeros += <i32>popcnt<u32>(i8x16.bitmask(i8x16.eq(lo, none))) + <i32>popcnt<u32>(i8x16.bitmask(i8x16.eq(hi, none)));
    src += 16;
  }
  for (; i + 2 <= count; i += 2) {
    const byte = <i32>load<u8>(src++);
    const lo = abs<i32>((byte & 15) - point);
    const hi = abs<i32>((byte >> 4) - point);
    store<u8>(out + <usize>i, <u8>lo);
    store<u8>(out + <usize>i, <u8>hi, 1);
    zeros += <i32>(lo == 0) + <i32>(hi == 0);
  }
  if (i < count) {
    const d = abs<i32>((<i32>load<u8>(src) & 15) - point);
    store<u8>(out + <usize>i, <u8>d);
    zeros += <i32>(d == 0);
  }
  return zeros;
}

/**
 * 4-bit packed codes scanned as stored (issue 12's int4 LLMs): scanContiguous8 over |code - zero point| with the
 * distances made in registers, never written out, and lineStats' word counts made as the words are. `rows` whole
 * rows of K codes at `stored` (K / 2 bytes each, two codes a byte, low nibble first); K a multiple of 64 and of the
 * block, the block 2^blockShift codes, at least 16 (so each 16 codes share one zero point). The zero points at
 * `points`: with `pointRowBytes` 0 one byte per (row, block), else packed as stored (MatMulNBits' zero_points: rows
 * of `pointRowBytes` bytes, two a byte, low nibble first). Writes the same words as scanContiguous8, adds to the
 * same sums, counts each word in `hist16` and writes each row's kind (wordStatsLine's: 0 no group valid, 1 all,
 * 2 mixed) to `kinds`, leaving mixed rows' grid counts to mixedLines; returns how many codes equal a zero point of
 * 0 (fragile.ts: the other zeros, on non-zero zero points, are all the zeros the words count less these).
 */
export function scanPacked4(stored: usize, rows: i32, K: i32, blockShift: i32, points: usize, pointRowBytes: i32, n: i32, words: usize, hist16: usize, kinds: usize): i32 {
  // One copy per n and per zero point spacing, so that both are constants in the loop (2-10% less time).
  if (blockShift < 6) {
    if (n == 2) return packedSteps2(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
    if (n == 1) return packedSteps1(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
    return packedSteps3(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
  }
  if (n == 2) return packedBlocks2(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
  if (n == 1) return packedBlocks1(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
  return packedBlocks3(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
}

// Each copy a function of its own, exported so that Binaryen does not inline it into scanPacked4: the engine
// compiles a function with its optimizing tier once it has run a while, and until then runs it unoptimized; one
// function holding all six copies took long enough to compile that a thread's first parts ran 3 x slower.
export function packedSteps2(stored: usize, rows: i32, K: i32, blockShift: i32, points: usize, pointRowBytes: i32, words: usize, hist16: usize, kinds: usize): i32 {
  return packedRows<u16, i8>(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
}
export function packedSteps1(stored: usize, rows: i32, K: i32, blockShift: i32, points: usize, pointRowBytes: i32, words: usize, hist16: usize, kinds: usize): i32 {
  return packedRows<u8, i8>(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
}
export function packedSteps3(stored: usize, rows: i32, K: i32, blockShift: i32, points: usize, pointRowBytes: i32, words: usize, hist16: usize, kinds: usize): i32 {
  return packedRows<u32, i8>(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
}
export function packedBlocks2(stored: usize, rows: i32, K: i32, blockShift: i32, points: usize, pointRowBytes: i32, words: usize, hist16: usize, kinds: usize): i32 {
  return packedRows<u16, u8>(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
}
export function packedBlocks1(stored: usize, rows: i32, K: i32, blockShift: i32, points: usize, pointRowBytes: i32, words: usize, hist16: usize, kinds: usize): i32 {
  return packedRows<u8, u8>(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
}
export function packedBlocks3(stored: usize, rows: i32, K: i32, blockShift: i32, points: usize, pointRowBytes: i32, words: usize, hist16: usize, kinds: usize): i32 {
  return packedRows<u32, u8>(stored, rows, K, blockShift, points, pointRowBytes, words, hist16, kinds);
}

/**
 * scanPacked4 for one n, and a step's zero points read as four bytes (blocks of 16 or 32) or as its block's one
 * byte from the chunk's (blocks of 64 or more). Both are type parameters, not arguments, so that each copy holds them
 * as constants: n is sizeof<N>() (u8 1, u16 2, u32 3) and a signed P reads four zero points a step. As arguments of an inlined function, the copies differed only
 * in the locals holding them, and Binaryen's code folding merged them into one loop that tested n and perStep
 * at run time.
 */
@inline function packedRows<N, P>(stored: usize, rows: i32, K: i32, blockShift: i32, points: usize, pointRowBytes: i32, words: usize, hist16: usize, kinds: usize): i32 {
  const n: i32 = sizeof<N>() == 4 ? 3 : <i32>sizeof<N>();
  const perStep = isSigned<P>();
  const blocks = K >> blockShift;
  const nibble = i8x16.splat(15);
  const zero = i8x16.splat(0);
  let total = i32x4.splat(0);
  let pruned = i32x4.splat(0);
  let onZero = 0;
  let src = stored;
  let i: usize = 0;
  // Bits of the codes whose zero point is not 0 (fragile.ts: a zero point of 0 makes their zeros ordinary ones).
  let onPoint: u64 = 0;
  let zp0 = zero, zp1 = zero;
  for (let r = 0; r < rows; r++) {
    const rowPoints = points + <usize>(r * (pointRowBytes ? pointRowBytes : blocks));
    // The row's kind: some group is valid where the smallest pruned magnitude is 0, all where their sum is.
    let least = i8x16.splat(-1);
    let prAny = zero;
    // Byte sums of 4 distances (at most 60) for 4 steps (240), then u16 partial sums flushed every 256 steps.
    for (let c0 = 0; c0 < K; c0 += 16384) {
      const cEnd = min(K, c0 + 16384);
      let tot = i16x8.splat(0);
      let pr = i16x8.splat(0);
      let bytes = zero;
      // Blocks of 64 codes or more: the chunk's zero points a byte each (at most 256 blocks; a block larger than the
      // chunk holds it whole), each step loading its block's with one instruction. (A loop around each block's
      // steps, reading its zero point once, cost a fifth of the kernel's time with blocks of 128: its set-up.)
      const chunkBlocks = max(1, (cEnd - c0) >> blockShift);
      let chunkPoints: usize = 0;
      let chunkZero = false;
      if (!perStep) {
        chunkPoints = pointRowBytes ? pointScratch() : rowPoints + <usize>(c0 >> blockShift);
        chunkZero = chunkPoints8(rowPoints, pointRowBytes, c0 >> blockShift, chunkBlocks, chunkPoints);
      }
      const iChunk = i;
      // The steps' loop one level deeper than it needs to be, in a loop that runs once: V8 unrolls a loop by two
      // only up to a size that grows with its depth, and unrolled the steps this way and not when they were the
      // chunk's loop (seen in its code; blocks of 128: 31-32 ms against 34-36 ms, blocks of 32 the same).
      for (let cs = c0; cs < cEnd; cs = cEnd) {
        for (let c = cs; c < cEnd; c += 64) {
          // The zero point of each 16 codes (bytes 0-7 and 8-15 of each vector): blocks of 16 or 32, the step's four,
          // a byte each, spread over the vectors' halves by two shuffles; else the step's block's, one load.
          if (perStep) {
            const z = stepPoints(rowPoints, pointRowBytes, blockShift, c);
            const zv = i32x4.splat(z);
            zp0 = i8x16.shuffle(zv, zv, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
            zp1 = i8x16.shuffle(zv, zv, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
            // Some zero point 0 (a zero byte) is rare: then the sixteens whose zero point is not.
            onPoint = ((z - 0x01010101) & ~z & 0x80808080) == 0 ? 0xffffffffffffffff : nonZeroSixteens(z);
          } else {
            zp0 = v128.load8_splat(chunkPoints + <usize>((c - c0) >> blockShift));
          }
          const v0 = v128.load(src), v1 = v128.load(src, 16);
          // High nibbles: the byte less its low nibble, shifted as 16-bit lanes (the byte above brings down only the
          // zeros the subtraction left). Distances: codes and zero points are 0..15, so |code - zp| is an i8 abs.
          const l0 = v128.and(v0, nibble), h0 = i16x8.shr_u(i8x16.sub(v0, l0), 4);
          const l1 = v128.and(v1, nibble), h1 = i16x8.shr_u(i8x16.sub(v1, l1), 4);
          const d0 = i8x16.abs(i8x16.sub(l0, zp0)), e0 = i8x16.abs(i8x16.sub(h0, zp0));
          // (Blocks of 64 or more: both vectors share zp0, one register fewer in the loop.)
          const zpB = perStep ? zp1 : zp0;
          const d1 = i8x16.abs(i8x16.sub(l1, zpB)), e1 = i8x16.abs(i8x16.sub(h1, zpB));
          // Each byte's two distances summed: the magnitude, and (n = 2) half of the pruned pairs' candidates.
          const s0 = i8x16.add(d0, e0), s1 = i8x16.add(d1, e1);
          bytes = i8x16.add(bytes, i8x16.add(s0, s1));
          if ((c & 255) == 192) {
            tot = i16x8.add(tot, i16x8.extadd_pairwise_i8x16_u(bytes));
            bytes = zero;
          }
          // Back into element order: low nibble of byte j is code 2j, its high nibble code 2j + 1.
          const a0 = i8x16.shuffle(d0, e0, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
          const a1 = i8x16.shuffle(d0, e0, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
          const a2 = i8x16.shuffle(d1, e1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
          const a3 = i8x16.shuffle(d1, e1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
          // Non-zero bits: 0 less a distance of 1 to 15 is 241 to 255 (top bit set), 0 stays 0.
          const w0 = i8x16.bitmask(i8x16.sub(zero, a0)), w1 = i8x16.bitmask(i8x16.sub(zero, a1));
          const w2 = i8x16.bitmask(i8x16.sub(zero, a2)), w3 = i8x16.bitmask(i8x16.sub(zero, a3));
          const at = words + (i >> 3);
          store<u16>(at, <u16>w0);
          store<u16>(at, <u16>w1, 2);
          store<u16>(at, <u16>w2, 4);
          store<u16>(at, <u16>w3, 6);
          countWord(hist16, w0);
          countWord(hist16, w1);
          countWord(hist16, w2);
          countWord(hist16, w3);
          src += 32;
          i += 64;
          // A group is valid where its pruned magnitudes are 0 (its 4 - n smallest distances are all 0): the row's
          // kind from the same vectors, with no table and no branch.
          const p0 = prunedPairs(d0, e0, s0, n), p1 = prunedPairs(d1, e1, s1, n);
          least = i16x8.min_u(least, i16x8.min_u(p0, p1));
          pr = i16x8.add(pr, i16x8.add(p0, p1));
          // Zeros on a zero point of 0, where the step has one (rare: the caller takes the others from all the zeros),
          // from the words just stored.
          if (perStep && onPoint != 0xffffffffffffffff) onZero += <i32>popcnt<u64>(~load<u64>(at) & ~onPoint);
        }
      }
      if (!perStep && chunkZero) onZero += zerosOnPoint0(words + (iChunk >> 3), chunkPoints, chunkBlocks, min(1 << blockShift, cEnd - c0));
      tot = i16x8.add(tot, i16x8.extadd_pairwise_i8x16_u(bytes));
      total = i32x4.add(total, i32x4.extadd_pairwise_i16x8_u(tot));
      pruned = i32x4.add(pruned, i32x4.extadd_pairwise_i16x8_u(pr));
      // pr's lanes are sums of non-negative magnitudes (at most 90 a step, 256 steps): 0 only where each was.
      prAny = v128.or(prAny, pr);
    }
    store<u8>(kinds + <usize>r, <u8>(!v128.any_true(i16x8.eq(least, zero)) ? 0 : !v128.any_true(prAny) ? 1 : 2));
  }
  const t = sumU32(total);
  totalMagnitude += t;
  keptMagnitude += t - sumU32(pruned);
  return onZero;
}

/**
 * The pruned magnitudes (the 4 - n smallest) of the 8 groups of 4 codes in 16 packed bytes, from their distances:
 * low nibbles `d`, high nibbles `e` (scanPacked4's, before they are put in element order) and each byte's sum `s`
 * (d + e). Group g is bytes 2g and 2g + 1 (codes a, b | c, d: 4g..4g+3); its sum lands in u16 lane g (at most 45).
 */
@inline function prunedPairs(d: v128, e: v128, s: v128, n: i32): v128 {
  // (A shift of the u16 lanes by 8 brings each odd byte down beside its even one and leaves 0 in the odd byte.)
  if (n == 3) {
    // The smallest: the smaller of each byte's smaller (odd bytes: min with 0).
    const low = i8x16.min_u(d, e);
    return i8x16.min_u(low, i16x8.shr_u(low, 8));
  }
  if (n == 2) {
    // The two smallest are a pair: a + b, c + d, or the smaller of each byte, min(a, b) + min(c, d); the smallest of
    // these candidates is their sum (odd bytes of inByte: min with 0).
    const inByte = i8x16.min_u(s, i16x8.shr_u(s, 8));
    return i16x8.min_u(inByte, i16x8.extadd_pairwise_i8x16_u(i8x16.min_u(d, e)));
  }
  // n = 1: all four but the largest.
  const high = i8x16.max_u(d, e);
  return i16x8.sub(i16x8.extadd_pairwise_i8x16_u(s), v128.and(i8x16.max_u(high, i16x8.shr_u(high, 8)), EVEN_BYTES));
}

/**
 * The zero points of the four sixteens of codes from c (a multiple of 64) in a row whose zero points start at
 * `rowPoints`, a byte each (the first in the low byte): blocks of 16 (blockShift 4) or 32 (5), a byte per block
 * (pointRowBytes 0) or packed two a byte, low nibble first (c's block is even: its byte holds the next block too).
 */
@inline function stepPoints(rowPoints: usize, pointRowBytes: i32, blockShift: i32, c: i32): u32 {
  if (blockShift == 4) {
    if (pointRowBytes == 0) return load<u32>(rowPoints + <usize>(c >> 4));
    // Two bytes of four nibbles: to bytes 0 and 2, then each byte's high nibble to the byte above.
    const x = <u32>load<u16>(rowPoints + <usize>(c >> 5));
    const t = (x & 0xff) | ((x & 0xff00) << 8);
    return (t & 0x000f000f) | ((t & 0x00f000f0) << 4);
  }
  // Blocks of 32: two zero points, each for two sixteens.
  let t: u32;
  if (pointRowBytes == 0) {
    const x = <u32>load<u16>(rowPoints + <usize>(c >> 5));
    t = (x & 0xff) | ((x & 0xff00) << 8);
  } else {
    const x = <u32>load<u8>(rowPoints + <usize>(c >> 6));
    t = (x & 15) | ((x >> 4) << 16);
  }
  return t | (t << 8);
}

/** The bits of the 64 codes of a step whose sixteen's zero point (a byte of z, stepPoints') is not 0. */
function nonZeroSixteens(z: u32): u64 {
  let bits: u64 = 0;
  for (let j = 0; j < 4; j++) if ((z >> (8 * j)) & 0xff) bits |= (<u64>0xffff) << (16 * j);
  return bits;
}

const EVEN_BYTES: v128 = i16x8(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** Zero point of block b of a row whose zero points start at `rowPoints`: a byte each, or with `pointRowBytes` > 0 a nibble (low first). */
@inline function blockPoint(rowPoints: usize, pointRowBytes: i32, b: i32): u8 {
  if (pointRowBytes == 0) return load<u8>(rowPoints + <usize>b);
  return <u8>((<i32>load<u8>(rowPoints + <usize>(b >> 1)) >> ((b & 1) << 2)) & 15);
}

/**
 * The zero points of blocks [b0, b0 + count) of a row (count at most 256) a byte each at `out`: where they are
 * stored a byte each, `out` is where they lie (rowPoints + b0) and nothing is written; packed, they are unpacked
 * there. Returns whether one of them is 0. Reads up to 15 bytes past the row's last (scanPacked4's callers leave room).
 */
function chunkPoints8(rowPoints: usize, pointRowBytes: i32, b0: i32, count: i32, out: usize): bool {
  if (pointRowBytes) {
    if (b0 & 1) {
      // (Only with blocks larger than a chunk: one block.)
      for (let b = 0; b < count; b++) store<u8>(out + <usize>b, blockPoint(rowPoints, pointRowBytes, b0 + b));
    } else {
      // 16 packed bytes to 32 zero points: low nibbles to even places, high nibbles to odd ones.
      const from = rowPoints + <usize>(b0 >> 1);
      const nibble = i8x16.splat(15);
      for (let j = 0; j < count; j += 32) {
        const v = v128.load(from + <usize>(j >> 1));
        const lo = v128.and(v, nibble), hi = v128.and(i16x8.shr_u(v, 4), nibble);
        v128.store(out + <usize>j, i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
        v128.store(out + <usize>j, i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 16);
      }
    }
  }
  let zeros = 0;
  for (let j = 0; j < count; j += 16) {
    let m = i8x16.bitmask(i8x16.eq(v128.load(out + <usize>j), i8x16.splat(0)));
    if (count - j < 16) m &= (1 << (count - j)) - 1;
    zeros |= m;
  }
  return zeros != 0;
}

/**
 * Codes on a zero point of 0 in a chunk of a row whose words (a bit per code, set where the code is not its zero
 * point) start at `words`: `count` blocks of `blockCodes` codes (a multiple of 64), their zero points a byte each at `points`.
 */
function zerosOnPoint0(words: usize, points: usize, count: i32, blockCodes: i32): i32 {
  let zeros = 0;
  const blockBytes = <usize>(blockCodes >> 3);
  // The blocks on 0 found 16 at a time (with zero points drawn from 0..15, most rows of 32 blocks have one).
  for (let j = 0; j < count; j += 16) {
    let m = i8x16.bitmask(i8x16.eq(v128.load(points + <usize>j), i8x16.splat(0)));
    if (count - j < 16) m &= (1 << (count - j)) - 1;
    while (m) {
      const from = words + <usize>(j + ctz(m)) * blockBytes;
      for (let at = from; at < from + blockBytes; at += 8) zeros += <i32>popcnt<u64>(~load<u64>(at));
      m &= m - 1;
    }
  }
  return zeros;
}
