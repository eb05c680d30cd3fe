// The model heatmap: one cell per layer in graph order, its status in colour, symbol, word and percentage; with a
// deploy target chosen, whether it runs sparse there (webview/deploy.ts).
// A grid with one roving tab stop: arrow keys move (up and down by visual line), Enter or Space opens the layer.
// Transformer models (layer names with block indexes) get a row per block, headed "L0", "L1"...; the table's filter
// marks the cells it keeps and dims the rest (issue 14 item 2).
import { type ColourBy, deployStatus, describeDeploy } from './deploy';
import { el, replace } from './dom';
import { blockIndex, cellLabels } from './names';
import { type PanelLayer, describeLayer, layerStatus, percent } from './format';

export class ModelHeatmap {
  readonly element: HTMLElement;
  private readonly grid = el('div', { class: 'heatmap', role: 'grid', 'aria-label': 'Layers in graph order. Arrow keys move, Enter opens a layer.', id: 'heatmap' });
  /** How many cells the table's filter keeps, spoken when it changes. */
  private readonly matchCount = el('p', { class: 'heatmap-matches', id: 'heatmap-matches', 'aria-live': 'polite' });
  private cells: HTMLElement[] = [];
  private active = 0;
  /** The layers the table's filter keeps; null: no filter. */
  private matching: ReadonlySet<string> | null = null;

  constructor(private readonly onOpen: (name: string) => void) {
    this.element = el('div', { class: 'heatmap-area' }, this.matchCount, this.grid);
    this.grid.addEventListener('keydown', (event) => this.onKey(event));
  }

  setLayers(layers: PanelLayer[], colourBy: ColourBy = null): void {
    const focused = this.cells.indexOf(document.activeElement as HTMLElement);
    const blocks = layers.map((l) => blockIndex(l.name));
    const grouped = new Set(blocks.filter((b) => b !== null)).size >= 2;
    // In a block's row its header says "L0": the cell keeps the rest of its name.
    const labels = cellLabels(layers.map((l) => l.name)).map((label, i) => (grouped && blocks[i] !== null ? label.replace(/^L\d+ /, '') : label));
    this.cells = layers.map((layer, i) => this.cell(layer, i, colourBy, labels[i]));
    replace(this.grid, ...(grouped ? this.blockRows(blocks) : [el('div', { role: 'row', class: 'heatmap-row' }, ...this.cells)]));
    this.active = Math.min(this.active, Math.max(0, this.cells.length - 1));
    this.cells.forEach((c, i) => (c.tabIndex = i === this.active ? 0 : -1));
    this.applyHighlight();
    if (focused >= 0 && this.cells[this.active]) this.cells[this.active].focus();
  }

  /** Marks the cells of the layers the table's filter keeps and dims the rest (null: no filter, nothing dimmed). */
  highlight(matching: ReadonlySet<string> | null): void {
    this.matching = matching;
    this.applyHighlight();
  }

  private applyHighlight(): void {
    const matching = this.matching;
    this.grid.classList.toggle('filtered', matching !== null);
    let first = -1;
    this.cells.forEach((cell, i) => {
      const match = matching !== null && matching.has(cell.dataset.layer!);
      cell.classList.toggle('match', match);
      if (matching) cell.setAttribute('aria-selected', String(match));
      else cell.removeAttribute('aria-selected');
      if (match && first < 0) first = i;
    });
    const total = this.cells.length;
    this.matchCount.textContent = !matching ? '' : matching.size === 0 ? `None of the ${total} layers matches the table's filter.` : `${matching.size} of ${total} layers match the table's filter: marked, the rest dimmed.`;
    // Tab into the heatmap lands on the first match, unless focus is already in it.
    if (first >= 0 && !this.cells.includes(document.activeElement as HTMLElement) && !(this.cells[this.active]?.classList.contains('match'))) {
      this.cells[this.active]?.setAttribute('tabindex', '-1');
      this.active = first;
      this.cells[first].tabIndex = 0;
    }
  }

  /** A transformer's rows (two or more blocks): one per run of cells in one block, headed by it, in graph order. */
  private blockRows(blocks: (number | null)[]): HTMLElement[] {
    const rows: HTMLElement[] = [];
    let start = 0;
    for (let i = 1; i <= blocks.length; i++) {
      if (i < blocks.length && blocks[i] === blocks[start]) continue;
      const block = blocks[start];
      const header = block === null ? el('span', { role: 'rowheader', class: 'block-label', 'aria-label': 'Outside the blocks' }, '–') : el('span', { role: 'rowheader', class: 'block-label', 'aria-label': `Block ${block}` }, `L${block}`);
      rows.push(el('div', { role: 'row', class: 'heatmap-row heat-block', 'data-block': block ?? '' }, header, el('div', { class: 'heat-block-cells', role: 'presentation' }, ...this.cells.slice(start, i))));
      start = i;
    }
    return rows;
  }

  /** Moves the tab stop to a layer's cell and focuses it (returning from the drill-down). */
  focusLayer(name: string): void {
    const index = this.cells.findIndex((c) => c.dataset.layer === name);
    if (index >= 0) this.move(index);
  }

  private cell(layer: PanelLayer, index: number, colourBy: ColourBy, label: string): HTMLElement {
    const status = colourBy ? deployStatus(layer, colourBy) : layerStatus(layer);
    const description = colourBy ? describeDeploy(layer, colourBy) : describeLayer(layer);
    const figure = !colourBy && (status.kind === 'pass' || status.kind === 'nearly' || status.kind === 'fail') ? percent(layer.compliance, 1) : status.word;
    const bar = el('span', { class: 'cell-bar' });
    if (layer.compliance !== null && layer.compliance !== undefined) bar.style.width = `${(layer.compliance * 100).toFixed(1)}%`;
    const cell = el(
      'div',
      { role: 'gridcell', class: `heat-cell status-${status.kind}`, 'aria-label': description, title: description, 'data-layer': layer.name, 'data-index': index },
      el('span', { class: 'cell-name' }, label),
      el('span', { class: 'cell-status' }, `${status.symbol} ${figure}`),
      bar,
    );
    cell.addEventListener('click', () => {
      this.move(index);
      this.onOpen(layer.name);
    });
    return cell;
  }

  private onKey(event: KeyboardEvent): void {
    const last = this.cells.length - 1;
    let next = this.active;
    switch (event.key) {
      case 'ArrowRight':
        next = Math.min(last, this.active + 1);
        break;
      case 'ArrowLeft':
        next = Math.max(0, this.active - 1);
        break;
      case 'ArrowDown':
        next = this.verticalNeighbour(1);
        break;
      case 'ArrowUp':
        next = this.verticalNeighbour(-1);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = last;
        break;
      case 'Enter':
      case ' ':
        event.preventDefault();
        this.onOpen(this.cells[this.active].dataset.layer!);
        return;
      default:
        return;
    }
    event.preventDefault();
    this.move(next);
  }

  private move(index: number): void {
    this.cells[this.active]?.setAttribute('tabindex', '-1');
    this.active = index;
    const cell = this.cells[index];
    cell.tabIndex = 0;
    cell.focus();
  }

  /** The cell on the next (direction 1) or previous (-1) visual line nearest the active cell's centre. */
  private verticalNeighbour(direction: 1 | -1): number {
    const current = this.cells[this.active].getBoundingClientRect();
    const x = current.left + current.width / 2;
    let best = this.active;
    let bestLine = Infinity;
    let bestDx = Infinity;
    this.cells.forEach((cell, i) => {
      const box = cell.getBoundingClientRect();
      const line = (box.top - current.top) * direction;
      if (line <= 1) return;
      const dx = Math.abs(box.left + box.width / 2 - x);
      if (line < bestLine - 1 || (Math.abs(line - bestLine) <= 1 && dx < bestDx)) {
        best = i;
        bestLine = line;
        bestDx = dx;
      }
    });
    return best;
  }
}
