// What a conversion ended with, in words the toast, the output channel and the open panel share (issue 14 item 7):
// the toast hides, so the outcome is kept where the user finds it later. An export that wrote no layer is a warning
// with the reasons, never a success. Plain TypeScript (no vscode import) so that it is unit-tested outside VS Code.
import { basename } from 'node:path';
import type { ExportManifest } from '../engine/convert/export';
import type { ConvertReport } from '../engine/convert/types';

export interface ConvertOutcome {
  level: 'info' | 'warning';
  /** One line for the toast and the panel. */
  message: string;
  /** The reasons behind a warning (skipped layers, grouped by reason, most first). */
  details: string[];
}

/** How many reasons a toast or the panel lists before "and N more". */
const MAX_REASONS = 5;

export function exportOutcome(manifest: ExportManifest, out: string): ConvertOutcome {
  const written = manifest.layers.length;
  const skipped = manifest.skipped.length;
  const details = groupedReasons(manifest.skipped.map((s) => s.reason));
  const counts = `${written} layer${written === 1 ? '' : 's'} exported, ${skipped} skipped`;
  if (written === 0) return { level: 'warning', message: `nothing exported to ${basename(out)}: ${counts}`, details };
  return { level: skipped > 0 ? 'warning' : 'info', message: `${counts} to ${basename(out)}`, details };
}

export function convertOutcome(report: ConvertReport, out: string): ConvertOutcome {
  const output = basename(report.output ?? out);
  const retained = report.summary.retainedMagnitude === null ? '-' : `${(report.summary.retainedMagnitude * 100).toFixed(1)}%`;
  const failing = report.layers.filter((l) => l.passesAfter === false).map((l) => `${l.name}: does not pass after conversion`);
  if (!report.written) return { level: 'warning', message: `VERIFICATION FAILED; ${output} was not written`, details: failing.slice(0, MAX_REASONS) };
  const converted = report.summary.pruned + report.summary.compressed + report.summary.rewritten;
  if (!report.verified) return { level: 'warning', message: `${output} written; VERIFICATION FAILED; retained magnitude ${retained}`, details: failing.slice(0, MAX_REASONS) };
  if (converted === 0) {
    const reasons = groupedReasons(report.layers.filter((l) => l.reason).map((l) => l.reason!));
    return { level: 'warning', message: `${output} written, but no layer was converted (${report.summary.unchanged} unchanged, ${report.summary.skipped} skipped)`, details: reasons };
  }
  return { level: 'info', message: `${output} written; every converted layer passes; retained magnitude ${retained}`, details: [] };
}

/** "6 x K not divisible by 4", most frequent first, at most MAX_REASONS lines. */
export function groupedReasons(reasons: string[]): string[] {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  const lines = [...counts].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${n} × ${reason}`);
  return lines.length > MAX_REASONS ? [...lines.slice(0, MAX_REASONS), `and ${lines.length - MAX_REASONS} more reasons`] : lines;
}
