// The conversion report as text, for the CLI and the extension's "Show Report". Names, paths and messages from the
// model are shown through src/engine/safeText.ts (control characters escaped, length bounded); the JSON form keeps
// every string whole, its controls as JSON escapes.
import type { ConvertReport } from '../convert/convert';
import { type OutputComparison, type RuntimeEngine, runtimeLabel } from '../convert/runtime';
import { displayName, displayPath, displayText, escapeJsonControls } from '../safeText';
import { formatPermutation } from './permuteFormat';

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);

export function formatConvert(r: ConvertReport): string {
  const lines: string[] = [];
  lines.push(`model: ${displayPath(r.model)}`);
  lines.push(`mode: ${r.mode}, pattern ${r.pattern}${r.dryRun ? ' (dry run: nothing written)' : ''}`);
  lines.push(`layers: ${[r.summary.pruned && `${r.summary.pruned} to prune`, r.summary.compressed && `${r.summary.compressed} to compress`, r.summary.rewritten && `${r.summary.rewritten} to rewrite for Ascend`].filter(Boolean).join(', ') || '0 to convert'}, ${unchangedText(r)}, ${r.summary.skipped} skipped`);
  for (const w of r.warnings) lines.push(`warning: ${displayText(w)}`);
  lines.push('');
  const rows = r.layers.map((l) => [displayName(l.name), displayName(l.op), l.action, pct(l.compliance), l.violatingGroups === null ? '-' : String(l.violatingGroups), pct(l.retainedMagnitude), l.passesAfter === null ? '-' : l.passesAfter ? 'yes' : 'NO', displayText(l.reason ?? '')]);
  const head = ['layer', 'op', 'action', 'compliance', 'violating', 'retained', 'passes', 'note'];
  const widths = head.map((h, i) => rows.reduce((w, row) => Math.max(w, i === head.length - 1 ? 0 : row[i].length), h.length));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  lines.push(line(head), ...rows.map(line), '');
  if (r.permutation) lines.push(...formatPermutation(r.permutation), '');
  if (!r.dryRun) {
    const where = `${r.output === null ? '-' : displayPath(r.output)}${r.dataFile ? ` (external data: ${displayPath(r.dataFile)})` : ''}`;
    lines.push(r.written ? `output: ${where}` : `output: NOT WRITTEN (verification failed; ${where} is as it was)`);
    lines.push(`size: ${r.summary.sizeBefore} -> ${r.summary.sizeAfter} bytes; pruned elements: ${r.summary.prunedElements}; retained magnitude: ${pct(r.summary.retainedMagnitude)}`);
    lines.push(`verification: ${r.verified ? 'every converted layer passes' : 'FAILED: some converted layers do not pass'}`);
    if (r.exact?.ran) {
      const same = r.exact.outputs.every((o) => o.identical);
      lines.push(`decode graph: ${same ? 'outputs bit-identical to the dense pruned model' : 'OUTPUTS DIFFER from the dense pruned model'} (${label(r.exact.engine)})`);
    } else if (r.exact?.note) lines.push(`decode graph not run: ${displayText(r.exact.note)}`);
    if (r.runtime?.ran) {
      for (const o of r.runtime.outputs) lines.push(outputLine(o, r.runtime.engine));
    } else if (r.runtime?.note) lines.push(`outputs not compared: ${displayText(r.runtime.note)}`);
  }
  for (const note of r.notes) lines.push(`note: ${displayText(note)}`);
  return lines.join('\n') + '\n';
}

/** "ONNX Runtime 1.30.0 WebAssembly": which runtime compared the outputs (older reports did not say). */
const label = (engine?: RuntimeEngine) => (engine ? runtimeLabel(engine) : 'ONNX Runtime');

/** One output of the ONNX Runtime comparison; NaN and infinite elements are counted, never passed off as agreement. */
function outputLine(o: OutputComparison, engine?: RuntimeEngine): string {
  const head = `output '${displayName(o.name)}' (${label(engine)}, same inputs)`;
  const { input, output } = o.nonFinite;
  const bad = `${input} of ${o.elements} elements NaN or infinite in the input model's output, ${output} in the converted model's`;
  if (o.maxAbsDiff === null || o.cosine === null) return `${head}: NOT COMPARED: ${bad}: the model overflows on the generated inputs`;
  const diff = `max |diff| ${o.maxAbsDiff.toPrecision(4)}, cosine ${o.cosine.toFixed(6)}`;
  if (input || output) return `${head}: ${diff} over the ${o.compared} elements finite in both (${bad})`;
  return `${head}: ${diff}${o.identical ? ', identical' : ''}`;
}

/** The conversion report as JSON: every string whole, with the controls JSON.stringify leaves raw (DEL, C1, bidi) escaped. */
export function formatConvertJson(r: ConvertReport): string {
  return `${escapeJsonControls(JSON.stringify(r, null, 2))}\n`;
}

/** Unchanged layers: already compliant, or stored compressed by this tool (left as they are: decompress first). */
function unchangedText(r: ConvertReport): string {
  const stored = r.layers.filter((l) => l.action === 'unchanged' && l.reason?.startsWith('stored compressed')).length;
  const compliant = r.summary.unchanged - stored;
  return stored ? `${compliant} already compliant and ${stored} stored compressed (unchanged)` : `${compliant} already compliant (unchanged)`;
}
