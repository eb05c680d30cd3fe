// The panel's report cache (src/extension/reportCache.ts, issue 14 "Scale"): keyed by model and scan settings, valid
// only while every file the report read keeps its size, mtime and inode, bounded in size, corrupt entries ignored,
// and never written beside the model.
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, readFileSync, readdirSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { ExternalSink, graph, makeTensor, node, randomWeights, seededRandom, valueInfo } from './support/builder';
import { inspectFile, tempDir, writeTempModel } from './support/models';
import { type FileStamp, reportInputFiles, stampFiles } from '../src/engine/inputFiles';
import { ReportCache, scanKey } from '../src/extension/reportCache';
import type { EngineSettings, InspectSettings } from '../src/protocol';

const ENGINE: EngineSettings = { gridMax: 128, nearlyThreshold: 0.99, workers: 0 };
const SETTINGS: InspectSettings = { pattern: '2:4', hardware: 'a100', dims: {} };
const KEY = scanKey(SETTINGS, ENGINE);

function twoLayerSpec(seed: number, external?: ExternalSink) {
  const rnd = seededRandom(seed);
  const storage = external ? { external: 'weights.bin' } : undefined;
  return {
    graph: graph({
      name: 'two',
      nodes: [node('MatMul', ['X', 'W0'], ['H'], {}, { name: 'fc0' }), node('MatMul', ['H', 'W1'], ['Y'], {}, { name: 'fc1' })],
      inputs: [valueInfo('X', 'float32', [1, 16])],
      outputs: [valueInfo('Y', 'float32', [1, 16])],
      initializers: [0, 1].map((i) => makeTensor({ name: `W${i}`, dtype: 'float32', dims: [16, 16], values: randomWeights(256, rnd), storage }, external)),
    }),
  };
}

/** A model, its report and its stamps, and an empty cache in a folder of its own. */
async function setup(maxBytes?: number) {
  const model = writeTempModel(twoLayerSpec(1));
  const inputs = stampFiles(reportInputFiles(model));
  const report = await inspectFile(model);
  const cache = new ReportCache(join(tempDir('sparsity-lens-cache-'), 'report-cache'), '0.1.0', maxBytes);
  return { model, inputs, report, cache };
}

describe('report cache (issue 14, Scale)', () => {
  test('an unchanged model gives back its report and when it was scanned', async () => {
    const { model, inputs, report, cache } = await setup();
    assert.equal(cache.get(model, KEY), undefined);
    assert.equal(cache.put(model, KEY, inputs, report, 1_700_000_000_000), true);
    const hit = cache.get(model, KEY)!;
    assert.equal(hit.scannedAt, 1_700_000_000_000);
    assert.deepEqual(hit.report, JSON.parse(JSON.stringify(report)));
    assert.deepEqual(hit.report.layers.map((l) => l.name), ['fc0', 'fc1']);
  });

  test('keyed by model and scan settings: another pattern, batch, hardware or grid misses; the deploy target does not count', async () => {
    const { model, inputs, report, cache } = await setup();
    cache.put(model, KEY, inputs, report, 1);
    assert.equal(cache.get(model, scanKey({ ...SETTINGS, pattern: '1:4' }, ENGINE)), undefined);
    assert.equal(cache.get(model, scanKey({ ...SETTINGS, batch: 8 }, ENGINE)), undefined);
    assert.equal(cache.get(model, scanKey({ ...SETTINGS, hardware: 'h100' }, ENGINE)), undefined);
    assert.equal(cache.get(model, scanKey({ ...SETTINGS, precision: 'fp16' }, ENGINE)), undefined);
    assert.equal(cache.get(model, scanKey(SETTINGS, { ...ENGINE, gridMax: 64 })), undefined);
    assert.equal(cache.get(model, scanKey(SETTINGS, { ...ENGINE, workers: 4 })) !== undefined, true, 'threads do not change the numbers');
    assert.equal(cache.get(model, scanKey({ ...SETTINGS, target: 'cusparselt' }, ENGINE)) !== undefined, true, 'a target only re-colours');
    // Another model with the same name elsewhere is another entry.
    const other = join(tempDir(), 'model.onnx');
    copyFileSync(model, other);
    assert.equal(cache.get(other, KEY), undefined);
  });

  test('a model whose size changed misses, and its entry is removed', async () => {
    const { model, inputs, report, cache } = await setup();
    cache.put(model, KEY, inputs, report, 1);
    const { mtime } = statSync(model);
    appendFileSync(model, Buffer.from([0]));
    utimesSync(model, mtime, mtime);
    assert.equal(cache.get(model, KEY), undefined);
    assert.deepEqual(readdirSync(cache.folder), []);
  });

  test('a model touched (same bytes, new mtime) misses', async () => {
    const { model, inputs, report, cache } = await setup();
    cache.put(model, KEY, inputs, report, 1);
    const later = new Date(statSync(model).mtimeMs + 5000);
    utimesSync(model, later, later);
    assert.equal(cache.get(model, KEY), undefined);
  });

  test('a model replaced by another file of the same size and mtime (a new inode) misses', async () => {
    const { model, report, cache } = await setup();
    // A whole second, which both files can be given exactly.
    const time = new Date(Math.floor(Date.now() / 1000) * 1000 - 10_000);
    utimesSync(model, time, time);
    cache.put(model, KEY, stampFiles(reportInputFiles(model)), report, 1);
    const before = statSync(model);
    // Same size, same time, other weights: only the inode tells.
    const replacement = join(dirname(model), 'replacement.onnx');
    writeFileSync(replacement, readFileSync(writeTempModel(twoLayerSpec(2))));
    assert.equal(statSync(replacement).size, before.size);
    utimesSync(replacement, time, time);
    renameSync(replacement, model);
    const after = statSync(model);
    assert.equal(after.size, before.size);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.notEqual(after.ino, before.ino);
    assert.equal(cache.get(model, KEY), undefined);
  });

  test('a model with external data lists its data file; a changed data file misses', async () => {
    const sink = new ExternalSink();
    const model = writeTempModel(twoLayerSpec(3, sink), sink);
    const data = join(dirname(model), 'weights.bin');
    assert.deepEqual(reportInputFiles(model), [model, data]);
    const inputs = stampFiles(reportInputFiles(model));
    const report = await inspectFile(model);
    const cache = new ReportCache(tempDir('sparsity-lens-cache-'), '0.1.0');
    cache.put(model, KEY, inputs, report, 1);
    assert.ok(cache.get(model, KEY));
    const later = new Date(statSync(data).mtimeMs + 5000);
    utimesSync(data, later, later);
    assert.equal(cache.get(model, KEY), undefined);
  });

  test('stamps taken before a scan during which the model changed are never served', async () => {
    const { model, report, cache } = await setup();
    const stale: FileStamp[] = stampFiles([model]);
    appendFileSync(model, Buffer.from([0]));
    cache.put(model, KEY, stale, report, 1);
    assert.equal(cache.get(model, KEY), undefined);
  });

  test('the folder stays under its bound: the least recently used entry goes first; an entry over the bound is not stored', async () => {
    const first = await setup();
    const entryBytes = Buffer.byteLength(JSON.stringify(first.report)) + 2048;
    // Room for two entries, not three.
    const cache = new ReportCache(first.cache.folder, '0.1.0', Math.floor(entryBytes * 2.5));
    const models = [first.model, writeTempModel(twoLayerSpec(4)), writeTempModel(twoLayerSpec(5))];
    const stamps = models.map((m) => stampFiles(reportInputFiles(m)));
    const reports = await Promise.all(models.map((m) => inspectFile(m)));
    cache.put(models[0], KEY, stamps[0], reports[0], 1);
    cache.put(models[1], KEY, stamps[1], reports[1], 2);
    // Using the first makes the second the least recently used.
    const old = new Date(Date.now() - 60_000);
    for (const name of readdirSync(cache.folder)) utimesSync(join(cache.folder, name), old, old);
    assert.ok(cache.get(models[0], KEY));
    cache.put(models[2], KEY, stamps[2], reports[2], 3);
    assert.equal(readdirSync(cache.folder).length, 2);
    assert.ok(cache.size() <= cache.maxBytes);
    assert.ok(cache.get(models[0], KEY));
    assert.equal(cache.get(models[1], KEY), undefined);
    assert.ok(cache.get(models[2], KEY));
    const tiny = new ReportCache(tempDir('sparsity-lens-cache-'), '0.1.0', 1000);
    assert.equal(tiny.put(models[0], KEY, stamps[0], reports[0], 1), false);
    assert.equal(tiny.size(), 0);
  });

  test('a corrupt, truncated or foreign entry is ignored and removed', async () => {
    const { model, inputs, report, cache } = await setup();
    cache.put(model, KEY, inputs, report, 1);
    const [name] = readdirSync(cache.folder);
    const file = join(cache.folder, name);
    const good = readFileSync(file, 'utf8');
    for (const bad of ['not json', good.slice(0, good.length / 2), JSON.stringify({ ...JSON.parse(good), report: null }), JSON.stringify({ ...JSON.parse(good), inputs: [] }), JSON.stringify({ ...JSON.parse(good), model: '/elsewhere/model.onnx' })]) {
      writeFileSync(file, bad);
      assert.equal(cache.get(model, KEY), undefined, bad.slice(0, 40));
      assert.deepEqual(readdirSync(cache.folder), [], 'the bad entry is removed');
    }
    // Another version of the extension does not read this one's entries.
    cache.put(model, KEY, inputs, report, 1);
    assert.equal(new ReportCache(cache.folder, '0.2.0').get(model, KEY), undefined);
  });

  test('nothing is written beside the model', async () => {
    const { model, inputs, report, cache } = await setup();
    const before = readdirSync(dirname(model));
    cache.put(model, KEY, inputs, report, 1);
    cache.get(model, KEY);
    assert.deepEqual(readdirSync(dirname(model)), before);
    assert.equal(readdirSync(cache.folder).length, 1);
  });
});

