// A virtualised, keyboard-navigable table (issue 14, Scale): an LLM puts hundreds to thousands of layers in the panel,
// and a DOM row per layer took seconds to render (the toolkit's data grid: 10 s for 2,000 layers). Only the rows in
// view plus a margin are in the DOM, each at its own offset in a body as tall as all rows; the ARIA grid pattern
// (aria-rowcount, aria-rowindex) tells screen readers the full size, as the WAI-ARIA grid pattern describes for
// rows that are not all present.
// Keyboard: one tab stop (the active row); arrows, Page Up/Down, Home/End move; Enter or Space opens; Arrow Up from
// the first row reaches the sortable column headers (Left/Right between them, Enter sorts, Arrow Down returns).
import { el, replace } from './dom';

export interface Column {
  title: string;
  /** A CSS grid track: "2fr", "6em". */
  width: string;
  /** Called when the header is activated (sorting); the header shows `sorted` as aria-sort. */
  onSort?: () => void;
  /** What the column holds, in a sentence: the header's tooltip. */
  hint?: string;
}

export interface TableRow {
  key: string;
  cells: (Node | string)[];
  /** Click or Enter on the row. */
  onOpen: () => void;
  className?: string;
}

/** One line of text per row: the offsets are index x this (px); media/panel.css gives rows the same height. */
export const ROW_HEIGHT = 28;
/** Rows rendered above and below the visible ones, so that scrolling a little shows rows already built. */
const MARGIN = 12;
/** Rows assumed visible before the viewport has a size (hidden tab, first frame). */
const FALLBACK_VISIBLE = 30;

export class VirtualTable {
  readonly element: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly body: HTMLElement;
  private readonly headers: HTMLElement[];
  private count = 0;
  private build: (index: number) => TableRow = () => {
    throw new Error('no rows');
  };
  /** The rows now in the DOM, by index. */
  private readonly rendered = new Map<number, HTMLElement>();
  /** The row holding the tab stop. */
  private active = 0;
  private readonly template: string;

  constructor(label: string, columns: Column[], id?: string) {
    this.template = columns.map((c) => c.width).join(' ');
    this.headers = columns.map((column, i) => {
      const cell = el('div', { role: 'columnheader', class: 'table-cell table-header-cell', 'aria-colindex': i + 1, tabindex: column.onSort ? -1 : undefined, title: column.hint }, column.title);
      if (column.onSort) {
        cell.classList.add('sortable');
        cell.addEventListener('click', column.onSort);
        cell.addEventListener('keydown', (event) => this.onHeaderKey(event, i, column.onSort!));
      }
      return cell;
    });
    const header = el('div', { role: 'row', class: 'table-row table-header', 'aria-rowindex': 1 }, ...this.headers);
    header.style.gridTemplateColumns = this.template;
    this.body = el('div', { role: 'rowgroup', class: 'table-body' });
    this.viewport = el('div', { class: 'table-viewport' }, el('div', { role: 'rowgroup', class: 'table-head' }, header), this.body);
    this.element = el('div', { role: 'grid', class: 'virtual-table', 'aria-label': label, 'aria-colcount': columns.length, 'aria-rowcount': 1, id }, this.viewport);
    this.viewport.addEventListener('scroll', () => this.renderWindow());
    this.body.addEventListener('keydown', (event) => this.onRowKey(event));
    // The viewport gets its size when its tab is shown or the panel resizes: the window of rows follows.
    new ResizeObserver(() => this.renderWindow()).observe(this.viewport);
  }

  /** Replaces the rows: `count` of them, each built by `build(index)` only when it scrolls into view. */
  setRows(count: number, build: (index: number) => TableRow): void {
    const hadFocus = this.body.contains(document.activeElement);
    this.count = count;
    this.build = build;
    this.active = Math.min(this.active, Math.max(0, count - 1));
    this.element.setAttribute('aria-rowcount', String(count + 1));
    this.body.style.height = `${count * ROW_HEIGHT}px`;
    this.rendered.clear();
    replace(this.body);
    this.renderWindow();
    if (hadFocus) this.focusRow(this.active);
  }

  /** Marks one column as the sort key (aria-sort on its header). */
  setSorted(column: number | null, direction: 'ascending' | 'descending' | 'other'): void {
    this.headers.forEach((cell, i) => (i === column ? cell.setAttribute('aria-sort', direction) : cell.removeAttribute('aria-sort')));
  }

  /** The indexes in view, plus the margin. */
  private visibleRange(): [number, number] {
    const height = this.viewport.clientHeight;
    const top = this.viewport.scrollTop - this.body.offsetTop;
    const first = Math.floor(Math.max(0, top) / ROW_HEIGHT);
    const visible = height > 0 ? Math.ceil(height / ROW_HEIGHT) + 1 : FALLBACK_VISIBLE;
    return [Math.max(0, first - MARGIN), Math.min(this.count, first + visible + MARGIN)];
  }

  /** Builds the rows that came into view, drops those that left it; the active row always stays (it may hold focus). */
  private renderWindow(): void {
    const [from, to] = this.visibleRange();
    for (const [index, row] of this.rendered) {
      if ((index < from || index >= to) && index !== this.active) {
        row.remove();
        this.rendered.delete(index);
      }
    }
    const wanted = this.count > 0 ? [this.active] : [];
    for (let i = from; i < to; i++) wanted.push(i);
    for (const index of wanted) {
      if (this.rendered.has(index) || index >= this.count) continue;
      const row = this.renderRow(index);
      this.rendered.set(index, row);
      this.body.append(row);
    }
  }

  private renderRow(index: number): HTMLElement {
    const spec = this.build(index);
    const row = el(
      'div',
      { role: 'row', class: `table-row${spec.className ? ` ${spec.className}` : ''}`, 'data-key': spec.key, 'aria-rowindex': index + 2, tabindex: index === this.active ? 0 : -1 },
      ...spec.cells.map((content, i) => el('div', { role: 'gridcell', class: 'table-cell', 'aria-colindex': i + 1 }, content)),
    );
    row.style.gridTemplateColumns = this.template;
    row.style.top = `${index * ROW_HEIGHT}px`;
    row.addEventListener('click', () => {
      this.setActive(index);
      spec.onOpen();
    });
    return row;
  }

  private setActive(index: number): void {
    this.rendered.get(this.active)?.setAttribute('tabindex', '-1');
    this.active = index;
    this.rendered.get(index)?.setAttribute('tabindex', '0');
  }

  /** Scrolls the row into view (rendering it) and focuses it. */
  private focusRow(index: number): void {
    if (this.count === 0) return;
    const target = Math.max(0, Math.min(this.count - 1, index));
    const top = this.body.offsetTop + target * ROW_HEIGHT;
    const stickyHeader = this.body.offsetTop;
    if (top - stickyHeader < this.viewport.scrollTop) this.viewport.scrollTop = top - stickyHeader;
    else if (top + ROW_HEIGHT > this.viewport.scrollTop + this.viewport.clientHeight) this.viewport.scrollTop = top + ROW_HEIGHT - this.viewport.clientHeight;
    this.setActive(target);
    this.renderWindow();
    const row = this.rendered.get(target);
    row?.focus({ preventScroll: true });
    // The viewport is scrolled above; the page around it may still need to bring the row on screen.
    row?.scrollIntoView({ block: 'nearest' });
  }

  private pageRows(): number {
    return Math.max(1, Math.floor((this.viewport.clientHeight - this.body.offsetTop) / ROW_HEIGHT) - 1);
  }

  private onRowKey(event: KeyboardEvent): void {
    const row = (event.target as HTMLElement).closest<HTMLElement>('[role="row"]');
    if (!row || event.defaultPrevented) return;
    const index = Number(row.getAttribute('aria-rowindex')) - 2;
    let next: number;
    switch (event.key) {
      case 'ArrowDown':
        next = index + 1;
        break;
      case 'ArrowUp':
        if (index === 0) {
          const sortable = this.headers.findIndex((h) => h.classList.contains('sortable'));
          if (sortable >= 0) {
            event.preventDefault();
            this.headers[sortable].focus();
          }
          return;
        }
        next = index - 1;
        break;
      case 'PageDown':
        next = index + this.pageRows();
        break;
      case 'PageUp':
        next = index - this.pageRows();
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = this.count - 1;
        break;
      case 'Enter':
      case ' ':
        event.preventDefault();
        this.setActive(index);
        this.build(index).onOpen();
        return;
      default:
        return;
    }
    event.preventDefault();
    this.focusRow(next);
  }

  private onHeaderKey(event: KeyboardEvent, column: number, onSort: () => void): void {
    const sortable = (from: number, step: 1 | -1) => {
      for (let i = from + step; i >= 0 && i < this.headers.length; i += step) if (this.headers[i].classList.contains('sortable')) return this.headers[i];
      return undefined;
    };
    switch (event.key) {
      case 'Enter':
      case ' ':
        event.preventDefault();
        onSort();
        return;
      case 'ArrowRight':
      case 'ArrowLeft':
        event.preventDefault();
        sortable(column, event.key === 'ArrowRight' ? 1 : -1)?.focus();
        return;
      case 'ArrowDown':
        event.preventDefault();
        this.focusRow(this.active);
        return;
    }
  }
}
