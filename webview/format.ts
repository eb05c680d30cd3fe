// Words and numbers as the panel writes them. Every colour in the panel has one of these text equivalents.
import type { LayerReport, LayerSpeedup } from '../src/engine/sparsity/inspect';

/** A layer's verdict; the CSS class `status-<kind>` colours it, `word` says it. */
export type StatusKind = 'pass' | 'nearly' | 'fail' | 'ineligible' | 'error' | 'pending';

export interface Status {
  kind: StatusKind;
  word: string;
  /** Shown next to the word where colour cannot be seen: ✓ ≈ ✗ – ! … */
  symbol: string;
}

export const STATUSES: Record<StatusKind, Status> = {
  pass: { kind: 'pass', word: 'passing', symbol: '✓' },
  nearly: { kind: 'nearly', word: 'nearly passing', symbol: '≈' },
  fail: { kind: 'fail', word: 'failing', symbol: '✗' },
  ineligible: { kind: 'ineligible', word: 'ineligible', symbol: '–' },
  error: { kind: 'error', word: 'error', symbol: '!' },
  pending: { kind: 'pending', word: 'not scanned yet', symbol: '…' },
};

/** Only the fields a verdict needs, so layers listed before their numbers (LayerRow) have one too. */
export type Verdict = Partial<Pick<LayerReport, 'error' | 'eligible' | 'pass' | 'nearlyPassing' | 'compliance'>>;

export function layerStatus(layer: Verdict): Status {
  if (layer.eligible === undefined) return STATUSES.pending;
  if (layer.error) return STATUSES.error;
  if (!layer.eligible) return STATUSES.ineligible;
  if (layer.compliance === null || layer.compliance === undefined) return STATUSES.pending;
  if (layer.pass) return STATUSES.pass;
  return layer.nearlyPassing ? STATUSES.nearly : STATUSES.fail;
}

/** Sorting rank: failing first, then nearly passing, passing, and the layers without a verdict. */
export const STATUS_RANK: Record<StatusKind, number> = { fail: 0, nearly: 1, pass: 2, error: 3, ineligible: 4, pending: 5 };

/** Tile compliance levels of the group heatmaps, from the fraction of valid groups (legend and canvas share them). */
export type Level = 'pass' | 'nearly' | 'partial' | 'low' | 'empty';

export const LEVELS: { level: Level; label: string }[] = [
  { level: 'pass', label: '100 % valid' },
  { level: 'nearly', label: '99 – 100 %' },
  { level: 'partial', label: '50 – 99 %' },
  { level: 'low', label: 'under 50 %' },
  { level: 'empty', label: 'no groups' },
];

export function complianceLevel(valid: number, total: number): Level {
  if (total === 0) return 'empty';
  if (valid === total) return 'pass';
  const c = valid / total;
  return c >= 0.99 ? 'nearly' : c >= 0.5 ? 'partial' : 'low';
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function count(n: number): string {
  return integer.format(n);
}

/** 0.99783 → "99.78 %"; 1 → "100 %"; null → "–". A fraction under 1 never reads as 100 %. */
export function percent(fraction: number | null | undefined, digits = 2): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
  if (fraction === 1) return '100 %';
  const text = (fraction * 100).toFixed(digits);
  const ceiling = (100 - 10 ** -digits).toFixed(digits);
  return `${fraction < 1 && Number(text) >= 100 ? ceiling : text} %`;
}

/** An inclusive range of indexes: "3" or "3–7". */
export function span(first: number, last: number): string {
  return first === last ? String(first) : `${first}–${last}`;
}

export function shape(dims: number[] | null): string {
  return dims ? `[${dims.join('×')}]` : '[?]';
}

export function speedup(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}×`;
}

/** Seconds → "12.3 µs", "4.56 ms", "1.20 s". */
export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s === 0) return '0 s';
  if (s < 1e-6) return `${(s * 1e9).toFixed(1)} ns`;
  if (s < 1e-3) return `${(s * 1e6).toFixed(1)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(2)} ms`;
  return `${s.toFixed(2)} s`;
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** The last path segment: the panel shows a model's file name, not where it lives. */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** A layer as the panel knows it: at least the lazy parse's row, the scan's numbers once they arrive. */
export type PanelLayer = Pick<LayerReport, 'name' | 'op' | 'graph' | 'shape' | 'dtype' | 'axis'> & Partial<LayerReport> & Partial<LayerSpeedup>;

/** The sentence screen readers and tooltips give for a layer: name, op, shape, verdict and its numbers. */
export function describeLayer(layer: PanelLayer): string {
  const status = layerStatus(layer);
  let details = '';
  if (status.kind === 'pass' || status.kind === 'nearly' || status.kind === 'fail') {
    details = `, ${percent(layer.compliance)} compliance, ${count(layer.validGroups ?? 0)} of ${count(layer.groups ?? 0)} groups valid`;
  } else if (layer.error || layer.reason) {
    details = `: ${layer.error || layer.reason}`;
  }
  return `${layer.name}, ${layer.op} ${shape(layer.shape)}${layer.storedAs ? ` (${layer.storedAs})` : ''}: ${status.word}${details}`;
}
