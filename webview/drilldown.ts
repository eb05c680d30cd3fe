// One layer in detail: its facts, why it is ineligible, its warnings, whether it runs sparse on each deploy target
// (why not, and the fix), the group-level heatmap of its weight (a tile
// map; Enter or click zooms into a tile's real groups), the histograms, patterns and block ratios, and the index
// encodings of a picked group.
import type { LayerReport, LayerSpeedup } from '../src/engine/sparsity/inspect';
import type { Pattern } from '../src/engine/sparsity/pattern';
import type { GroupEncodings, GroupRegion, RegionGroups } from '../src/protocol';
import { CanvasGrid, type Palette, cellSize, readPalette } from './canvasGrid';
import { button } from './components';
import { type ColourBy, layerDeployView } from './deploy';
import { el, facts, replace } from './dom';
import { encodingsView } from './encodings';
import { LEVELS, type Level, complianceLevel, count, layerStatus, percent, seconds, shape, span, speedup } from './format';
import { type LayerGeometry, layerGeometry, tileExtent, tileGroups } from './geometry';
import { countHistogram, maskHistogram, patternsAndBlocks } from './histograms';
import { ZoomView } from './zoom';

export interface DrilldownActions {
  onBack(): void;
  requestRegion(region: GroupRegion): void;
  requestEncodings(layer: string, row: number, group: number, position: number): void;
}

export class LayerDrilldown {
  readonly element = el('section', { class: 'drilldown', id: 'drilldown', 'aria-label': 'Layer details', hidden: true });
  private layer: LayerReport | null = null;
  private pattern: Pattern = { n: 2, m: 4 };
  private tiles: CanvasGrid | null = null;
  private legend: HTMLCanvasElement[] = [];
  private zoom: ZoomView | null = null;
  private readonly zoomSlot = el('div', { class: 'zoom-slot' });
  private readonly encodingsSlot = el('div', { class: 'encodings-slot', 'aria-live': 'polite' });
  private readonly deploySlot = el('div', { class: 'deploy-slot' });
  private pendingEncodings: { row: number; group: number; position: number } | null = null;

  constructor(private readonly actions: DrilldownActions) {}

  get layerName(): string | null {
    return this.layer?.name ?? null;
  }

  show(layer: LayerReport, pattern: Pattern, target: ColourBy = null): void {
    this.layer = layer;
    this.setTarget(target);
    this.pattern = pattern;
    this.zoom = null;
    this.pendingEncodings = null;
    replace(this.zoomSlot);
    replace(this.encodingsSlot);
    const status = layerStatus(layer);
    const geo = layerGeometry(layer, pattern);
    replace(
      this.element,
      el('div', { class: 'drilldown-header' }, button('← Back to model', () => this.actions.onBack(), { secondary: true, id: 'back' }), el('h2', { id: 'layer-heading', tabindex: -1 }, layer.name)),
      el('p', { class: `verdict status-${status.kind}`, id: 'layer-verdict' }, `${status.symbol} ${status.word}`, layer.compliance === null ? '' : `: ${percent(layer.compliance)} compliance (${count(layer.validGroups)} of ${count(layer.groups)} groups of ${pattern.m} have at most ${pattern.n} non-zeros)`),
      (layer.error || layer.reason) && el('p', { class: 'reason', role: 'note', id: 'layer-reason' }, `Why: ${layer.error ?? layer.reason}`),
      layer.warnings.length > 0 && el('ul', { class: 'warnings', 'aria-label': 'Warnings', id: 'layer-warnings' }, ...layer.warnings.map((w) => el('li', {}, `⚠ ${w}`))),
      this.deploySlot,
      layerFacts(layer),
      geo && this.tileMap(layer, geo),
      this.zoomSlot,
      this.encodingsSlot,
      el('div', { class: 'stats-columns' }, countHistogram(layer, pattern), maskHistogram(layer, pattern), patternsAndBlocks(layer)),
    );
    this.element.hidden = false;
  }

  /** The verdicts of the open layer, the chosen target's in full. */
  setTarget(target: ColourBy): void {
    replace(this.deploySlot, this.layer && layerDeployView(this.layer, target));
  }

  hide(): void {
    this.element.hidden = true;
    this.layer = null;
    this.tiles = null;
    this.zoom = null;
  }

  focus(): void {
    (this.element.querySelector<HTMLElement>('#layer-heading') ?? this.element).focus();
  }

  /** Escape: closes the zoom first; true when it did, false when the drill-down itself should close. */
  closeInner(): boolean {
    if (!this.zoom) return false;
    this.zoom = null;
    this.pendingEncodings = null;
    replace(this.zoomSlot);
    replace(this.encodingsSlot);
    this.tiles?.canvas.focus();
    return true;
  }

  showRegion(groups: RegionGroups): void {
    if (this.zoom?.showRegion(groups)) this.zoom.focus();
  }

  /** An error came instead of a region or encodings reply. */
  stopWaiting(): void {
    this.zoom?.stopWaiting();
    if (this.pendingEncodings) {
      this.pendingEncodings = null;
      replace(this.encodingsSlot, el('p', { class: 'problem' }, 'The group could not be encoded: see the message above.'));
    }
  }

  showEncodings(enc: GroupEncodings): void {
    const want = this.pendingEncodings;
    if (!this.layer || enc.layer !== this.layer.name || !want || want.row !== enc.row || want.group !== enc.group || want.position !== enc.position) return;
    replace(this.encodingsSlot, encodingsView(enc, this.pattern.m));
  }

  redraw(): void {
    const palette = readPalette();
    this.tiles?.redraw(palette);
    this.legend.forEach((canvas) => paintLegend(canvas, palette));
    this.zoom?.redraw();
  }

  private tileMap(layer: LayerReport, geo: LayerGeometry): HTMLElement {
    const grid = layer.grid!;
    const size = cellSize(Math.max(grid.cols, grid.rows / 0.6), 720, 4, 24);
    this.tiles = new CanvasGrid({
      id: 'tile-map',
      label: `Compliance of ${layer.name} by tile: ${grid.rows} rows of output features by ${grid.cols} columns of K-chunks and positions. Arrow keys move, Enter zooms into a tile.`,
      rows: grid.rows,
      cols: grid.cols,
      cellWidth: size,
      cellHeight: size,
      gap: size >= 8 ? 1 : 0,
      paint: (ctx, row, col, x, y, palette) => {
        const i = row * grid.cols + col;
        paintTile(ctx, complianceLevel(grid.valid[i], grid.total[i]), x, y, size, palette);
      },
      describe: (row, col) => describeTile(geo, grid, row, col),
      onActivate: (row, col) => this.openZoom(layer, geo, row, col),
    });
    this.legend = LEVELS.map((_, i) => el('canvas', { class: 'legend-swatch', 'aria-hidden': 'true', 'data-index': i }));
    const palette = readPalette();
    this.legend.forEach((canvas) => paintLegend(canvas, palette));
    const legend = el('ul', { class: 'legend', 'aria-label': 'Legend' }, ...LEVELS.map((l, i) => el('li', { 'data-level': l.level }, this.legend[i], l.label)));
    return el('section', { class: 'tile-map', 'aria-label': 'Group-level heatmap' }, el('h3', {}, 'Groups by tile (rows: output features; columns: K-chunks × positions)'), legend, this.tiles.element);
  }

  private openZoom(layer: LayerReport, geo: LayerGeometry, row: number, col: number): void {
    replace(this.encodingsSlot);
    this.pendingEncodings = null;
    this.zoom = new ZoomView(layer.name, geo, this.pattern, tileExtent(geo, row, col), {
      requestRegion: (region) => this.actions.requestRegion(region),
      pickGroup: (r, group, position) => this.pickGroup(layer.name, r, group, position),
    });
    replace(this.zoomSlot, this.zoom.element);
  }

  private pickGroup(layer: string, row: number, group: number, position: number): void {
    if (this.pattern.m !== 4) {
      replace(this.encodingsSlot, el('p', { class: 'note', id: 'encodings-note' }, 'Index encodings (Ascend, NVIDIA) exist for 2:4 groups of 4: choose the 2:4 pattern to see them.'));
      return;
    }
    this.pendingEncodings = { row, group, position };
    replace(this.encodingsSlot, el('p', { class: 'loading', role: 'status' }, 'Encoding the group…'));
    this.actions.requestEncodings(layer, row, group, position);
  }
}

function layerFacts(layer: LayerReport): HTMLElement {
  const projected = layer as LayerReport & Partial<LayerSpeedup>;
  const rows: [string, string][] = [
    ['Op', layer.graph === 'main' ? layer.op : `${layer.op} (in ${layer.graph})`],
    ['Weight', `${layer.weight} ${shape(layer.shape)} ${layer.dtype ?? ''}`],
    ...(layer.storedAs ? [['Stored as', layer.storedAs] as [string, string]] : []),
    ['Reduction axis K', layer.axis === null ? 'unknown' : `${layer.axis} (K = ${layer.shape?.[layer.axis] ?? '?'}); output features on axis ${layer.outAxis ?? '?'}`],
    ['Parameters', count(layer.elements)],
  ];
  if (layer.zeros !== null) rows.push(['Zeros', `${count(layer.zeros)} (${percent(layer.elements ? layer.zeros / layer.elements : 0, 1)})`]);
  if (layer.retainedMagnitude !== null) rows.push(['Magnitude kept if pruned', percent(layer.retainedMagnitude, 1)]);
  // A weight that is a constant only after folding: what the runtime folds, from which constants.
  if (layer.folded) rows.push(['Folded weight', `${layer.folded.note} (folded: ${layer.folded.ops.join(' → ')} of ${layer.folded.from.join(', ')})`]);
  if (layer.chain.length > 0) rows.push(['Ops before the layer', layer.chain.join(' → ')]);
  if (layer.zeroPoint !== 'none') rows.push(['Zero point', layer.zeroPoint]);
  if (layer.stored) rows.push(['Stored', layer.stored.text]);
  if (projected.macs === null && projected.bound === 'none') {
    // No time where the layer's shapes are unknown (a symbolic batch with none chosen...): not a time of 0 s.
    rows.push(['Projected time', 'not projected: the shapes around this layer are unknown (the Speedup tab lists why)']);
  } else if (projected.denseTime !== undefined && projected.denseTime !== null) {
    rows.push(['Projected time', `dense ${seconds(projected.denseTime)}, sparse ${seconds(projected.sparseTime)} (${projected.bound}-bound), ${speedup(projected.speedup)}`]);
  }
  const list = facts(rows);
  // A tab stop after Back: a layer with no tile map has nothing else to focus, and Tab would leave the panel.
  list.id = 'layer-facts';
  list.tabIndex = 0;
  list.setAttribute('aria-label', 'Layer facts');
  return list;
}

function describeTile(geo: LayerGeometry, grid: NonNullable<LayerReport['grid']>, row: number, col: number): string {
  const i = row * grid.cols + col;
  const tile = tileExtent(geo, row, col);
  const m = geo.shape.pattern.m;
  const position = tile.column0 % geo.shape.P;
  const { group0, group1 } = tileGroups(geo, tile, position);
  const level = LEVELS.find((l) => l.level === complianceLevel(grid.valid[i], grid.total[i]))!;
  const positions = Math.min(tile.column1 - tile.column0, geo.shape.P);
  const features = tile.row1 - tile.row0 > 1 ? `output features ${span(tile.row0, tile.row1 - 1)}` : `output feature ${tile.row0}`;
  const groups = grid.total[i] ? `${count(grid.valid[i])} of ${count(grid.total[i])} groups valid (${percent(grid.valid[i] / grid.total[i])})` : 'no groups';
  return `Tile (${row}, ${col}): ${features}, K ${span(group0 * m, group1 * m - 1)}${positions > 1 ? ` at ${positions} positions` : ` at position ${position}`}: ${groups}, ${level.label}`;
}

/** A tile's colour, and a mark so that the levels differ without colour: none, a dot, one stroke, a cross. */
function paintTile(ctx: CanvasRenderingContext2D, level: Level, x: number, y: number, size: number, palette: Palette): void {
  if (level === 'empty') {
    ctx.strokeStyle = palette.empty;
    ctx.lineWidth = 1;
    ctx.strokeRect(x + 0.5, y + 0.5, size - 1, size - 1);
    return;
  }
  ctx.fillStyle = palette[level];
  ctx.fillRect(x, y, size, size);
  if (size < 8 || level === 'pass') return;
  ctx.strokeStyle = palette.background;
  ctx.fillStyle = palette.background;
  ctx.lineWidth = Math.max(1, size / 10);
  const pad = size / 4;
  if (level === 'nearly') {
    ctx.beginPath();
    ctx.arc(x + size / 2, y + size / 2, size / 8, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(x + pad, y + size - pad);
  ctx.lineTo(x + size - pad, y + pad);
  if (level === 'low') {
    ctx.moveTo(x + pad, y + pad);
    ctx.lineTo(x + size - pad, y + size - pad);
  }
  ctx.stroke();
}

function paintLegend(canvas: HTMLCanvasElement, palette: Palette): void {
  const size = 14;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = size * ratio;
  canvas.height = size * ratio;
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, size, size);
  const level = LEVELS[Number(canvas.dataset.index ?? 0)]?.level ?? 'pass';
  paintTile(ctx, level, 0, 0, size, palette);
}
