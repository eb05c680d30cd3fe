// npm run bench's second floor: per float16 element, its magnitude added to a float32 sum and a test against zero
// (what the zero counts and, for a layer that fails its pattern, retainedMagnitude need). No grouping, no sort, no
// statistics. Compiled by AssemblyScript for the bench only (esbuild.mjs).
let total: f64 = 0;
let zeros: f64 = 0;

export function getTotal(): f64 {
  return total;
}
export function getZeros(): f64 {
  return zeros;
}

/** The sum of x's four i32 lanes. */
@inline function laneSum(x: v128): f64 {
  return <f64>(i32x4.extract_lane(x, 0) + i32x4.extract_lane(x, 1) + i32x4.extract_lane(x, 2) + i32x4.extract_lane(x, 3));
}

/** Adds |w| and the zero count of `count` float16 values at `input` (count a multiple of 256). */
export function pass(input: usize, count: i32): void {
  const abs = i16x8.splat(0x7fff);
  const zero = i16x8.splat(0);
  let sum64 = f64x2.splat(0);
  let zeroCount = i32x4.splat(0);
  for (let i = 0; i + 256 <= count; ) {
    let sum = f32x4.splat(0);
    let z = i16x8.splat(0);
    for (const end = i + 256; i < end; i += 16) {
      const a = v128.and(v128.load(input + (<usize>i << 1)), abs);
      const b = v128.and(v128.load(input + (<usize>i << 1), 16), abs);
      z = i16x8.add(z, i16x8.add(i16x8.eq(a, zero), i16x8.eq(b, zero)));
      const sa = f32x4.add(i32x4.shl(i32x4.extend_low_i16x8_u(a), 13), i32x4.shl(i32x4.extend_high_i16x8_u(a), 13));
      const sb = f32x4.add(i32x4.shl(i32x4.extend_low_i16x8_u(b), 13), i32x4.shl(i32x4.extend_high_i16x8_u(b), 13));
      sum = f32x4.add(sum, f32x4.add(sa, sb));
    }
    sum64 = f64x2.add(sum64, f64x2.add(f64x2.promote_low_f32x4(sum), f64x2.promote_low_f32x4(i32x4.shuffle(sum, sum, 2, 3, 0, 1))));
    zeroCount = i32x4.sub(zeroCount, i32x4.extadd_pairwise_i16x8_s(z));
  }
  total += (f64x2.extract_lane(sum64, 0) + f64x2.extract_lane(sum64, 1)) * 5.192296858534828e33; // 2^112, as the kernel
  zeros += laneSum(zeroCount);
}

/**
 * The same floor for packed 4-bit codes (two a byte, low nibble first), as the int4 models store them: per code its
 * distance to a zero point of 8 added to a sum and a test against it. No per-block zero points, no grouping, no
 * statistics. `count` bytes at `input` (a multiple of 4096).
 */
export function pass4(input: usize, count: i32): void {
  const nibble = i8x16.splat(15);
  const point = i8x16.splat(8);
  let sum = i32x4.splat(0);
  let zeroCount = i32x4.splat(0);
  for (let i = 0; i + 4096 <= count; ) {
    // Byte sums of at most 2 x 8 per step for 8 steps (128), then u16 partial sums (at most 256 x 128).
    let s16 = i16x8.splat(0);
    let z16 = i16x8.splat(0);
    for (const end = i + 4096; i < end; ) {
      let s8 = i8x16.splat(0);
      let z8 = i8x16.splat(0);
      for (let k = 0; k < 8; k++, i += 16) {
        const v = v128.load(input + <usize>i);
        const lo = v128.and(v, nibble);
        const hi = v128.and(i16x8.shr_u(v, 4), nibble);
        s8 = i8x16.add(s8, i8x16.add(i8x16.abs(i8x16.sub(lo, point)), i8x16.abs(i8x16.sub(hi, point))));
        z8 = i8x16.sub(z8, i8x16.add(i8x16.eq(lo, point), i8x16.eq(hi, point)));
      }
      s16 = i16x8.add(s16, i16x8.extadd_pairwise_i8x16_u(s8));
      z16 = i16x8.add(z16, i16x8.extadd_pairwise_i8x16_u(z8));
    }
    sum = i32x4.add(sum, i32x4.extadd_pairwise_i16x8_u(s16));
    zeroCount = i32x4.add(zeroCount, i32x4.extadd_pairwise_i16x8_u(z16));
  }
  total += laneSum(sum);
  zeros += laneSum(zeroCount);
}
