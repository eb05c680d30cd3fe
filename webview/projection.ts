// The end-to-end projection as the panel states it (issue 14): the figure with its hardware, runtime and batch; why
// it is launch-bound when it is (host launch time against device time, in numbers); how it differs from the
// per-layer figures (device time only); and the same projection at batch 1, 8, 64 and 256 so the regime is visible.
import type { InspectReport } from '../src/engine/sparsity/inspect';
import type { Projection } from '../src/engine/speedup/project';
import { el } from './dom';
import { count, seconds, speedup } from './format';

const RUNTIME_WORDS: Record<Projection['runtime'], string> = {
  fused: 'fused runtime (TensorRT-like)',
  eager: 'eager runtime (every op its own kernel)',
};

/** "on NVIDIA A100 SXM4 80 GB (a100), fused runtime (TensorRT-like), batch 8". */
export function projectionSetting(p: Projection): string {
  return `on ${p.hardware.description} (${p.hardware.name}), ${RUNTIME_WORDS[p.runtime ?? 'eager']}, ${p.batchUsed ? `batch ${p.batch}` : 'the batch the model fixes'}`;
}

/**
 * Why host launch time sets the pace, in numbers, when it does; null otherwise. At that point the GPU's speed does not
 * enter the figure (A100 and H100 give the same), and 2:4 cannot help: in an eager runtime each sparse kernel only adds
 * launch time, in a fused one it launches as a dense one does.
 */
export function launchExplanation(p: Projection): HTMLElement | null {
  if (!p.hostBound.sparse && !p.hostBound.dense) return null;
  const sparse = p.host.sparseKernels > 0 ? ` (${count(p.host.sparseKernels)} of them sparse, which cost more to launch)` : '';
  return el(
    'p',
    { class: 'trap launch-bound' },
    `⚠ Launch-bound: the host needs ${seconds(p.host.sparse)} to launch ${count(p.host.kernels)} kernels${sparse}, while the GPU's work takes ${seconds(p.device.sparse)}. `,
    p.host.sparseKernels > 0
      ? "The GPU's speed does not enter this figure (any NVIDIA profile gives the same), and 2:4 can only add launch time. "
      : "The GPU's speed does not enter this figure (any NVIDIA profile gives the same), and 2:4 does not change it: sparse kernels launch as dense ones do in this runtime. ",
    p.batchUsed ? 'A larger batch moves the work to the device (below); CUDA graphs or a runtime that launches less move it too.' : 'CUDA graphs or a runtime that launches less move the work to the device.',
  );
}

/** Per-layer figures are device time only: say so with their range, so that 1.45-1.85× beside 0.57× is not a riddle. */
export function perLayerNote(p: Projection): HTMLElement | null {
  const passing = p.layers.filter((l) => l.passes && l.speedup !== null).map((l) => l.speedup!);
  if (passing.length === 0) return null;
  const low = Math.min(...passing);
  const high = Math.max(...passing);
  const range = low.toFixed(2) === high.toFixed(2) ? speedup(low) : `${low.toFixed(2)}–${speedup(high)}`;
  return el(
    'p',
    { class: 'per-layer-note' },
    `Per layer (the table's Layer speedup and the Speedup tab): ${range}, each layer's own device time, dense over 2:4. End to end adds the ops that never run sparse${p.hostBound.sparse ? ' and the launch time' : ''}.`,
  );
}

/** The projection at batch 1, 8, 64 and 256 with its regime; the chosen batch marked. Null when the model fixes its batch. */
export function batchSweep(report: InspectReport): HTMLElement | null {
  const points = report.batchSweep;
  if (!points?.length) return null;
  const current = report.projection?.batchUsed ? report.projection.batch : null;
  const cell = (tag: 'th' | 'td', text: string, attrs: Record<string, string> = {}) => el(tag, attrs, text);
  return el(
    'table',
    { class: 'batch-sweep', 'aria-label': 'Projected speedup by batch size' },
    el('caption', {}, 'By batch size (same hardware and runtime)'),
    el('thead', {}, el('tr', {}, cell('th', 'Batch', { scope: 'col' }), cell('th', 'End to end', { scope: 'col' }), cell('th', 'If all passed', { scope: 'col' }), cell('th', 'Set by', { scope: 'col' }))),
    el(
      'tbody',
      {},
      ...points.map((point) =>
        el(
          'tr',
          { class: point.batch === current ? 'current' : '', 'data-batch': String(point.batch), 'aria-current': point.batch === current ? 'true' : 'false' },
          cell('th', point.batch === current ? `${point.batch} (chosen)` : String(point.batch), { scope: 'row' }),
          cell('td', speedup(point.speedup)),
          cell('td', speedup(point.speedupIfAllPass)),
          cell('td', point.launchBound ? 'host launches' : 'the device'),
        ),
      ),
    ),
  );
}
