// Prune in place: every selected weight keeps its place, type and encoding; only its pruned values change.
import { compareRuntime, verifyLayers } from '../verify';
import type { OutputFormat, VerifyContext } from './format';

/** Re-reads the output, checks every converted layer passes, and compares both models' outputs in ONNX Runtime. */
export async function verifyInPlace(v: VerifyContext): Promise<void> {
  await verifyLayers(v.report, v.staged, v.pattern, v.options.signal);
  v.report.runtime = await compareRuntime(v, v.input, v.staged);
}

export const pruneFormat: OutputFormat<never> = {
  mode: 'prune',
  action: (pass) => (pass ? 'unchanged' : 'prune'),
  verify: (v) => verifyInPlace(v),
};
