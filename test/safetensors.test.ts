// Hugging Face safetensors checkpoints (issue 16): single files and sharded ones, read lazily (the headers, then each
// tensor's bytes streamed), which tensors are layers and along which axis, and the format's own safety rules.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { inspectModel } from '../src/engine/sparsity/inspect';
import { ModelError } from '../src/engine/errors';
import { MAX_HEADER_BYTES } from '../src/engine/safetensors/header';
import { cli } from './support/cli';
import { inspectFile, layer, tempDir } from './support/models';
import { assertTwoOfFour, twoOfFourAlong } from './support/patterns';
import { safetensorsBytes, writeSafetensors } from './support/safetensors';

const dense = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => ((i * 7 + seed) % 11) - 5 || 1);

describe('a safetensors checkpoint: layers, axes and exact counts', () => {
  test('Linear [out, in] weights are grouped along in (axis 1); embeddings, norms, biases listed with their reason', async () => {
    const dir = tempDir();
    const path = writeSafetensors(join(dir, 'model.safetensors'), [
      { name: 'model.embed_tokens.weight', dtype: 'float16', shape: [32, 16], values: dense(512) },
      { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'float16', shape: [16, 64], values: twoOfFourAlong([16, 64], 1) },
      { name: 'model.layers.0.self_attn.q_proj.bias', dtype: 'float16', shape: [16], values: dense(16) },
      { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'bfloat16', shape: [64, 16], values: dense(1024) },
      { name: 'model.layers.0.input_layernorm.weight', dtype: 'float32', shape: [16], values: dense(16) },
      { name: 'lm_head.weight', dtype: 'float32', shape: [32, 16], values: twoOfFourAlong([32, 16], 1) },
    ], { metadata: { format: 'pt' } });
    const report = await inspectFile(path);
    assert.deepEqual(report.layers.map((l) => [l.name, l.op, l.eligible]), [
      ['model.embed_tokens.weight', 'Embedding', false],
      ['model.layers.0.self_attn.q_proj.weight', 'Linear', true],
      ['model.layers.0.self_attn.q_proj.bias', 'Tensor', false],
      ['model.layers.0.mlp.up_proj.weight', 'Linear', true],
      ['model.layers.0.input_layernorm.weight', 'Tensor', false],
      ['lm_head.weight', 'Linear', true],
    ]);
    assertTwoOfFour(layer(report, 'model.layers.0.self_attn.q_proj.weight'), 1, 0);
    assertTwoOfFour(layer(report, 'lm_head.weight'), 1, 0);
    const up = layer(report, 'model.layers.0.mlp.up_proj.weight');
    assert.deepEqual([up.dtype, up.shape, up.groups, up.validGroups, up.zeros, up.pass], ['bfloat16', [64, 16], 256, 0, 0, false]);
    assert.match(layer(report, 'model.embed_tokens.weight').reason!, /^embedding table: read by a lookup/);
    assert.equal(layer(report, 'model.layers.0.self_attn.q_proj.bias').reason, 'bias (1-D): not a matrix');
    assert.equal(layer(report, 'model.layers.0.input_layernorm.weight').reason, 'normalization weight (1-D): not a matrix');
    assert.deepEqual([report.producer, report.opset, report.summary.eligible, report.summary.passing], ['safetensors (pt)', null, 3, 2]);
    assert.deepEqual(report.warnings, []);
  });

  test('Conv [out, in, kh, kw] along in; FP8 and int8 weights read with their scales', async () => {
    const dir = tempDir();
    const conv = twoOfFourAlong([8, 16, 3, 3], 1);
    const path = writeSafetensors(join(dir, 'model.safetensors'), [
      { name: 'features.0.weight', dtype: 'float32', shape: [8, 16, 3, 3], values: conv },
      // e4m3 bit patterns: 0x00 and 0x80 are zeros, 0x38 is 1.0.
      { name: 'proj.weight', dtype: 'float8e4m3fn', shape: [8, 32], values: Array.from({ length: 256 }, (_, i) => (i % 4 === 0 ? 0x80 : i % 4 === 1 ? 0 : 0x38)), bits: true },
      { name: 'proj.weight_scale', dtype: 'float32', shape: [], values: [0.5] },
      { name: 'q.weight', dtype: 'int8', shape: [8, 32], values: dense(256) },
      { name: 'q.weight_scale', dtype: 'float32', shape: [8, 1], values: dense(8) },
    ]);
    const report = await inspectFile(path);
    // Scales and zero points are read with their weight, not listed as layers of their own.
    assert.deepEqual(report.layers.map((l) => l.name), ['features.0.weight', 'proj.weight', 'q.weight']);
    assertTwoOfFour(layer(report, 'features.0.weight'), 1, 0);
    assert.equal(layer(report, 'features.0.weight').op, 'Conv2d');
    const fp8 = layer(report, 'proj.weight');
    assert.deepEqual([fp8.dtype, fp8.zeros, fp8.negativeZeros, fp8.validGroups, fp8.pass], ['float8e4m3fn', 128, 64, 64, true]);
    const q = layer(report, 'q.weight');
    assert.deepEqual([q.dtype, q.zeroPoint, q.zeros, q.eligible], ['int8', 'none', 0, true]);
  });

  test('int8 weights with weight_zero_point (compressed-tensors asymmetric): a code on its zero point is the zero', async () => {
    const dir = tempDir();
    // Two of every four codes on the zero point; the other two off it, one of them 0 where the zero point is not.
    const codes = (rows: number, cols: number, zp: (r: number, k: number) => number) =>
      Array.from({ length: rows * cols }, (_, i) => {
        const r = Math.floor(i / cols), k = i % cols, z = zp(r, k);
        return k % 4 < 2 ? z : k % 4 === 2 ? (z === 0 ? 5 : 0) : z > 0 ? z - 1 : z + 1;
      });
    const channel = (r: number) => r - 3;
    const group = (r: number, k: number) => r + 3 * Math.floor(k / 32) - 2;
    const grouped = codes(4, 64, group);
    // Row 1, group 3 (block 0): a code equal to block 1's zero point, not its own: not a zero.
    grouped[64 + 13] = group(1, 40);
    const path = writeSafetensors(join(dir, 'model.safetensors'), [
      { name: 'c.weight', dtype: 'int8', shape: [8, 32], values: codes(8, 32, channel) },
      { name: 'c.weight_zero_point', dtype: 'int8', shape: [8, 1], values: Array.from({ length: 8 }, (_, r) => channel(r)) },
      { name: 'g.weight', dtype: 'int8', shape: [4, 64], values: grouped },
      { name: 'g.weight_zero_point', dtype: 'int8', shape: [4, 2], values: Array.from({ length: 8 }, (_, i) => group(i >> 1, (i & 1) * 32)) },
      { name: 't.weight', dtype: 'uint8', shape: [4, 16], values: codes(4, 16, () => 128) },
      { name: 't.weight_zero_point', dtype: 'uint8', shape: [1], values: [128] },
      { name: 'b.weight', dtype: 'int8', shape: [4, 16], values: dense(64) },
      { name: 'b.weight_zero_point', dtype: 'int8', shape: [3], values: [0, 0, 0] },
      { name: 'o.weight', dtype: 'int8', shape: [4, 16], values: dense(64) },
      { name: 'o.weight_zero_point', dtype: 'int16', shape: [1], values: [300] },
      { name: 'f.weight', dtype: 'float16', shape: [4, 16], values: dense(64) },
      { name: 'f.weight_zero_point', dtype: 'int8', shape: [1], values: [0] },
    ]);
    const report = await inspectFile(path);
    assert.deepEqual(report.layers.map((l) => l.name), ['c.weight', 'g.weight', 't.weight', 'b.weight', 'o.weight', 'f.weight']);
    const c = layer(report, 'c.weight');
    // Row 3's zero point is 0: its zeros are ordinary ones, not zero-point zeros.
    assert.deepEqual([c.zeroPoint, c.zeros, c.zeroPointZeros, c.groups, c.validGroups, c.pass], ['per-channel', 128, 112, 64, 64, true]);
    const g = layer(report, 'g.weight');
    assert.deepEqual([g.zeroPoint, g.zeros, g.groups, g.validGroups, g.pass], ['per-block', 127, 64, 63, false]);
    const t = layer(report, 't.weight');
    assert.deepEqual([t.zeroPoint, t.zeros, t.validGroups, t.pass], ['per-tensor', 32, 16, true]);
    assert.equal(layer(report, 'b.weight').error, "zero points 'b.weight_zero_point' are [3] for a [4, 16] weight: neither one value, one per output channel, nor one per group along K");
    assert.equal(layer(report, 'o.weight').error, "zero points 'o.weight_zero_point': 300 is outside the int8 range of the weight (-128 to 127)");
    assert.equal(layer(report, 'f.weight').reason, "zero points (f.weight_zero_point) beside a float16 weight: only integer weights' zero points are read");
  });

  test('GPT-2 Conv1D weights ([in, out]) are grouped along axis 0 when config.json says model_type gpt2', async () => {
    const dir = tempDir();
    const path = writeSafetensors(join(dir, 'model.safetensors'), [{ name: 'h.0.attn.c_attn.weight', dtype: 'float16', shape: [64, 48], values: twoOfFourAlong([64, 48], 0) }]);
    const without = layer(await inspectFile(path), 'h.0.attn.c_attn.weight');
    assert.deepEqual([without.op, without.axis, without.pass], ['Linear', 1, false]);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }));
    const l = layer(await inspectFile(path), 'h.0.attn.c_attn.weight');
    assert.equal(l.op, 'Conv1D (GPT-2)');
    assertTwoOfFour(l, 0, 1);
  });

  test('threaded in parts and inline give the same numbers', async () => {
    const dir = tempDir();
    const dims = [256, 512];
    const values = twoOfFourAlong(dims, 1).map((v, i) => (i % 997 === 0 ? 3 : v));
    const path = writeSafetensors(join(dir, 'model.safetensors'), [{ name: 'w.weight', dtype: 'float16', shape: dims, values }]);
    const inline = layer(await inspectFile(path), 'w.weight');
    const threaded = layer(await inspectModel(path, { workers: 1, inlineBelow: 0, partElements: 1 << 14 }), 'w.weight');
    assert.ok(!inline.pass && inline.validGroups > 0);
    for (const key of ['groups', 'validGroups', 'zeros', 'retainedMagnitude', 'countHistogram', 'blocks', 'grid'] as const) assert.deepEqual(threaded[key], inline[key], key);
  });
});

describe('a sharded checkpoint through model.safetensors.index.json', () => {
  test('each tensor read from the shard the index names; a missing one fails its layer; an unlisted one is a warning', async () => {
    const dir = tempDir();
    writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [
      { name: 'a.weight', dtype: 'float16', shape: [8, 16], values: twoOfFourAlong([8, 16], 1) },
      { name: 'stray.weight', dtype: 'float16', shape: [4, 4], values: dense(16) },
    ]);
    writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [{ name: 'b.weight', dtype: 'float32', shape: [8, 16], values: dense(128) }]);
    const index = join(dir, 'model.safetensors.index.json');
    writeFileSync(index, JSON.stringify({ metadata: { total_size: 0 }, weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors', 'c.weight': 'model-00002-of-00002.safetensors' } }));
    const report = await inspectFile(index);
    assert.deepEqual(report.layers.map((l) => [l.name, l.pass, l.error]), [
      ['a.weight', true, null],
      ['b.weight', false, null],
      ['c.weight', false, "the index places it in 'model-00002-of-00002.safetensors', which does not hold it"],
    ]);
    assertTwoOfFour(layer(report, 'a.weight'), 1, 0);
    assert.deepEqual(report.warnings, ["shard 'model-00001-of-00002.safetensors' holds 'stray.weight', which the index does not list: not inspected"]);
    // An unreadable layer counts as failing in the gate.
    const run = cli('inspect', index, '--fail-under', '0.1');
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout + run.stderr, /c\.weight/);
  });

  test('a shard outside the checkpoint folder is refused', async () => {
    const dir = tempDir();
    const index = join(dir, 'model.safetensors.index.json');
    writeFileSync(index, JSON.stringify({ weight_map: { 'a.weight': '../elsewhere.safetensors' } }));
    const l = layer(await inspectFile(index), 'a.weight');
    assert.match(l.error!, /^shard '\.\.\/elsewhere\.safetensors': external data location '\.\.\/elsewhere\.safetensors' contains '\.\.'/);
  });
});

describe('the format\'s safety rules: a bad header fails the file, a bad tensor its layer', () => {
  const f16 = (n: number) => new Uint8Array(2 * n);
  for (const [what, bytes, message] of [
    ['a header size over the cap', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true); return b; })(), `the header claims ${MAX_HEADER_BYTES + 1} bytes, over the format's cap of ${MAX_HEADER_BYTES}`],
    ['a header longer than the file', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), 'the header claims 1000 bytes but the file has 8 after the size field (incomplete download or copy?)'],
    ['a header that is not JSON', (() => { const t = new TextEncoder().encode('{"a": [1, 2'); const b = new Uint8Array(8 + t.length); new DataView(b.buffer).setBigUint64(0, BigInt(t.length), true); b.set(t, 8); return b; })(), /^the header is not valid JSON/],
  ] as const) {
    test(`${what}: a clear error naming the file`, async () => {
      const path = join(tempDir(), 'bad.safetensors');
      writeFileSync(path, bytes);
      await assert.rejects(inspectModel(path), (err: unknown) => {
        assert.ok(err instanceof ModelError);
        assert.equal(err.file, path);
        if (typeof message === 'string') assert.equal(err.problem, message);
        else assert.match(err.problem, message);
        return true;
      });
    });
  }

  test('overlapping tensors, offsets past the end and a byte count that does not match fail their layers only', async () => {
    const path = join(tempDir(), 'model.safetensors');
    writeFileSync(path, safetensorsBytes([{ name: 'a.weight', dtype: 'float16', shape: [4, 8], values: twoOfFourAlong([4, 8], 1) }], {
      raw: [
        { name: 'short.weight', entry: { dtype: 'F16', shape: [4, 8], data_offsets: [64, 120] }, bytes: f16(28) },
        { name: 'over.weight', entry: { dtype: 'F16', shape: [4, 4], data_offsets: [32, 64] } },
        { name: 'past.weight', entry: { dtype: 'F16', shape: [4, 8], data_offsets: [120, 10000] } },
        { name: 'odd.weight', entry: { dtype: 'F4', shape: [4, 8], data_offsets: [0, 0] } },
        { name: 'c.weight', entry: { dtype: 'F16', shape: [2, 2], data_offsets: [8, 'x'] } },
      ],
    }));
    const report = await inspectFile(path);
    assert.deepEqual(report.layers.map((l) => [l.name, l.error]), [
      ['a.weight', "its bytes overlap those of 'over.weight'"],
      ['short.weight', 'F16 shape [4, 8] needs 64 bytes but data_offsets [64, 120] hold 56'],
      ['over.weight', "its bytes [32, 64) overlap those of 'a.weight' [0, 64)"],
      ['past.weight', 'its data_offsets [120, 10000] run past the end of the data (120 bytes after the header)'],
      ['odd.weight', 'dtype F4 is not read by this tool'],
      ['c.weight', 'its data_offsets [8,"x"] are not two non-negative integers'],
    ]);
    // The bytes of the tensor that failed are claimed by none that stands.
    assert.deepEqual(report.warnings, ['the last 56 bytes of the file belong to no tensor']);
    // Unreadable layers count as failing: the gate fails.
    assert.equal(report.summary.errors, 6);
    assert.equal(report.summary.compliance, 0);
  });
});

describe('the CLI on a checkpoint', () => {
  test('inspect prints the table and gates; convert and export refuse it naming the file (exit 2)', () => {
    const dir = tempDir();
    const path = writeSafetensors(join(dir, 'model.safetensors'), [
      { name: 'up.weight', dtype: 'float16', shape: [8, 16], values: twoOfFourAlong([8, 16], 1) },
      { name: 'down.weight', dtype: 'float16', shape: [16, 8], values: dense(128) },
    ]);
    const table = cli('inspect', path);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /up\.weight/);
    assert.match(table.stdout, /down\.weight/);
    const gate = cli('inspect', path, '--fail-under', '0.9');
    assert.equal(gate.code, 1);
    for (const command of ['convert', 'export']) {
      const run = cli(command, path);
      assert.equal(run.code, 2, `${command}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, new RegExp(`model\\.safetensors: a safetensors checkpoint: ${command} reads ONNX models`));
    }
  });
});

describe('compressed-tensors sparse-24-bitmask checkpoints, read natively', () => {
  /** compressed-tensors' writer: per group of 4 the 2 largest magnitudes kept, their values in place order, bits LSB first. */
  function compress24(rows: number, cols: number, dense: number[]): { values: number[]; bitmask: number[] } {
    const values: number[] = [];
    const bitmask = new Array(rows * Math.ceil(cols / 8)).fill(0);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < cols; g += 4) {
        const idx = [0, 1, 2, 3].sort((a, b) => Math.abs(dense[r * cols + g + b]) - Math.abs(dense[r * cols + g + a]) || a - b).slice(0, 2).sort((a, b) => a - b);
        for (const j of idx) {
          values.push(dense[r * cols + g + j]);
          bitmask[r * Math.ceil(cols / 8) + ((g + j) >> 3)] |= 1 << ((g + j) & 7);
        }
      }
    }
    return { values, bitmask };
  }
  const rows = 6;
  const cols = 16;
  const prefix = 'model.layers.0.mlp.down_proj';
  const triplet = (values: number[], bitmask: number[], shape = [rows, cols]) => [
    { name: `${prefix}.bitmask`, dtype: 'uint8' as const, shape: [rows, Math.ceil(cols / 8)], values: bitmask },
    { name: `${prefix}.compressed`, dtype: 'float16' as const, shape: [rows, cols / 2], values },
    { name: `${prefix}.shape`, dtype: 'int64' as const, shape: [2, 1], values: shape },
  ];

  test('a weight the writer compressed is the dense [rows, cols] Linear, 2:4 verified from its bitmask and values', async () => {
    // Three zeros in one group: the writer keeps one of them (its value zero) beside the one non-zero.
    const denseValues = dense(rows * cols).map((v, i) => (i >= 4 && i <= 6 ? 0 : v));
    const { values, bitmask } = compress24(rows, cols, denseValues);
    const dir = tempDir();
    const path = writeSafetensors(join(dir, 'model.safetensors'), triplet(values, bitmask));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ quantization_config: { quant_method: 'compressed-tensors', sparsity_config: { format: 'sparse-24-bitmask', sparsity_structure: '2:4' } } }));
    const report = await inspectFile(path);
    assert.deepEqual(report.layers.map((l) => l.name), [`${prefix}.weight`]);
    const l = report.layers[0];
    assert.deepEqual([l.op, l.shape, l.dtype, l.axis, l.groups, l.validGroups, l.pass], ['Linear', [rows, cols], 'float16', 1, 24, 24, true]);
    // Half the places are not kept; one kept value is zero as well.
    assert.equal(l.zeros, (rows * cols) / 2 + 1);
    assert.deepEqual([l.stored?.format, l.stored?.valuesBytes, l.stored?.indexBytes, l.stored?.denseBytes], ['compressed-tensors', rows * 8 * 2, rows * 2, rows * cols * 2]);
    assert.match(l.stored!.text, /^stored compressed \(compressed-tensors 2:4\): 96 B values \+ 12 B bitmask = 108 B/);
  });

  test('a bitmask that keeps 3 of 4 in a group (and 1 in the next) is found failing 2:4, exactly there', async () => {
    const { values, bitmask } = compress24(rows, cols, dense(rows * cols));
    // Row 2, groups 0 and 1: bits 0,1,2 and 4 instead of two in each (the row still keeps cols / 2).
    const at = 2 * Math.ceil(cols / 8);
    bitmask[at] = 0b0001_0111;
    const path = writeSafetensors(join(tempDir(), 'model.safetensors'), triplet(values, bitmask));
    const l = (await inspectFile(path)).layers[0];
    assert.deepEqual([l.groups, l.validGroups, l.pass], [24, 23, false]);
  });

  test('a shape that disagrees with the tensors, or a bitmask row that keeps too few places, fails the layer naming it', async () => {
    const { values, bitmask } = compress24(rows, cols, dense(rows * cols));
    const wrong = layer(await inspectFile(writeSafetensors(join(tempDir(), 'model.safetensors'), triplet(values, bitmask, [rows, 32]))), `${prefix}.weight`);
    assert.equal(wrong.error, `compressed weight '${prefix}.weight' (sparse-24-bitmask): '${prefix}.compressed' (values) is [6, 8]; the dense shape [6, 32] needs [6, 16]`);
    const short = bitmask.slice();
    short[3 * Math.ceil(cols / 8)] = 0b0000_0011; // row 3 keeps 2 + 4 places, not 8
    const l = layer(await inspectFile(writeSafetensors(join(tempDir(), 'model.safetensors'), triplet(values, short))), `${prefix}.weight`);
    assert.equal(l.error, `compressed weight '${prefix}.weight' (sparse-24-bitmask): bitmask row 3 keeps 6 places but its values hold 8`);
  });
});

describe('decompress of a compressed-tensors checkpoint: dense safetensors any loader reads', () => {
  const rows = 8;
  const cols = 16;
  function compressed(prefix: string, denseValues: number[]) {
    const values: number[] = [];
    const bitmask = new Array(rows * 2).fill(0);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < cols; g += 4) {
        const idx = [0, 1, 2, 3].sort((a, b) => Math.abs(denseValues[r * cols + g + b]) - Math.abs(denseValues[r * cols + g + a]) || a - b).slice(0, 2).sort((a, b) => a - b);
        for (const j of idx) {
          values.push(denseValues[r * cols + g + j]);
          bitmask[r * 2 + ((g + j) >> 3)] |= 1 << ((g + j) & 7);
        }
      }
    }
    // The dense weight the format stands for: zeros where nothing is kept.
    const expected = new Array(rows * cols).fill(0);
    let at = 0;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if ((bitmask[r * 2 + (c >> 3)] >> (c & 7)) & 1) expected[r * cols + c] = values[at++];
    return {
      expected,
      tensors: [
        { name: `${prefix}.bitmask`, dtype: 'uint8' as const, shape: [rows, 2], values: bitmask },
        { name: `${prefix}.compressed`, dtype: 'float16' as const, shape: [rows, cols / 2], values },
        { name: `${prefix}.shape`, dtype: 'int64' as const, shape: [2, 1], values: [rows, cols] },
      ],
    };
  }

  test('one file: the triplet becomes the dense weight, the rest is copied; the output inspects as 2:4; nothing replaces the input', async () => {
    const dir = tempDir();
    const a = compressed('model.layers.0.mlp.up_proj', dense(rows * cols));
    const norm = { name: 'model.norm.weight', dtype: 'float32' as const, shape: [cols], values: dense(cols) };
    const path = writeSafetensors(join(dir, 'model.safetensors'), [...a.tensors, norm], { metadata: { format: 'pt' } });
    const before = readFileSync(path);
    const run = cli('decompress', path, '--format', 'json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    const output = join(dir, 'model.decompressed.safetensors');
    assert.equal(report.output, output);
    assert.deepEqual(report.weights, [{ name: 'model.layers.0.mlp.up_proj.weight', dims: [rows, cols], dtype: 'float16', pattern: '2:4' }]);
    assert.deepEqual(readFileSync(path), before, 'the input is untouched');
    // Byte for byte what a writer of the dense tensors produces, in the same order, with the same metadata.
    const want = safetensorsBytes([{ name: 'model.layers.0.mlp.up_proj.weight', dtype: 'float16', shape: [rows, cols], values: a.expected }, norm], { metadata: { format: 'pt' } });
    assert.deepEqual(new Uint8Array(readFileSync(output)), want);
    const l = layer(await inspectFile(output), 'model.layers.0.mlp.up_proj.weight');
    assert.deepEqual([l.pass, l.stored], [true, null]);
    // Again without --force: refused, the first output stays.
    const again = cli('decompress', path);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists/);
  });

  test('sharded: the same shards and a new index in an output folder, config.json copied without its sparsity_config', async () => {
    const dir = tempDir();
    const a = compressed('a', dense(rows * cols, 3));
    const b = compressed('b', dense(rows * cols, 5));
    writeSafetensors(join(dir, 's1.safetensors'), a.tensors);
    writeSafetensors(join(dir, 's2.safetensors'), [...b.tensors, { name: 'c.weight', dtype: 'float16', shape: [4, 4], values: dense(16) }]);
    const map: Record<string, string> = {};
    for (const t of a.tensors) map[t.name] = 's1.safetensors';
    for (const t of [...b.tensors, { name: 'c.weight' }]) map[t.name] = 's2.safetensors';
    const index = join(dir, 'model.safetensors.index.json');
    writeFileSync(index, JSON.stringify({ weight_map: map }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', quantization_config: { quant_method: 'compressed-tensors', format: 'dense', sparsity_config: { format: 'sparse-24-bitmask' } } }));
    const out = join(dir, 'dense');
    const run = cli('decompress', index, '--out', out, '--format', 'json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.files.map((f: string) => f.slice(out.length + 1)), ['s1.safetensors', 's2.safetensors', 'model.safetensors.index.json', 'config.json']);
    const newIndex = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    assert.deepEqual(newIndex.weight_map, { 'a.weight': 's1.safetensors', 'b.weight': 's2.safetensors', 'c.weight': 's2.safetensors' });
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), { model_type: 'llama' });
    const report2 = await inspectFile(join(out, 'model.safetensors.index.json'));
    assert.deepEqual(report2.layers.map((l) => [l.name, l.pass, l.stored]), [['a.weight', true, null], ['b.weight', true, null], ['c.weight', false, null]]);
    assert.deepEqual(new Uint8Array(readFileSync(join(out, 's1.safetensors'))), safetensorsBytes([{ name: 'a.weight', dtype: 'float16', shape: [rows, cols], values: a.expected }]));
  });

  test('a checkpoint with no compressed weight is refused naming the file; no output is left', () => {
    const dir = tempDir();
    const path = writeSafetensors(join(dir, 'model.safetensors'), [{ name: 'w.weight', dtype: 'float16', shape: [4, 4], values: dense(16) }]);
    const run = cli('decompress', path);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /model\.safetensors: no sparse-24-bitmask weights/);
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  });
});
