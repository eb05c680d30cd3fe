// A hardware profile of round numbers, so that projected times can be worked out by hand in the tests.

/** Round numbers: fp16 100 / 200 TFLOPS (int8 200 / 400, fp32 50 / 100), 1000 GB/s, every efficiency 1, no host time. */
export const ROUND = {
  name: 'round',
  description: 'round numbers',
  peaks: { float16: { dense: 100, sparse: 200 }, int8: { dense: 200, sparse: 400 }, float32: { dense: 50, sparse: 100 } },
  bandwidth: 1000,
  denseEfficiency: 1,
  sparseEfficiency: 1,
  memoryEfficiency: 1,
  sparseHalfRows: 0,
  hostOverheadUs: 0,
  sparseHostOverheadUs: 0,
};
