// The deploy verdicts as text (issue 13): per target the model's figures and the reasons counted, then per layer
// the verdict, the reasons and the fix; a compact per-target cell for the layer table; CSV columns. Names and
// messages go through safeText like the rest of the report.
import { TARGET_IDS, type DeployVerdict, type TargetId } from '../deploy/types';
import { displayName, displayText } from '../safeText';
import type { InspectReport, LayerReport } from '../sparsity/inspect';

/** What the report shows of the verdicts: which targets, and whether the whole per-layer view. */
export interface DeployView {
  targets?: readonly TargetId[];
  /** The whole view (inspect --deploy); without it, with targets, a compact column and the per-target lines. */
  deploy?: boolean;
}

export function viewTargets(view: DeployView | undefined): readonly TargetId[] {
  return view?.targets?.length ? view.targets : TARGET_IDS;
}

/** Whether the view shows verdicts at all (JSON always carries them). */
export function showsDeploy(view: DeployView | undefined): boolean {
  return !!view && (view.deploy === true || (view.targets?.length ?? 0) > 0);
}

const yesNo = (v: DeployVerdict | undefined) => (v === undefined ? '-' : v.sparse ? 'yes' : 'no');

/** The compact cell: "tensorrt-sm90 no, cusparselt yes". */
export function deployCell(layer: LayerReport, view: DeployView): string {
  return viewTargets(view).map((t) => `${t} ${yesNo(layer.deploy?.[t])}`).join(', ');
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);

/** Per target: the figures, then the reasons counted by rule (most first); then, with --deploy, every layer. */
export function deployLines(report: InspectReport, view: DeployView, markdown: boolean): string[] {
  const out: string[] = [];
  const heading = `Will it run sparse? (deploy verdicts${report.deployPrecision && report.deployPrecision !== 'stored' ? `, --precision ${report.deployPrecision}` : ''})`;
  out.push(markdown ? `## ${heading}` : heading, '');
  const item = markdown ? '- ' : '';
  for (const target of viewTargets(view)) {
    const s = report.summary.deploy?.[target];
    if (!s) continue;
    const timed = s.speedup !== null ? `, ${pct(s.sparseTimeShare)} of projected dense time, projected ${s.speedup.toFixed(2)}x on ${s.profile}` : `, not timed (add --speedup)`;
    out.push(`${item}${target} (${s.name}): ${s.sparseLayers}/${s.layers} eligible layers run sparse, ${s.sparseParameters}/${s.parameters} parameters${timed}`);
    const counts = new Map<string, { n: number; example: string }>();
    for (const l of report.layers) {
      const v = l.deploy?.[target];
      if (!v || v.sparse || !l.eligible) continue;
      v.rules.forEach((rule, i) => {
        const c = counts.get(rule);
        if (c) c.n++;
        else counts.set(rule, { n: 1, example: v.reasons[i] ?? '' });
      });
    }
    for (const [rule, c] of [...counts].sort((a, b) => b[1].n - a[1].n)) {
      out.push(`${markdown ? '  - ' : '  '}${c.n} x ${rule}: ${displayText(c.example)}`);
    }
  }
  if (!view.deploy) return out;
  out.push('');
  const head = ['layer', 'target', 'sparse', 'reasons', 'fix'];
  const rows: string[][] = [];
  for (const l of report.layers) {
    for (const target of viewTargets(view)) {
      const v = l.deploy?.[target];
      if (!v) continue;
      rows.push([displayName(l.name), target, v.sparse ? 'yes' : 'no', displayText(v.reasons.join('; ') || '-'), displayText(v.fix ?? '-')]);
    }
  }
  if (markdown) {
    const cell = (t: string) => t.replace(/[\\|]/g, (c) => `\\${c}`);
    out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`));
  } else {
    for (const r of rows) out.push(`${r[0]}  ${r[1]}  ${r[2]}${r[3] !== '-' ? `: ${r[3]}` : ''}${r[4] !== '-' ? `  fix: ${r[4]}` : ''}`);
  }
  return out;
}

/** CSV: per target a yes/no column and a reasons column. */
export function deployCsvHeader(view: DeployView): string[] {
  return viewTargets(view).flatMap((t) => [`deploy ${t}`, `deploy ${t} reasons`]);
}

export function deployCsvCells(layer: LayerReport, view: DeployView): string[] {
  return viewTargets(view).flatMap((t) => {
    const v = layer.deploy?.[t];
    return [yesNo(v), v?.reasons.join('; ') ?? ''];
  });
}
