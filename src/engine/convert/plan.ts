// Planning a conversion: which layers the selection takes and why the others are skipped (every reason in the
// report), which weights are converted (once, for every layer that reads them), and which of those the output
// format can take; the rest are pruned in place or left unchanged, saying why. Nothing is written here.
import { CancelledError } from '../errors';
import { foldSignature } from '../onnx/folded';
import { elementCount } from '../onnx/skeleton';
import type { FoldedWeight } from '../sparsity/fold';
import type { LayerReport } from '../sparsity/inspect';
import { ShapeInfo } from '../sparsity/kernel';
import { type LayerPlan, eligibility } from '../sparsity/layers';
import { zeroPointKey } from '../sparsity/decode';
import { type Pattern, patternName } from '../sparsity/pattern';
import { tensorKey } from './externalData';
import type { FormatContext, OutputFormat, WeightRewrite } from './formats/format';
import { emptyTotals } from './prune';
import type { LayerChange, LayerSelection, WeightWork } from './types';

/** Plans which layers change and why, without writing anything. */
export function planChanges(
  plans: LayerPlan[],
  reports: Map<string, LayerReport>,
  pattern: Pattern,
  sel: LayerSelection,
  format: OutputFormat,
): { changes: LayerChange[]; changeOf: Map<LayerPlan, LayerChange>; work: Map<string, WeightWork> } {
  const eligibleOrder = plans.filter((p) => eligibility(p, pattern).eligible);
  const first = sel.skipFirst ? eligibleOrder[0] : undefined;
  const head = sel.skipHead ? eligibleOrder[eligibleOrder.length - 1] : undefined;
  const changes: LayerChange[] = [];
  const changeOf = new Map<LayerPlan, LayerChange>();
  const work = new Map<string, WeightWork>();
  const byWeight = new Map<string, LayerPlan[]>();
  for (const plan of plans) {
    const report = reports.get(plan.name);
    const elig = eligibility(plan, pattern);
    const change: LayerChange = {
      name: plan.name,
      op: plan.op,
      graph: plan.graph,
      weight: plan.weight,
      shape: plan.shape,
      dtype: plan.dtype,
      axis: plan.axis,
      action: 'skip',
      reason: null,
      compliance: report?.compliance ?? null,
      violatingGroups: report && report.compliance !== null ? report.groups - report.validGroups : null,
      retainedMagnitude: null,
      prunedElements: 0,
      passesAfter: null,
    };
    changes.push(change);
    changeOf.set(plan, change);
    const count = plan.shape ? elementCount(plan.shape) : 0;
    if (!elig.eligible) change.reason = `ineligible: ${elig.reason}`;
    else if (report?.error) change.reason = `error: ${report.error}`;
    else if (plan.stored) {
      // Already compressed by this tool: pruning or compressing its decoded form again would be blind to its streams.
      change.action = 'unchanged';
      change.reason = `stored compressed (${plan.stored.format}): decompress first`;
      change.retainedMagnitude = 1;
    }
    else if (sel.only && !sel.only.test(plan.name)) change.reason = 'not selected (--only)';
    else if (sel.skip && sel.skip.test(plan.name)) change.reason = 'not selected (--skip)';
    else if (sel.failingOnly && report?.pass) change.reason = `not selected: already ${patternName(pattern)} (failing layers only)`;
    else if (sel.minParams !== undefined && count < sel.minParams) change.reason = `not selected: ${count} parameters < --min-params ${sel.minParams}`;
    else if (plan === first) change.reason = 'not selected: first layer (--skip-first)';
    else if (plan === head) change.reason = 'not selected: classifier head (--skip-head)';
    else if (plan.noPrune) change.reason = `not pruned: ${plan.noPrune}`;
    else if (plan.tensor?.data.kind === 'sparse') change.reason = 'sparse_initializer weights are not converted by this version';
    else if (plan.folded && (format.rewrite || (plan.folded.unwritable && !report?.pass))) change.reason = foldedReason(plan.folded, format.mode);
    else {
      change.action = format.action(Boolean(report?.pass));
      if (change.action === 'unchanged') {
        change.reason = `already ${patternName(pattern)}`;
        change.retainedMagnitude = 1;
      }
      const key = tensorKey(plan.tensor!);
      const list = byWeight.get(key) ?? [];
      list.push(plan);
      byWeight.set(key, list);
    }
  }
  // Planning stays linear in the number of layers: 100k nodes may share one weight.
  const readers = new Map<string, LayerPlan[]>();
  for (const plan of plans) {
    if (!plan.tensor) continue;
    const key = tensorKey(plan.tensor);
    const list = readers.get(key);
    if (list) list.push(plan);
    else readers.set(key, [plan]);
  }
  for (const [key, layers] of byWeight) {
    // A weight also read by a layer that is not converted must stay as it is, for that layer's sake.
    const converted = new Set(layers);
    const others = (readers.get(key) ?? []).filter((p) => !converted.has(p));
    if (others.length) {
      const names = nameList(others.map((o) => o.name));
      for (const l of layers) {
        const change = changeOf.get(l)!;
        change.action = 'skip';
        change.retainedMagnitude = null;
        change.reason = `weight '${l.weight}' is also read by ${names}, which ${others.length > 1 ? 'are' : 'is'} not converted`;
      }
      continue;
    }
    // A weight shared by layers that read it along different axes (or zero points, or folded differently) has no single N:M pruning.
    const signature = (l: LayerPlan) => `${l.axis}:${l.outAxis}:${zeroPointKey(l.zeroPoint)}:${l.shape?.join(' ')}:${l.tensor?.fold ? foldSignature(l.tensor.fold) : ''}`;
    if (new Set(layers.map(signature)).size > 1) {
      const axes = nameList(layers.map((x) => `${x.name}: axis ${x.axis}`), '');
      for (const l of layers) {
        const change = changeOf.get(l)!;
        change.action = 'skip';
        change.retainedMagnitude = null;
        change.reason = `weight '${l.weight}' is shared by layers that read it along different axes (${axes})`;
      }
      continue;
    }
    const action = changeOf.get(layers[0])!.action;
    if (action !== 'prune' && action !== 'compress' && action !== 'rewrite') continue;
    const l = layers[0];
    const geometry = { dims: l.shape!, kAxis: l.axis!, rAxis: l.outAxis! };
    work.set(key, { tensor: l.tensor!, layers, shape: new ShapeInfo(geometry, pattern), totals: emptyTotals() });
    // Consistency: every layer of a converted weight is converted (the weight is converted once, for all of them).
    for (const x of layers) changeOf.get(x)!.action = action;
  }
  return { changes, changeOf, work };
}

/** Why a layer whose weight was folded is not converted: only prune writes a folded weight back, and only where exact. */
function foldedReason(folded: FoldedWeight, mode: string): string {
  const from = `${folded.ops.join(', ')} of ${folded.from.map((f) => `'${f}'`).join(', ')}`;
  if (mode === 'prune') return `folded weight (${from}) not written back: ${folded.unwritable}`;
  return `folded weight (${from}): ${mode} rewrites stored constants only; prune it instead`;
}

/** At most five names, quoted, then how many more: a reason stays one readable line whatever the model. */
function nameList(names: string[], quote = "'"): string {
  const shown = names.slice(0, 5).map((n) => `${quote}${n}${quote}`).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/**
 * For a format that rewrites weights: plans each weight it can take; a weight it cannot take is pruned in place (or
 * left unchanged when every layer of it already passes), its layers saying why.
 */
export function planRewrites<W>(
  rewrite: WeightRewrite<W>,
  work: Map<string, WeightWork>,
  changeOf: Map<LayerPlan, LayerChange>,
  reports: Map<string, LayerReport>,
  ctx: FormatContext,
  pruned: (w: WeightWork) => Uint8Array,
  signal?: AbortSignal,
): Map<string, W> {
  const rewrites = new Map<string, W>();
  for (const [key, w] of [...work]) {
    if (signal?.aborted) throw new CancelledError();
    const why = rewrite.whyNot(w, ctx);
    if (why === undefined) {
      rewrites.set(key, rewrite.plan(w, ctx, () => pruned(w)));
      continue;
    }
    const compliant = w.layers.every((l) => reports.get(l.name)?.pass);
    for (const l of w.layers) {
      const change = changeOf.get(l)!;
      change.action = compliant ? 'unchanged' : 'prune';
      change.reason = `${compliant ? 'already compliant' : 'pruned in place'}, ${rewrite.fallback}: ${why}`;
      if (compliant) change.retainedMagnitude = 1;
    }
    if (compliant) work.delete(key);
  }
  return rewrites;
}

/** Per layer and for the model: elements pruned and the fraction of sum |w| kept, from the totals of the written weights. */
export function summarize(report: { layers: LayerChange[]; summary: { prunedElements: number; retainedMagnitude: number | null } }, work: Map<string, WeightWork>, changeOf: Map<LayerPlan, LayerChange>): void {
  let sum = 0;
  let kept = 0;
  for (const w of work.values()) {
    sum += w.totals.sumMagnitude;
    kept += w.totals.keptMagnitude;
    report.summary.prunedElements += w.totals.pruned;
    const retained = w.totals.sumMagnitude === 0 ? 1 : w.totals.keptMagnitude / w.totals.sumMagnitude;
    for (const l of w.layers) {
      const change = changeOf.get(l)!;
      change.prunedElements = w.totals.pruned;
      change.retainedMagnitude = Number.isFinite(retained) ? retained : null;
    }
  }
  const retained = sum === 0 ? 1 : kept / sum;
  report.summary.retainedMagnitude = work.size === 0 || !Number.isFinite(retained) ? null : retained;
}
