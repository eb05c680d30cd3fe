// The speedup view: per layer, dense and sparse time as bars with their numbers, the bound and the traps; then the
// end-to-end figure, the never-sparse ops, the unknowns and the assumptions of the projection (README).
import type { InspectReport, LayerReport } from '../src/engine/sparsity/inspect';
import type { LayerProjection, Projection } from '../src/engine/speedup/project';
import { el } from './dom';
import { percent, seconds, speedup } from './format';
import { middleEllipsis } from './names';
import { batchSweep, launchExplanation, projectionSetting } from './projection';

/** Characters of a layer's name in its row (the rest in its title). */
const NAME_CHARS = 30;

export function speedupView(report: InspectReport): HTMLElement {
  const p = report.projection;
  if (!p) return el('section', { class: 'speedup', id: 'speedup' }, el('p', {}, 'This report has no speedup projection.'));
  const longest = Math.max(...p.layers.map((l) => Math.max(l.denseTime, l.sparseTime)), 0);
  return el(
    'section',
    { class: 'speedup', id: 'speedup', 'aria-label': 'Projected speedup' },
    endToEnd(report, p),
    el('h3', {}, 'Per layer: device time, dense and with 2:4'),
    el('ol', { class: 'speedup-layers', id: 'speedup-layers' }, ...p.layers.map((l) => layerRow(l, longest, report.layers.find((r) => r.name === l.name)))),
    list('Unknowns', p.unknowns, 'unknowns', 'Nothing unknown: every shape was known.'),
    list('Assumptions', p.assumptions, 'assumptions'),
    list(`Hardware: ${p.hardware.description}`, p.hardware.sources, 'sources'),
  );
}

function endToEnd(report: InspectReport, p: Projection): HTMLElement {
  return el(
    'div',
    { class: 'end-to-end' },
    el('p', {}, el('strong', {}, `${speedup(p.speedup)} end to end`), ` ${projectionSetting(p)}: dense ${seconds(p.denseTime)}, sparse ${seconds(p.sparseTime)}.`),
    launchExplanation(p),
    el('p', {}, `If every eligible layer passed: ${speedup(p.speedupIfAllPass)}. Other ops (never sparse): ${p.otherOps.count}, ${percent(p.otherOps.share, 1)} of dense device time.`),
    batchSweep(report),
  );
}

function layerRow(l: LayerProjection, longest: number, scanned: LayerReport | undefined): HTMLElement {
  const bar = (kind: 'dense' | 'sparse', time: number) => {
    const fill = el('span', { class: `time-fill time-${kind}${kind === 'sparse' && l.passes ? ' passes' : ''}` });
    fill.style.width = `${longest > 0 ? ((time / longest) * 100).toFixed(2) : 0}%`;
    return el('div', { class: 'time-bar' }, el('span', { class: 'time-label' }, `${kind} ${seconds(time)}`), el('span', { class: 'time-track' }, fill));
  };
  const why = scanned && !scanned.eligible ? 'ineligible' : 'fails 2:4';
  const verdict = l.passes ? `${speedup(l.speedup)}, ${l.bound}-bound` : `stays dense (${why})${l.speedupIfFixed !== null ? `; fixing it: ${speedup(l.speedupIfFixed)} end to end` : ''}`;
  return el(
    'li',
    { class: 'speedup-layer', 'data-layer': l.name },
    // A long name is cut in its middle and clipped to its column, never drawn over the time labels; the title holds it whole.
    el('div', { class: 'speedup-name', title: l.name }, el('strong', { class: 'speedup-layer-name' }, middleEllipsis(l.name, NAME_CHARS)), el('span', { class: 'speedup-op' }, `${l.op} · ${percent(l.share, 1)} of dense time`)),
    el('div', { class: 'speedup-bars', role: 'img', 'aria-label': `${l.name}: dense ${seconds(l.denseTime)}, sparse ${seconds(l.sparseTime)}` }, bar('dense', l.denseTime), bar('sparse', l.sparseTime)),
    el('div', { class: 'speedup-verdict' }, verdict),
    l.flags.length > 0 && el('ul', { class: 'flags', 'aria-label': 'Traps' }, ...l.flags.map((f) => el('li', {}, `⚠ ${f}`))),
  );
}

function list(title: string, items: string[], id: string, empty?: string): HTMLElement {
  return el(
    'section',
    { class: 'notes', id },
    el('h3', {}, title),
    items.length > 0 ? el('ul', {}, ...items.map((i) => el('li', {}, i))) : el('p', {}, empty ?? 'None.'),
  );
}
