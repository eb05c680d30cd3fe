// Verification of a written output, before it is put in place: every converted layer re-read and checked against
// the pattern, and (for models small enough to run) the outputs of input and output compared in ONNX Runtime. Each
// output format adds its own checks on top (src/engine/convert/formats/).
import { CancelledError } from '../errors';
import { inspectModel } from '../sparsity/inspect';
import type { Pattern } from '../sparsity/pattern';
import type { VerifyContext } from './formats/format';
import { type RuntimeComparison, compareOutputs } from './runtime';
import type { ConvertReport } from './types';

/** More layers than this (function calls count each time) and the models are not run in ONNX Runtime. */
export const RUNTIME_LAYER_LIMIT = 2048;

export function checkCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

/** Re-reads `output` (the written model or its decompressed form) and checks that every converted layer passes the pattern. */
export async function verifyLayers(report: ConvertReport, output: string, pattern: Pattern, signal?: AbortSignal): Promise<void> {
  const after = await inspectModel(output, { pattern, signal });
  const byName = new Map(after.layers.map((l) => [l.name, l]));
  let ok = true;
  for (const change of report.layers) {
    const l = byName.get(change.name);
    if (change.action === 'skip') continue;
    change.passesAfter = l ? l.pass : false;
    if (!l?.pass) ok = false;
  }
  report.verified = ok;
}

/**
 * Runs models `a` and `b` in ONNX Runtime on the same generated inputs and compares every output, when the input is
 * small enough (bounded work: a small file whose functions expand to thousands of layer calls costs as much as a large one).
 */
export async function compareRuntime(v: VerifyContext, a: string, b: string): Promise<RuntimeComparison> {
  checkCancelled(v.options.signal);
  const { report } = v;
  if (report.layers.length > RUNTIME_LAYER_LIMIT) {
    return {
      ran: false,
      note: `the model has ${report.layers.length} layers (calls through functions included), more than ${RUNTIME_LAYER_LIMIT}: outputs were not compared`,
      outputs: [],
    };
  }
  const { dims, verifyRuntime: runtime, signal } = v.options;
  return compareOutputs(a, b, v.model, { dims, runtime, signal, size: report.summary.sizeBefore });
}
