// Shared test support: temporary folders and one-call inspection of models built in code.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type ExternalSink, type ModelSpec, encodeModel, writeModel } from './builder';
import { MemorySource } from '../../src/engine/onnx/source';
import { type InspectOptions, type InspectReport, inspectModel, inspectSource } from '../../src/engine/sparsity/inspect';

/** A fresh temporary folder, removed when the test file ends. */
export function tempDir(prefix = 'sparsity-lens-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the model (and its external files) into a fresh temporary folder; returns the model's path. */
export function writeTempModel(spec: ModelSpec, external?: ExternalSink, name = 'model.onnx'): string {
  const path = join(tempDir(), name);
  writeModel(path, spec, external);
  return path;
}

/** Inspects a model held in memory (always scanned inline). */
export function inspectSpec(spec: ModelSpec, options: InspectOptions = {}): Promise<InspectReport> {
  return inspectSource(new MemorySource('model.onnx', encodeModel(spec)), options);
}

/** Inspects a model file, inline unless `options.workers` asks for threads. */
export function inspectFile(path: string, options: InspectOptions = {}): Promise<InspectReport> {
  return inspectModel(path, { workers: 0, ...options });
}

export function layer(report: InspectReport, name: string) {
  const found = report.layers.find((l) => l.name === name);
  if (!found) throw new Error(`no layer '${name}' in report: ${report.layers.map((l) => l.name).join(', ')}`);
  return found;
}
