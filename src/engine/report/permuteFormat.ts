// The channel permutation section of the conversion report (convert --permute), as text.
import type { PermutationReport } from '../convert/permute/types';
import { displayName, displayText } from '../safeText';

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);

export function formatPermutation(p: PermutationReport): string[] {
  const lines: string[] = [];
  const s = p.summary;
  lines.push(`channel permutation (${p.pattern}): ${s.permuted} permuted, ${s.identity} kept their order, ${s.refused} refused (search, write and check: ${p.seconds.toFixed(1)} s)`);
  const rows = p.layers.map((l) => [
    displayName(l.name),
    l.status,
    pct(l.retainedPlain),
    pct(l.retainedPermuted),
    pct(l.retainedBound),
    displayText(l.status === 'refused' ? (l.reason ?? '') : `from ${l.producer ?? '-'}${l.through.length ? ` through ${l.through.join(', ')}` : ''}${l.budgetSpent ? '; search stopped at its work budget' : ''}`),
  ]);
  const head = ['layer', 'status', 'kept plain', 'permuted', 'bound', 'note'];
  const widths = head.map((h, i) => rows.reduce((w, row) => Math.max(w, i === head.length - 1 ? 0 : row[i].length), h.length));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  if (rows.length) lines.push(line(head), ...rows.map(line));
  if (s.retainedPlain !== null) lines.push(`retained magnitude over the searched layers: ${pct(s.retainedPlain)} plain -> ${pct(s.retainedPermuted)} permuted`);
  const r = p.runtime;
  if (r?.ran) {
    for (const o of r.outputs) {
      const diff = o.maxAbsDiff === null ? 'not compared (non-finite outputs)' : o.identical ? 'identical' : `max |diff| ${o.maxAbsDiff.toPrecision(3)} (float sums in another order), cosine ${o.cosine?.toFixed(9)}`;
      lines.push(`permuted model before pruning, output '${displayName(o.name)}' against the input (ONNX Runtime): ${diff}`);
    }
  } else if (r?.note) lines.push(`permuted model not compared with the input: ${displayText(r.note)}`);
  return lines;
}
