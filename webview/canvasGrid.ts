// A grid of cells drawn on a canvas (up to 128 x 128 tiles, or a zoomed region of groups), with a keyboard cursor
// and a status line that says in words what the cell under the cursor or the mouse holds.
import { el } from './dom';

/** Theme colours the canvas draws with, read from the CSS custom properties panel.css derives from VS Code's. */
export interface Palette {
  pass: string;
  nearly: string;
  partial: string;
  low: string;
  empty: string;
  foreground: string;
  background: string;
  focus: string;
  /** Alpha of a zoomed group's pass or violating tint (higher in high contrast: panel.css). */
  groupFillAlpha: number;
}

export function readPalette(): Palette {
  const style = getComputedStyle(document.body);
  const get = (name: string, fallback: string) => style.getPropertyValue(`--lens-${name}`).trim() || fallback;
  return {
    pass: get('pass', '#3794ff'),
    nearly: get('nearly', '#cca700'),
    partial: get('partial', '#d18616'),
    low: get('low', '#f14c4c'),
    empty: get('empty', '#808080'),
    foreground: get('foreground', '#cccccc'),
    background: get('background', '#1e1e1e'),
    focus: get('focus', '#007fd4'),
    groupFillAlpha: Number(get('group-fill-alpha', '0.35')) || 0.35,
  };
}

export interface CanvasGridOptions {
  id: string;
  /** What the grid is and how to use it, for screen readers. */
  label: string;
  rows: number;
  cols: number;
  cellWidth: number;
  cellHeight: number;
  /** Pixels between cells. */
  gap: number;
  paint(ctx: CanvasRenderingContext2D, row: number, col: number, x: number, y: number, palette: Palette): void;
  describe(row: number, col: number): string;
  onActivate(row: number, col: number): void;
}

export class CanvasGrid {
  readonly element: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly status: HTMLElement;
  private row = 0;
  private col = 0;
  private focused = false;

  constructor(private readonly options: CanvasGridOptions) {
    const { id, label } = options;
    this.status = el('p', { class: 'grid-status', id: `${id}-status`, 'aria-live': 'polite' });
    // role=application: screen readers pass the arrow keys through to the cursor instead of reading the page.
    this.canvas = el('canvas', { id, tabindex: 0, role: 'application', 'aria-label': label, 'aria-describedby': `${id}-status`, 'data-rows': options.rows, 'data-cols': options.cols });
    this.element = el('div', { class: 'canvas-grid' }, this.canvas, this.status);
    this.canvas.addEventListener('keydown', (event) => this.onKey(event));
    this.canvas.addEventListener('click', (event) => {
      const cell = this.cellAt(event.offsetX, event.offsetY);
      if (!cell) return;
      this.moveTo(cell.row, cell.col);
      options.onActivate(cell.row, cell.col);
    });
    this.canvas.addEventListener('mousemove', (event) => {
      const cell = this.cellAt(event.offsetX, event.offsetY);
      this.canvas.title = cell ? options.describe(cell.row, cell.col) : '';
    });
    this.canvas.addEventListener('focus', () => {
      this.focused = true;
      this.announce();
      this.redraw();
    });
    this.canvas.addEventListener('blur', () => {
      this.focused = false;
      this.redraw();
    });
    this.redraw();
  }

  moveTo(row: number, col: number): void {
    this.row = Math.max(0, Math.min(this.options.rows - 1, row));
    this.col = Math.max(0, Math.min(this.options.cols - 1, col));
    this.announce();
    this.redraw();
  }

  redraw(palette = readPalette()): void {
    const { rows, cols, cellWidth, cellHeight, gap } = this.options;
    const width = cols * (cellWidth + gap) + gap;
    const height = rows * (cellHeight + gap) + gap;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) this.options.paint(ctx, r, c, gap + c * (cellWidth + gap), gap + r * (cellHeight + gap), palette);
    }
    if (this.focused) {
      ctx.strokeStyle = palette.focus;
      ctx.lineWidth = 2;
      ctx.strokeRect(gap / 2 + this.col * (cellWidth + gap), gap / 2 + this.row * (cellHeight + gap), cellWidth + gap, cellHeight + gap);
    }
  }

  private announce(): void {
    this.status.textContent = this.options.describe(this.row, this.col);
  }

  private cellAt(x: number, y: number): { row: number; col: number } | null {
    const { rows, cols, cellWidth, cellHeight, gap } = this.options;
    const col = Math.floor((x - gap / 2) / (cellWidth + gap));
    const row = Math.floor((y - gap / 2) / (cellHeight + gap));
    return row >= 0 && row < rows && col >= 0 && col < cols ? { row, col } : null;
  }

  private onKey(event: KeyboardEvent): void {
    const page = 8;
    const moves: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
      PageUp: [-page, 0],
      PageDown: [page, 0],
    };
    if (event.key in moves) {
      const [dr, dc] = moves[event.key];
      this.moveTo(this.row + dr, this.col + dc);
    } else if (event.key === 'Home') {
      this.moveTo(this.row, 0);
    } else if (event.key === 'End') {
      this.moveTo(this.row, this.options.cols - 1);
    } else if (event.key === 'Enter' || event.key === ' ') {
      this.options.onActivate(this.row, this.col);
    } else {
      return;
    }
    event.preventDefault();
  }
}

/** The cell size that fits `count` cells in `space` pixels, between `min` and `max`. */
export function cellSize(count: number, space: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(space / Math.max(1, count))));
}
