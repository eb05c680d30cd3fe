// The zoom into one tile: the real groups of a window of it (asked of the host as a `region`), each drawn as its M
// elements (filled: non-zero). Picking a group asks for its index encodings.
import type { Pattern } from '../src/engine/sparsity/pattern';
import type { GroupRegion, RegionGroups } from '../src/protocol';
import { CanvasGrid, type Palette, cellSize } from './canvasGrid';
import { button } from './components';
import { el, replace } from './dom';
import { type LayerGeometry, type TileExtent, type ZoomWindow, tileGroups, tilePositions, zoomRegion } from './geometry';
import { span } from './format';
import { maskPicture } from './histograms';

export interface ZoomActions {
  requestRegion(region: GroupRegion): void;
  pickGroup(row: number, group: number, position: number): void;
}

export class ZoomView {
  readonly element: HTMLElement;
  private readonly heading = el('h3', { id: 'zoom-heading', tabindex: -1 });
  private readonly controls = el('div', { class: 'zoom-controls', role: 'group', 'aria-label': 'Move the zoom window' });
  private readonly body = el('div', { class: 'zoom-body' });
  private readonly positions: number[];
  private window: ZoomWindow;
  private region: GroupRegion | null = null;
  private groups: RegionGroups | null = null;
  private grid: CanvasGrid | null = null;
  private picked: { row: number; group: number } | null = null;

  constructor(
    private readonly layer: string,
    private readonly geo: LayerGeometry,
    private readonly pattern: Pattern,
    private readonly tile: TileExtent,
    private readonly actions: ZoomActions,
  ) {
    this.positions = tilePositions(geo, tile);
    this.window = { position: this.positions[0] ?? 0, rowOffset: 0, groupOffset: 0 };
    this.element = el('section', { class: 'zoom', id: 'zoom', 'aria-label': 'Zoomed tile' }, this.heading, this.controls, this.body);
    this.request();
  }

  /** Draws a region reply; false when it is not the region this view asked for last. */
  showRegion(groups: RegionGroups): boolean {
    const asked = this.region;
    // The host clamps a region to the weight: the reply's start identifies it, its extent is what it holds.
    if (!asked || groups.layer !== asked.layer || groups.row0 !== asked.row0 || groups.group0 !== asked.group0 || groups.position !== asked.position) return false;
    const r: GroupRegion = { layer: groups.layer, row0: groups.row0, row1: groups.row1, group0: groups.group0, group1: groups.group1, position: groups.position };
    if (r.row1 <= r.row0 || r.group1 <= r.group0 || groups.counts.length !== (r.row1 - r.row0) * (r.group1 - r.group0)) {
      replace(this.body, el('p', { class: 'problem' }, 'The host sent no groups for this tile.'));
      return false;
    }
    this.region = r;
    this.groups = groups;
    const across = r.group1 - r.group0;
    const down = r.row1 - r.row0;
    const m = this.pattern.m;
    const element = cellSize(across * m, 720, 3, 20);
    this.grid = new CanvasGrid({
      id: 'zoom-grid',
      label: `Groups of output features ${span(r.row0, r.row1 - 1)}, K ${span(r.group0 * m, r.group1 * m - 1)}, one cell per group of ${m}. Arrow keys move, Enter shows the group's index encodings.`,
      rows: down,
      cols: across,
      cellWidth: element * m,
      cellHeight: element,
      gap: 3,
      paint: (ctx, row, col, x, y, palette) => this.paintGroup(ctx, row, col, x, y, element, palette),
      describe: (row, col) => this.describeGroup(row, col),
      onActivate: (row, col) => this.pick(row, col),
    });
    replace(this.body, this.grid.element);
    return true;
  }

  redraw(): void {
    this.grid?.redraw();
  }

  /** The host answered with an error instead of the groups. */
  stopWaiting(): void {
    if (!this.groups && this.region) replace(this.body, el('p', { class: 'problem' }, 'The groups could not be read: see the message above.'));
  }

  focus(): void {
    (this.grid?.canvas ?? this.heading).focus();
  }

  private request(): void {
    this.region = zoomRegion(this.layer, this.geo, this.tile, this.window);
    this.groups = null;
    this.grid = null;
    this.picked = null;
    this.renderHeading();
    if (!this.region) {
      replace(this.body, el('p', {}, 'This tile holds no groups at this position.'));
      return;
    }
    replace(this.body, el('p', { class: 'loading', role: 'status' }, 'Reading the groups…'));
    this.actions.requestRegion(this.region);
  }

  private renderHeading(): void {
    const t = this.tile;
    const r = this.region;
    const { group0, group1 } = tileGroups(this.geo, t, this.window.position);
    const m = this.pattern.m;
    const features = (a: number, b: number) => `output feature${b - a > 1 ? 's' : ''} ${span(a, b - 1)}`;
    let heading = `Tile (${t.tileRow}, ${t.tileCol}): ${features(t.row0, t.row1)}, K ${span(group0 * m, group1 * m - 1)}, position ${this.window.position}`;
    if (r && (r.row1 - r.row0 < t.row1 - t.row0 || r.group1 - r.group0 < group1 - group0)) {
      heading += ` (showing ${features(r.row0, r.row1)}, K ${span(r.group0 * m, r.group1 * m - 1)})`;
    }
    this.heading.textContent = heading;
    const shift = (change: Partial<ZoomWindow>) => () => {
      this.window = { ...this.window, ...change };
      this.request();
    };
    const buttons: HTMLElement[] = [];
    if (r) {
      const across = r.group1 - r.group0;
      const down = r.row1 - r.row0;
      const { rowOffset, groupOffset } = this.window;
      if (r.group0 > group0) buttons.push(button('◀ Earlier K', shift({ groupOffset: Math.max(0, groupOffset - across) }), { secondary: true }));
      if (r.group1 < group1) buttons.push(button('Later K ▶', shift({ groupOffset: groupOffset + across }), { secondary: true }));
      if (r.row0 > t.row0) buttons.push(button('▲ Rows above', shift({ rowOffset: Math.max(0, rowOffset - down) }), { secondary: true }));
      if (r.row1 < t.row1) buttons.push(button('Rows below ▼', shift({ rowOffset: rowOffset + down }), { secondary: true }));
    }
    const index = this.positions.indexOf(this.window.position);
    if (index > 0) buttons.push(button('Previous position', shift({ position: this.positions[index - 1], rowOffset: 0, groupOffset: 0 }), { secondary: true }));
    if (index >= 0 && index < this.positions.length - 1) buttons.push(button('Next position', shift({ position: this.positions[index + 1], rowOffset: 0, groupOffset: 0 }), { secondary: true }));
    replace(this.controls, ...buttons);
  }

  private groupAt(row: number, col: number): { count: number; mask: number } {
    const r = this.region!;
    const i = row * (r.group1 - r.group0) + col;
    return { count: this.groups!.counts[i], mask: this.groups!.masks[i] };
  }

  private paintGroup(ctx: CanvasRenderingContext2D, row: number, col: number, x: number, y: number, size: number, palette: Palette): void {
    const { count, mask } = this.groupAt(row, col);
    const m = this.pattern.m;
    const valid = count <= this.pattern.n;
    ctx.globalAlpha = palette.groupFillAlpha;
    ctx.fillStyle = valid ? palette.pass : palette.low;
    ctx.fillRect(x, y, size * m, size);
    ctx.globalAlpha = 1;
    ctx.fillStyle = palette.foreground;
    const inset = size >= 6 ? 1 : 0;
    for (let i = 0; i < m; i++) if ((mask >> i) & 1) ctx.fillRect(x + i * size + inset, y + inset, size - 2 * inset, size - 2 * inset);
    if (!valid) {
      // Not colour alone: a violating group is underlined.
      ctx.fillStyle = palette.low;
      ctx.fillRect(x, y + size - 1, size * m, 2);
    }
    const p = this.picked;
    if (p && p.row === row && p.group === col) {
      ctx.strokeStyle = palette.foreground;
      ctx.lineWidth = 1;
      ctx.strokeRect(x - 1.5, y - 1.5, size * m + 3, size + 3);
    }
  }

  private describeGroup(row: number, col: number): string {
    if (!this.groups || !this.region) return '';
    const { count, mask } = this.groupAt(row, col);
    const m = this.pattern.m;
    const group = this.region.group0 + col;
    const verdict = count <= this.pattern.n ? `valid ${this.pattern.n}:${m}` : `violates ${this.pattern.n}:${m}`;
    return `Output feature ${this.region.row0 + row}, K ${group * m}–${group * m + m - 1}: ${maskPicture(mask, m)}, ${count} non-zero${count === 1 ? '' : 's'}, ${verdict}`;
  }

  private pick(row: number, col: number): void {
    if (!this.region) return;
    this.picked = { row, group: col };
    this.grid?.redraw();
    this.actions.pickGroup(this.region.row0 + row, this.region.group0 + col, this.region.position);
  }
}
