// The extension's engine worker outside VS Code (EngineClient only needs an output channel): jobs run, cancel
// works, and when the worker dies the pending request fails with a retryable error and the next one restarts it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type * as vscode from 'vscode';
import { CancelledJob, EngineClient, WorkerDiedError } from '../src/extension/engineClient';

const ROOT = join(__dirname, '..', '..');
const SAMPLE = join(ROOT, 'media', 'sample.onnx');
const SETTINGS = { pattern: '2:4', hardware: 'a100', dims: {} };
const ENGINE = { gridMax: 128, nearlyThreshold: 0.99, workers: 0 };

function channel(lines: string[]): vscode.OutputChannel {
  return { appendLine: (line: string) => lines.push(line) } as unknown as vscode.OutputChannel;
}

function cancellation() {
  let listener: (() => void) | undefined;
  const token = { isCancellationRequested: false, onCancellationRequested: (fn: () => void) => ((listener = fn), { dispose() {} }) } as unknown as vscode.CancellationToken;
  return { token, cancel: () => listener?.() };
}

describe('the engine worker of the extension', () => {
  test('inspects the sample with progress, lists its layers, and reads a group region', async () => {
    const lines: string[] = [];
    const engine = new EngineClient(ROOT, channel(lines));
    try {
      const listed = await engine.request<'layers'>({ type: 'layers', path: SAMPLE });
      assert.deepEqual(listed.layers.map((l) => l.name), ['conv1', 'conv2', 'dw', 'conv3', 'fc1', 'fc2', 'fc3', 'head']);
      const reply = await engine.request<'inspected'>({ type: 'inspect', path: SAMPLE, settings: SETTINGS, engine: ENGINE });
      assert.equal(reply.report.summary.passing, 3);
      assert.equal(reply.report.summary.nearlyPassing, 1);
      assert.ok(reply.report.projection, 'the panel always gets the projection');
      const region = await engine.request<'region'>({ type: 'region', path: SAMPLE, pattern: '2:4', region: { layer: 'fc1', row0: 0, row1: 2, group0: 0, group1: 4, position: 0 } });
      assert.equal(region.groups.counts.length, 8);
      assert.ok(region.groups.counts.every((c) => c <= 2), 'fc1 passes 2:4');
      assert.ok(lines.some((l) => l.includes('inspected')), lines.join('\n'));
    } finally {
      await engine.dispose();
    }
  });

  test('a cancelled job ends with CancelledJob', async () => {
    const engine = new EngineClient(ROOT, channel([]));
    try {
      const { token, cancel } = cancellation();
      const pending = engine.request<'inspected'>({ type: 'inspect', path: SAMPLE, settings: SETTINGS, engine: ENGINE }, { token });
      cancel();
      await assert.rejects(pending, (err) => err instanceof CancelledJob);
    } finally {
      await engine.dispose();
    }
  });

  test('when the worker dies, the pending request fails with a retryable error and the next request restarts it', async () => {
    const lines: string[] = [];
    const engine = new EngineClient(ROOT, channel(lines));
    try {
      const pending = engine.request<'inspected'>({ type: 'inspect', path: SAMPLE, settings: SETTINGS, engine: ENGINE });
      // Kill the worker thread under the running job, as an out-of-memory exit would.
      await (engine as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      await assert.rejects(pending, (err) => err instanceof WorkerDiedError && /engine worker stopped/.test(err.message) && /restart/.test(err.message));
      const again = await engine.request<'inspected'>({ type: 'inspect', path: SAMPLE, settings: SETTINGS, engine: ENGINE });
      assert.equal(again.report.summary.layers, 8);
      assert.equal(lines.filter((l) => l === 'engine worker started').length, 2, lines.join('\n'));
    } finally {
      await engine.dispose();
    }
  });

  test('a bad model fails the request with a message naming the file', async () => {
    const engine = new EngineClient(ROOT, channel([]));
    try {
      await assert.rejects(engine.request<'inspected'>({ type: 'inspect', path: join(ROOT, 'README.md'), settings: SETTINGS, engine: ENGINE }), /README\.md: /);
    } finally {
      await engine.dispose();
    }
  });
});
