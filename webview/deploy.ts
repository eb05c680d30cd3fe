// "Will this layer actually run sparse?" (issue 13) in the panel: the target and precision choices, a layer's status
// on the chosen target (the heatmap and table colour by it), the model's per-target summary, and a layer's verdicts
// with their reasons and fixes for the drill-down. The verdicts come from the engine (src/engine/deploy): nothing
// here decides one.
import type { DeployPrecision, DeploySummary, DeployVerdict, TargetId } from '../src/engine/deploy/types';
import { RULES } from '../src/engine/deploy/rules';
import { TARGETS } from '../src/engine/deploy/targets';
import { TARGET_IDS } from '../src/engine/deploy/types';
import type { InspectReport } from '../src/engine/sparsity/inspect';
import type { Choice } from './components';
import { el } from './dom';
import { type PanelLayer, type Status, count, percent, seconds, shape, speedup } from './format';

/** The heatmap colours by 2:4 compliance (no target) or by one target's verdicts. */
export type ColourBy = TargetId | null;

export const NO_TARGET = 'none';

/** The engine's plain names (src/engine/deploy/targets.ts), for the selector, the table and the lists. */
export const TARGET_NAMES = Object.fromEntries(TARGET_IDS.map((id) => [id, TARGETS[id].name])) as Record<TargetId, string>;

/** Rules that only inform (the precision assumed, no timing): their reasons are notes, not why a layer stays dense. */
const NOTE_RULES = new Set(RULES.filter((r) => r.stage === 'note').map((r) => r.id));

/** A verdict's reasons split into those that decided it and the notes (reasons[i] comes from rules[i]). */
export function splitReasons(verdict: DeployVerdict): { decisive: string[]; notes: string[] } {
  const decisive: string[] = [];
  const notes: string[] = [];
  verdict.reasons.forEach((reason, i) => (NOTE_RULES.has(verdict.rules[i]) ? notes : decisive).push(reason));
  return { decisive, notes };
}

export function targetChoices(): Choice[] {
  return [{ value: NO_TARGET, label: 'None: 2:4 compliance' }, ...TARGET_IDS.map((id) => ({ value: id, label: TARGET_NAMES[id] }))];
}

export const PRECISIONS: { value: DeployPrecision; label: string }[] = [
  { value: 'stored', label: 'As stored' },
  { value: 'fp16', label: 'FP16' },
  { value: 'bf16', label: 'BF16' },
  { value: 'int8', label: 'INT8' },
  { value: 'fp8', label: 'FP8' },
];

export function isTarget(value: string | undefined): value is TargetId {
  return (TARGET_IDS as readonly string[]).includes(value ?? '');
}

/** A layer's status on a target, in the heatmap's classes: blue runs sparse, red stays dense, hatched not eligible. */
export const DEPLOY_STATUSES = {
  sparse: { kind: 'pass', word: 'runs sparse', symbol: '✓' },
  dense: { kind: 'fail', word: 'stays dense', symbol: '✗' },
  ineligible: { kind: 'ineligible', word: 'not eligible', symbol: '–' },
  pending: { kind: 'pending', word: 'not scanned yet', symbol: '…' },
  // An eligible layer the report gives no verdict for (a report from before the verdicts): said, not guessed.
  none: { kind: 'pending', word: 'no verdict', symbol: '?' },
} as const satisfies Record<string, Status>;

export function deployStatus(layer: PanelLayer, target: TargetId): Status {
  if (layer.eligible === undefined) return DEPLOY_STATUSES.pending;
  return verdictStatus(layer, layer.deploy?.[target]);
}

/** An ineligible (or unreadable) layer gets a verdict too, with its reason: it shows as not eligible, not as dense. */
function verdictStatus(layer: PanelLayer, verdict: DeployVerdict | undefined): Status {
  if (!layer.eligible || layer.error) return DEPLOY_STATUSES.ineligible;
  if (!verdict) return DEPLOY_STATUSES.none;
  return verdict.sparse ? DEPLOY_STATUSES.sparse : DEPLOY_STATUSES.dense;
}

/** The sentence for tooltips and screen readers: the layer, its verdict on the target and the first reason. */
export function describeDeploy(layer: PanelLayer, target: TargetId): string {
  const status = deployStatus(layer, target);
  const verdict = layer.deploy?.[target];
  const decisive = verdict ? splitReasons(verdict).decisive : [];
  const why = decisive.length ? `: ${decisive.join('; ')}` : layer.error || layer.reason ? `: ${layer.error || layer.reason}` : '';
  return `${layer.name}, ${layer.op} ${shape(layer.shape)}: ${status.word} on ${TARGET_NAMES[target]}${why}`;
}

/** Whether the report holds verdicts at all (one from before the engine gave them has none). */
export function hasVerdicts(report: InspectReport): boolean {
  return report.summary.deploy !== undefined && Object.keys(report.summary.deploy).length > 0;
}

/** "31 of 54 layers run sparse on TensorRT SM90 (Hopper)", the legend, and the chosen target's totals. */
export function deploySummaryView(report: InspectReport, target: TargetId): HTMLElement {
  const s = report.summary.deploy?.[target];
  const legend = el(
    'ul',
    { class: 'status-legend', 'aria-label': 'Legend' },
    ...(['sparse', 'dense', 'ineligible'] as const).map((k) => {
      const status = DEPLOY_STATUSES[k];
      return el('li', { class: `status-${status.kind}` }, el('span', { class: 'swatch', 'aria-hidden': 'true' }), `${status.symbol} ${status.word}`);
    }),
  );
  if (!s) {
    return el('div', { class: 'deploy-summary', id: 'deploy-summary' }, legend, el('p', { class: 'note', id: 'deploy-count' }, `This report has no verdicts for ${TARGET_NAMES[target]}.`));
  }
  const notEligible = report.layers.length - s.layers;
  return el(
    'div',
    { class: 'deploy-summary', id: 'deploy-summary' },
    legend,
    el(
      'p',
      { class: 'deploy-count', id: 'deploy-count' },
      el('strong', {}, `${count(s.sparseLayers)} of ${count(s.layers)} layers run sparse on ${s.name}`),
      notEligible > 0 ? ` (${count(notEligible)} more not eligible).` : '.',
    ),
    el('p', { class: 'deploy-totals', id: 'deploy-totals' }, totals(s)),
  );
}

function totals(s: DeploySummary): string {
  const parameters = `${count(s.sparseParameters)} of ${count(s.parameters)} parameters sparse (${percent(s.parameters ? s.sparseParameters / s.parameters : null, 1)})`;
  const time = s.sparseTimeShare === null ? 'no projected time' : `${percent(s.sparseTimeShare, 1)} of projected dense time in layers that run sparse`;
  const projected = s.speedup === null ? 'no projected speedup' : `projected ${speedup(s.speedup)} end to end${s.profile ? ` (profile ${s.profile})` : ''}`;
  return `${parameters}; ${time}; ${projected}.`;
}

/** Every target over the whole model, one row each; the chosen one marked. */
export function targetsTable(report: InspectReport, chosen: ColourBy): HTMLElement {
  const rows = TARGET_IDS.filter((t) => report.summary.deploy?.[t]).map((t) => {
    const s = report.summary.deploy![t]!;
    return el(
      'tr',
      { 'data-target': t, class: t === chosen ? 'chosen' : undefined, 'aria-current': t === chosen ? 'true' : undefined },
      el('th', { scope: 'row' }, s.name),
      el('td', {}, `${count(s.sparseLayers)} / ${count(s.layers)}`),
      el('td', {}, percent(s.parameters ? s.sparseParameters / s.parameters : null, 1)),
      el('td', {}, percent(s.sparseTimeShare, 1)),
      el('td', {}, speedup(s.speedup)),
    );
  });
  return el(
    'table',
    { class: 'targets-table', id: 'targets-table' },
    el('caption', {}, 'Every target: what runs sparse'),
    el('thead', {}, el('tr', {}, ...['Target', 'Layers sparse', 'Parameters sparse', 'Projected time sparse', 'Projected speedup'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows),
  );
}

/** The drill-down's section: the chosen target's verdict in full, then one line per target. */
export function layerDeployView(layer: PanelLayer, chosen: ColourBy): HTMLElement | null {
  const verdicts = TARGET_IDS.filter((t) => layer.deploy?.[t]);
  if (verdicts.length === 0) return null;
  return el(
    'section',
    { class: 'layer-deploy', id: 'layer-deploy', 'aria-label': 'Deployment' },
    el('h3', {}, 'Will it run sparse?'),
    chosen && chosenVerdict(layer, chosen),
    el('ul', { class: 'deploy-targets', id: 'deploy-targets', 'aria-label': 'Every target' }, ...verdicts.map((t) => compactVerdict(layer, t, layer.deploy![t]!, t === chosen))),
  );
}

function chosenVerdict(layer: PanelLayer, target: TargetId): HTMLElement {
  const verdict = layer.deploy?.[target];
  if (!verdict) {
    return el('div', { class: 'deploy-verdict', id: 'deploy-verdict' }, el('p', { class: 'verdict status-ineligible' }, `– No verdict on ${TARGET_NAMES[target]} in this report.`));
  }
  const status = verdictStatus(layer, verdict);
  const headline = status === DEPLOY_STATUSES.sparse ? 'Runs sparse' : status === DEPLOY_STATUSES.dense ? 'Stays dense' : 'Not eligible';
  const { decisive, notes } = splitReasons(verdict);
  // The engine gives a sparse time wherever a sparse kernel could take the layer, null where none could.
  const hasSparse = verdict.sparseTime !== undefined && verdict.sparseTime !== null;
  const times =
    verdict.denseTime === undefined || verdict.denseTime === null
      ? null
      : verdict.sparse || hasSparse
        ? `Projected on this target: dense ${seconds(verdict.denseTime)}, sparse ${seconds(verdict.sparseTime)}${verdict.sparse ? '' : ': it runs dense'}.`
        : `Projected on this target: dense ${seconds(verdict.denseTime)}; no sparse kernel takes it.`;
  return el(
    'div',
    { class: 'deploy-verdict', id: 'deploy-verdict' },
    el('p', { class: `verdict status-${status.kind}`, id: 'deploy-word' }, `${status.symbol} ${headline} on ${TARGET_NAMES[target]}`),
    decisive.length > 0 && el('ul', { class: 'deploy-reasons', id: 'deploy-reasons', 'aria-label': 'Why not' }, ...decisive.map((r) => el('li', {}, r))),
    verdict.fix && el('p', { class: 'deploy-fix', id: 'deploy-fix' }, el('strong', {}, 'Fix: '), verdict.fix),
    notes.length > 0 && el('ul', { class: 'deploy-notes note', id: 'deploy-notes', 'aria-label': 'Notes' }, ...notes.map((r) => el('li', {}, `Note: ${r}`))),
    times && el('p', { class: 'deploy-times', id: 'deploy-times' }, times),
  );
}

function compactVerdict(layer: PanelLayer, target: TargetId, verdict: DeployVerdict, chosen: boolean): HTMLElement {
  const status = verdictStatus(layer, verdict);
  const { decisive } = splitReasons(verdict);
  const why = !verdict.sparse && decisive.length > 0 ? `: ${decisive[0]}${decisive.length > 1 ? ` (+${decisive.length - 1} more)` : ''}` : '';
  return el('li', { class: `status-${status.kind}${chosen ? ' chosen' : ''}`, 'data-target': target }, el('span', { class: 'deploy-target' }, TARGET_NAMES[target]), ` ${status.symbol} ${status.word}${why}`);
}
