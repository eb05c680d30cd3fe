// The inspection report as text: a terminal table, Markdown, CSV, or the JSON contract.
// Every name, path and message from the model is shown through src/engine/safeText.ts (control characters escaped,
// length bounded) in the table, Markdown and CSV; Markdown also escapes '\\' and '|' so no name can break its
// tables. JSON keeps every string whole, its controls escaped as JSON escapes. The model-level warnings (what
// breaks the ONNX spec, and what the tool assumed: src/engine/onnx/checks.ts) are in the table, Markdown and JSON;
// CSV stays one row per layer with fixed columns (no comment lines, which CSV has not), so it does not carry them.
import { NAME_MAX, displayName, displayPath, displayText, escapeJsonControls } from '../safeText';
import type { InspectReport, LayerReport } from '../sparsity/inspect';
import { type DeployView, deployCell, deployCsvCells, deployCsvHeader, deployLines, showsDeploy } from './deployFormat';
import { formatModelExplorer, formatNetron } from './overlays';

export type ReportFormat = 'table' | 'json' | 'markdown' | 'csv' | 'netron' | 'model-explorer';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'json', 'markdown', 'csv', 'netron', 'model-explorer'];

export function layerStatus(layer: LayerReport): 'PASS' | 'NEARLY' | 'FAIL' | 'INELIGIBLE' | 'ERROR' {
  if (layer.error) return 'ERROR';
  if (!layer.eligible) return 'INELIGIBLE';
  return layer.pass ? 'PASS' : layer.nearlyPassing ? 'NEARLY' : 'FAIL';
}

const pct = (x: number | null, digits = 1) => (x === null ? '-' : `${(x * 100).toFixed(digits)}%`);

function satisfied(layer: LayerReport): string {
  const names = Object.entries(layer.patterns).filter(([, ok]) => ok).map(([k]) => k);
  return names.length ? names.join(' ') : '-';
}

/** The reason or the warnings; a folded weight first says what it was folded from. */
function note(layer: LayerReport): string {
  // A weight this tool stored compressed says so first (format, stored bytes against dense); a folded one says from what.
  const parts = [
    ...(layer.stored ? [layer.stored.text] : []),
    ...(layer.folded ? [`folded: ${layer.folded.note}`] : []),
    ...(layer.reason !== null ? [layer.reason] : layer.warnings),
  ];
  return displayText(parts.join('; '));
}

interface Column {
  title: string;
  value: (l: LayerReport) => string;
  right?: boolean;
}

const COLUMNS: Column[] = [
  { title: 'layer', value: (l) => displayName(l.name) },
  { title: 'op', value: (l) => displayName(l.op) },
  // Packed codes: the matrix the user thinks in, then how it is stored.
  { title: 'shape', value: (l) => (l.shape ? `[${l.shape.join('x')}]${l.storedAs ? ` (${l.storedAs})` : ''}` : '-') },
  { title: 'dtype', value: (l) => (l.dtype === null ? '-' : displayName(l.dtype)) },
  { title: 'K', value: (l) => (l.axis === null ? '-' : String(l.axis)), right: true },
  { title: 'status', value: layerStatus },
  { title: 'compliance', value: (l) => pct(l.compliance, 2), right: true },
  { title: 'valid/groups', value: (l) => (l.compliance === null ? '-' : `${l.validGroups}/${l.groups}`), right: true },
  { title: 'zeros', value: (l) => (l.zeros === null || !l.elements ? '-' : pct(l.zeros / l.elements)), right: true },
  { title: 'retained', value: (l) => pct(l.retainedMagnitude), right: true },
  { title: 'patterns', value: satisfied },
  { title: 'note', value: note },
];

function summaryLines(report: InspectReport): string[] {
  const s = report.summary;
  return [
    `model: ${displayPath(report.model)} (${report.fileSize} bytes, opset ${report.opset ?? '?'}${report.producer ? `, ${displayName(report.producer)}` : ''})`,
    `pattern: ${report.pattern} (N = most non-zeros kept in every group of M along the reduction axis)`,
    `layers: ${s.layers}: ${s.eligible} eligible (${s.passing} pass, ${s.nearlyPassing} nearly pass, ${s.failing} fail), ${s.ineligible} ineligible, ${s.errors} unreadable${s.errors ? ' (counted as failing)' : ''}`,
    `compliance (parameter-weighted, eligible and unreadable layers): ${pct(s.compliance, 2)}; retained magnitude if pruned: ${pct(s.retainedMagnitude, 2)}`,
    ...unrecognizedLine(report),
  ];
}

/** "not read: 32 Foo (com.example), 1 Gather nodes with constant weights": ops this tool does not know, never skipped in silence. */
function unrecognizedLine(report: InspectReport): string[] {
  if (report.unrecognized.length === 0) return [];
  const ops = report.unrecognized.map((u) => `${u.nodes} ${displayName(u.op)}${u.domain ? ` (${displayName(u.domain)})` : ''}`);
  const total = report.unrecognized.reduce((n, u) => n + u.nodes, 0);
  return [`not read: ${ops.join(', ')} node${total > 1 ? 's' : ''} with constant weights (ops this tool does not know)`];
}

/** The model-level warnings: a heading, then one line (Markdown: one item) each; nothing when there are none. */
function warningLines(report: InspectReport, markdown: boolean): string[] {
  if (report.warnings.length === 0) return [];
  const heading = `${report.warnings.length} warning${report.warnings.length > 1 ? 's' : ''}: the model breaks the ONNX spec; what the tool assumed`;
  return markdown
    ? [`## ${heading}`, '', ...report.warnings.map((w) => `- ${markdownText(displayText(w))}`)]
    : [heading, ...report.warnings.map((w) => `warning: ${displayText(w)}`)];
}

/** Markdown text that cannot open or close a table cell: '\\' and '|' escaped (after displayText, nothing else can). */
function markdownText(text: string): string {
  return text.replace(/[\\|]/g, (c) => `\\${c}`);
}

const us = (seconds: number) => {
  const v = seconds * 1e6;
  return v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(3);
};
const giga = (n: number | null) => (n === null ? '-' : (n / 1e9).toFixed(2));

/** The projection as lines of text: the figure, then per layer, then what it assumed and what it could not know. */
function projectionLines(report: InspectReport, markdown: boolean): string[] {
  const p = report.projection;
  if (!p) return [];
  const out: string[] = [];
  const batch = p.batch !== null && p.batchUsed ? `, batch ${p.batch}` : '';
  const symbols = Object.entries(p.symbols).map(([k, v]) => `${k}=${v}`).join(', ');
  out.push(`${markdown ? '## ' : ''}Projected speedup on ${displayName(p.hardware.description)}${batch}${symbols ? ` (${displayText(symbols, NAME_MAX)})` : ''}`);
  out.push('');
  out.push(
    `end to end: ${p.speedup === null ? '-' : `${p.speedup.toFixed(2)}x`} (dense ${us(p.denseTime)} us, sparse ${us(p.sparseTime)} us${p.hostBound.sparse ? `; launch-bound: the host needs ${us(p.host.sparse)} us to launch ${p.host.kernels} kernels, the GPU ${us(p.device.sparse)} us of work, so the GPU's speed does not enter this figure` : ''}); if every eligible layer passed: ${p.speedupIfAllPass === null ? '-' : `${p.speedupIfAllPass.toFixed(2)}x`}`,
  );
  out.push(`other ops: ${p.otherOps.count}, ${(p.otherOps.share * 100).toFixed(1)}% of dense device time (never sparse)`);
  out.push('');
  const head = ['layer', 'op', 'GMACs', 'bound', 'dense us', 'sparse us', 'speedup', 'share', 'flags'];
  const rows = p.layers.map((l) => [displayName(l.name), displayName(l.op), giga(l.macs), l.bound, us(l.denseTime), us(l.sparseTime), l.speedup === null ? '-' : `${l.speedup.toFixed(2)}x`, `${(l.share * 100).toFixed(1)}%`, displayText(l.flags.join('; '))]);
  if (markdown) {
    out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(markdownText).join(' | ')} |`));
  } else {
    const widths = head.map((h, i) => rows.reduce((w, r) => Math.max(w, i === head.length - 1 ? 0 : r[i].length), h.length));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
    out.push(line(head), ...rows.map(line));
  }
  out.push('');
  for (const u of p.unknowns) out.push(`${markdown ? '- ' : ''}unknown: ${displayText(u)}`);
  for (const a of p.assumptions) out.push(`${markdown ? '- ' : ''}assumes: ${displayText(a)}`);
  return out;
}

/** The layer columns; with deploy targets, a compact "runs sparse" column before the note. */
function columns(view?: DeployView): Column[] {
  if (!showsDeploy(view)) return COLUMNS;
  return [...COLUMNS.slice(0, -1), { title: 'runs sparse', value: (l) => deployCell(l, view!) }, COLUMNS[COLUMNS.length - 1]];
}

export function formatTable(report: InspectReport, view?: DeployView): string {
  const COLUMNS = columns(view);
  const rows = report.layers.map((l) => COLUMNS.map((c) => c.value(l)));
  const widths = COLUMNS.map((c, i) => rows.reduce((w, r) => Math.max(w, i === COLUMNS.length - 1 ? 0 : r[i].length), c.title.length));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === COLUMNS.length - 1 ? cell : COLUMNS[i].right ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const projection = projectionLines(report, false);
  const warnings = warningLines(report, false);
  const deploy = showsDeploy(view) ? ['', ...deployLines(report, view!, false)] : [];
  return [...summaryLines(report), ...(warnings.length ? ['', ...warnings] : []), '', line(COLUMNS.map((c) => c.title)), ...rows.map(line), ...deploy, ...(projection.length ? ['', ...projection] : [])].join('\n') + '\n';
}

export function formatMarkdown(report: InspectReport, view?: DeployView): string {
  const COLUMNS = columns(view);
  const out = [`# Sparsity report: ${markdownText(displayPath(report.model))}`, '', ...summaryLines(report).map((l) => `- ${markdownText(l)}`), ''];
  const warnings = warningLines(report, true);
  if (warnings.length) out.push(...warnings, '');
  out.push(`| ${COLUMNS.map((c) => c.title).join(' | ')} |`);
  out.push(`|${COLUMNS.map((c) => (c.right ? '---:' : '---')).join('|')}|`);
  for (const l of report.layers) out.push(`| ${COLUMNS.map((c) => markdownText(c.value(l))).join(' | ')} |`);
  if (showsDeploy(view)) out.push('', ...deployLines(report, view!, true));
  const projection = projectionLines(report, true);
  if (projection.length) out.push('', ...projection);
  return out.join('\n') + '\n';
}

const CSV_FIELDS: (keyof LayerReport)[] = [
  'name', 'op', 'graph', 'weight', 'shape', 'dtype', 'axis', 'eligible', 'reason', 'groups', 'validGroups',
  'compliance', 'pass', 'nearlyPassing', 'elements', 'zeros', 'negativeZeros', 'zeroPointZeros', 'retainedMagnitude', 'folded', 'stored', 'storedShape',
];

/** CSV (RFC 4180): names and the reason shown as in the table (escaped, bounded), quoted where they hold ',' or '"'. */
export function formatCsv(report: InspectReport, view?: DeployView): string {
  const cell = (value: unknown, field?: string): string => {
    // A folded weight: its note ("effective weight = 'W' x mask 'M' ..."); the stored format: its line of text (the JSON has the figures).
    const v = field === 'folded' ? ((value as LayerReport['folded'])?.note ?? null) : field === 'stored' ? ((value as LayerReport['stored'])?.text ?? null) : value;
    const text = v === null || v === undefined ? '' : Array.isArray(v) ? v.join('x') : String(v);
    const s = typeof v === 'string' ? (field === 'reason' || field === 'folded' || field === 'stored' ? displayText(text) : displayName(text)) : text;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const patternKeys = Object.keys(report.layers[0]?.patterns ?? {});
  const blockKeys = Object.keys(report.layers[0]?.blocks ?? {});
  const speedupFields = report.projection ? (['macs', 'denseTime', 'sparseTime', 'bound', 'speedup'] as const) : [];
  const deploy = showsDeploy(view);
  const header = [...CSV_FIELDS, ...patternKeys.map((k) => `pattern ${k}`), ...blockKeys.map((k) => `block ${k}`), ...speedupFields, ...(deploy ? deployCsvHeader(view!) : [])];
  const lines = [header.map((title) => cell(title)).join(',')];
  for (const l of report.layers) {
    const extra = l as unknown as Record<string, unknown>;
    lines.push([...CSV_FIELDS.map((f) => cell(l[f], f)), ...patternKeys.map((k) => cell(l.patterns[k])), ...blockKeys.map((k) => cell(l.blocks[k])), ...speedupFields.map((f) => cell(extra[f])), ...(deploy ? deployCsvCells(l, view!).map((c) => cell(c, 'reason')) : [])].join(','));
  }
  return lines.join('\n') + '\n';
}

/** The JSON contract, every string whole (controls as JSON escapes). The per-tile grid is large: included only on request. */
export function formatJson(report: InspectReport, withGrid = false): string {
  const layers = withGrid
    ? report.layers.map((l) => ({ ...l, grid: l.grid && { rows: l.grid.rows, cols: l.grid.cols, valid: Array.from(l.grid.valid), total: Array.from(l.grid.total) } }))
    : report.layers.map(({ grid: _grid, ...rest }) => rest);
  return escapeJsonControls(JSON.stringify({ ...report, layers }, null, 2)) + '\n';
}

export function formatReport(report: InspectReport, format: ReportFormat, withGrid = false, view?: DeployView): string {
  switch (format) {
    case 'json':
      return formatJson(report, withGrid);
    case 'markdown':
      return formatMarkdown(report, view);
    case 'csv':
      return formatCsv(report, view);
    case 'netron':
      return formatNetron(report);
    case 'model-explorer':
      return formatModelExplorer(report);
    default:
      return formatTable(report, view);
  }
}
