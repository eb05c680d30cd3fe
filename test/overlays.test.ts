// Overlays for the viewers users already open (issue 16): Netron's `netron:attachment` and Model Explorer's node
// data, written by `inspect --format netron|model-explorer` and read here by the viewers' own matching rules.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { cli } from './support/cli';
import { graph, node, valueInfo, writeModel } from './support/builder';
import { tempDir } from './support/models';
import { tensor, twoOfFourAlong } from './support/patterns';
import { writeSafetensors } from './support/safetensors';

const SAMPLE = join(__dirname, '..', '..', 'media', 'sample.onnx');

/** Netron's metadata.js container: items keyed `kind::target`, the target's first line; items without kind or target dropped. */
function netronEntries(data: { signature: string; metrics: { kind: string; target: string; name: string; value: unknown; type?: string }[] }) {
  assert.equal(data.signature, 'netron:attachment');
  const entries = new Map<string, Map<string, unknown>>();
  for (const item of data.metrics) {
    assert.ok(item.kind && 'target' in item && item.name, `an item Netron would drop: ${JSON.stringify(item)}`);
    const key = `${item.kind}::${item.target}`;
    if (!entries.has(key)) entries.set(key, new Map());
    assert.ok(!entries.get(key)!.has(item.name), `a duplicate metric Netron would overwrite: ${key} ${item.name}`);
    entries.get(key)!.set(item.name, item.value);
  }
  return entries;
}

describe('inspect --format netron', () => {
  test('every layer node and weight of the sample gets its figures, keyed as Netron matches them', () => {
    const run = cli('inspect', SAMPLE, '--format', 'netron');
    assert.equal(run.code, 0, run.stderr);
    const entries = netronEntries(JSON.parse(run.stdout));
    const model = onnx.ModelProto.decode(readFileSync(SAMPLE));
    const nodes = new Set(model.graph!.node!.map((n) => `node::${n.name}`));
    const tensors = new Set(model.graph!.initializer!.map((t) => `tensor::${t.name}`));
    for (const key of entries.keys()) assert.ok(key === 'model::' || nodes.has(key) || tensors.has(key), `target '${key}' is no node or tensor of the model`);
    const report = JSON.parse(cli('inspect', SAMPLE, '--format', 'json').stdout);
    for (const l of report.layers) {
      const figures = entries.get(`node::${l.node.name}`)!;
      assert.ok(figures, `no figures for ${l.name}`);
      if (l.compliance !== null) {
        assert.equal(figures.get('2:4 compliance'), l.compliance);
        assert.equal(figures.get('2:4 valid groups'), `${l.validGroups}/${l.groups}`);
      } else assert.match(String(figures.get('2:4 status')), /^(INELIGIBLE|ERROR): /);
    }
    assert.equal(entries.get('node::conv1')!.get('2:4 status'), 'PASS');
    assert.equal(entries.get('node::dw')!.get('2:4 status'), 'INELIGIBLE: grouped/depthwise convolution (group=32): 1 input channel(s) per group < M=4');
  });

  test('an unnamed layer node is said, and its figures sit on its weight tensor', () => {
    const dir = tempDir();
    const path = join(dir, 'm.onnx');
    writeModel(path, { graph: graph({ name: 'g', nodes: [node('MatMul', ['X', 'W'], ['Y'])], inputs: [valueInfo('X', 'float32', [1, 8])], outputs: [valueInfo('Y', 'float32', [1, 4])], initializers: [tensor('W', 'float32', [8, 4], twoOfFourAlong([8, 4], 0))] }) });
    const data = JSON.parse(cli('inspect', path, '--format', 'netron').stdout);
    const entries = netronEntries(data);
    assert.equal(entries.get('tensor::W')!.get('2:4 status'), 'PASS');
    assert.ok(![...entries.keys()].some((k) => k.startsWith('node::')));
    assert.ok(data.metadata.some((m: { name: string; value: string }) => m.name === 'sparsity-lens note' && m.value === '1 layer node has no name: Netron shows their figures on the weight tensor only'));
  });

  test('a safetensors checkpoint: figures on its tensors (Netron opens safetensors too)', () => {
    const path = writeSafetensors(join(tempDir(), 'model.safetensors'), [{ name: 'q.weight', dtype: 'float16', shape: [8, 16], values: twoOfFourAlong([8, 16], 1) }]);
    const entries = netronEntries(JSON.parse(cli('inspect', path, '--format', 'netron').stdout));
    assert.deepEqual([...entries.keys()], ['model::', 'tensor::q.weight']);
    assert.equal(entries.get('tensor::q.weight')!.get('2:4 compliance'), 1);
  });
});

describe('inspect --format model-explorer', () => {
  test('node data keyed by node name (or first output), compliance in percent, thresholds ascending; the rest said in its name', () => {
    const run = cli('inspect', SAMPLE, '--format', 'model-explorer');
    assert.equal(run.code, 0, run.stderr);
    const data = JSON.parse(run.stdout);
    const model = onnx.ModelProto.decode(readFileSync(SAMPLE));
    const keys = new Set(model.graph!.node!.flatMap((n) => [n.name!, ...(n.output ?? [])]));
    const report = JSON.parse(cli('inspect', SAMPLE, '--format', 'json').stdout);
    const scanned = report.layers.filter((l: { compliance: number | null }) => l.compliance !== null);
    assert.deepEqual(Object.keys(data.results).sort(), scanned.map((l: { node: { name: string } }) => l.node.name).sort());
    for (const [key, { value }] of Object.entries(data.results as Record<string, { value: number }>)) {
      assert.ok(keys.has(key), key);
      assert.ok(value >= 0 && value <= 100);
    }
    assert.equal(data.results.conv1.value, 100);
    assert.equal(data.results.conv2.value, 99.78);
    assert.deepEqual(data.thresholds.map((t: { value: number }) => t.value), [50, 99.99, 100]);
    assert.equal(data.name, `2:4 compliance, % (Sparsity Lens; ${report.layers.length - scanned.length} layers not coloured: ineligible, unreadable or without a graph node)`);
  });
});
