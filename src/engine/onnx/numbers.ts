// Number conversions the engine and the tests share: float16/bfloat16 bit patterns, and a seeded generator (the
// inputs ONNX Runtime runs on when convert compares a model with its output).

// One scratch word shared by the conversions, to read a float32's bits without allocating.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function float32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0];
}

function bitsToFloat32(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0];
}

/** IEEE half bits of x (first rounded to float32), round to nearest even; keeps inf, NaN (quiet) and subnormals. */
export function float32ToFloat16Bits(x: number): number {
  const b = float32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large even before rounding
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal (2^-25): rounds to zero
    // Subnormal half: the implicit 1 becomes explicit and the mantissa shifts right.
    const m = mant | 0x800000;
    const shift = 14 - e;
    return sign | roundShift(m, shift); // a carry into bit 10 yields the smallest normal, as it should
  }
  // Normal: a carry out of the mantissa bumps the exponent (and 0x7bff+1 becomes inf), as it should.
  return sign | (((e << 10) | (mant >>> 13)) + roundUp(mant & 0x1fff, 13, mant >>> 13));
}

/** v >> shift, rounded to nearest even. */
function roundShift(v: number, shift: number): number {
  const q = v >>> shift;
  return q + roundUp(v & ((1 << shift) - 1), shift, q);
}

/** 1 when the dropped `rem` (of `shift` bits) rounds the kept value `q` up under round-half-even. */
function roundUp(rem: number, shift: number, q: number): number {
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? 1 : 0;
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits of x (first rounded to float32), round to nearest even; NaN stays a (quiet) NaN. */
export function float32ToBFloat16Bits(x: number): number {
  const b = float32Bits(x);
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return (b >>> 16) | 0x40;
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16; // at most 0xff807fff: no 32-bit overflow
}

export function bfloat16BitsToFloat32(bits: number): number {
  return bitsToFloat32((bits & 0xffff) << 16);
}

/** Deterministic uniform [0, 1) generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
