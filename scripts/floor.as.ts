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
  zeros += <f64>(i32x4.extract_lane(zeroCount, 0) + i32x4.extract_lane(zeroCount, 1) + i32x4.extract_lane(zeroCount, 2) + i32x4.extract_lane(zeroCount, 3));
}
