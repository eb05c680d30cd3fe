// Export as an output format (src/engine/convert/formats/export.ts): why a layer or weight cannot take it, its plan,
// its files, and the verification that decodes every stream set back to the weight. export.test.ts covers the
// command's behaviour (unchanged by the move); these test the format's parts on their own.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeExport, exportFiles, planExport, verifyExport, whyNotLayer, whyNotWeight } from '../src/engine/convert/formats/export';
import { dtypeById } from '../src/engine/onnx/dtypes';
import type { LayerReport } from '../src/engine/sparsity/inspect';
import type { LayerPlan } from '../src/engine/sparsity/layers';

/** A MatMul layer plan with weight [K = 16, N = 32] (rows = 32 after the view), float16, as layer discovery gives it. */
function layer(overrides: Partial<LayerPlan> = {}): LayerPlan {
  return {
    name: 'fc',
    op: 'MatMul',
    weight: 'W',
    shape: [16, 32],
    axis: 0,
    outAxis: 1,
    dtype: 'float16',
    group: 1,
    chain: [],
    ...overrides,
  } as unknown as LayerPlan;
}

/** Float16 weight [16, 32] in 2:4 along K (axis 0): in each group of 4 rows, rows 1 and 3 kept (values 0x3c00 + column). */
function weightBytes(): Uint8Array {
  const out = new Uint8Array(16 * 32 * 2);
  const view = new DataView(out.buffer);
  for (let k = 0; k < 16; k++) for (let n = 0; n < 32; n++) if (k % 2 === 1) view.setUint16((k * 32 + n) * 2, 0x3c00 + n, true);
  return out;
}

describe('the export format: why not, plan, files, verification', () => {
  const f16 = dtypeById(10)!;
  const f32 = dtypeById(1)!;

  test('a layer that does not pass 2:4 is declined before its weight is read, with the count of violating groups', () => {
    const report = { pass: false, groups: 64, validGroups: 60 } as LayerReport;
    assert.equal(whyNotLayer(layer(), report), "not 2:4 (4 of 64 groups violate): run 'sparsity-lens convert --mode prune' first");
  });

  test('float32 is declined for NVIDIA, taken for Ascend', () => {
    assert.equal(whyNotWeight(layer(), f32, 'nvidia'), 'float32 has no 2:4 tensor-core path in this layout (fp16, bf16 and int8 do)');
    assert.equal(whyNotWeight(layer(), f32, 'ascend'), undefined);
  });

  test('the plan views [K, N] as [N rows, K]; Ascend writes values [32, 8] and 64 index bytes, NVIDIA values and plain metadata', () => {
    const p = planExport(layer(), f16, weightBytes());
    assert.deepEqual([p.rows, p.K], [32, 16]);
    const ascend = exportFiles(p, encodeExport(p, 'ascend'));
    assert.deepEqual(ascend.map((f) => [f.suffix, f.dims, f.dtype, f.data.length]), [
      ['ascend.values.bin', [32, 8], 'float16', 512],
      ['ascend.index.bin', [64], 'uint8', 64],
    ]);
    const nvidia = exportFiles(p, encodeExport(p, 'nvidia'));
    assert.deepEqual(nvidia.map((f) => f.suffix), ['nvidia.values.bin', 'nvidia.meta.bin']);
  });

  test('verification passes for the encoded streams and names the stream set when one decodes differently', () => {
    const p = planExport(layer(), f16, weightBytes());
    for (const encoding of ['ascend', 'nvidia'] as const) {
      const streams = encodeExport(p, encoding);
      assert.equal(verifyExport(p, streams), undefined, encoding);
    }
    // Point the first group's first Ascend index elsewhere: row 0 now decodes its first kept value to another column.
    const ascend = encodeExport(p, 'ascend');
    if (ascend.encoding !== 'ascend') throw new Error('unreachable');
    ascend.ascend.index[0] ^= 0b11;
    assert.match(verifyExport(p, ascend) ?? '', /^the Ascend values and index decode to a different element at row 0, column [0-3]$/);
    const nvidia = encodeExport(p, 'nvidia');
    if (nvidia.encoding !== 'nvidia') throw new Error('unreachable');
    nvidia.plain.values[0] ^= 1;
    assert.match(verifyExport(p, nvidia) ?? '', /^the NVIDIA values and metadata decode to a different element at row 0, column [0-3]$/);
  });
});
