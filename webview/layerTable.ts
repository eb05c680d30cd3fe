// The layer table: every layer with its numbers, sorted (failing first, by size, op, name, compliance) and filtered
// (by name, op and status), and its verdict on the chosen deploy target. Click or Enter opens the layer.
import { type Dropdown, dropdown, textField } from './components';
import { type ColourBy, TARGET_NAMES, deployStatus } from './deploy';
import { el } from './dom';
import { type PanelLayer, STATUSES, STATUS_RANK, type StatusKind, count, layerStatus, percent, shape, speedup } from './format';
import { cellLabels } from './names';
import { VirtualTable } from './virtualTable';

export type SortKey = 'graph' | 'failing' | 'size' | 'op' | 'name' | 'compliance';

const SORTS: { value: SortKey; label: string }[] = [
  { value: 'graph', label: 'Graph order' },
  { value: 'failing', label: 'Failing first' },
  { value: 'size', label: 'Largest first' },
  { value: 'compliance', label: 'Lowest compliance' },
  { value: 'op', label: 'Op' },
  { value: 'name', label: 'Name' },
];

const ALL = '*';

/** Column index of the header that shows each sort (aria-sort). */
const SORT_COLUMN: Partial<Record<SortKey, number>> = { name: 0, op: 1, failing: 3, compliance: 4, size: 6 };

/** What each sort's aria-sort says: lowest compliance first is ascending; failing first is an order of its own (WAI-ARIA: "other"). */
const SORT_DIRECTION: Record<SortKey, 'ascending' | 'descending' | 'other'> = { graph: 'other', name: 'ascending', op: 'ascending', compliance: 'ascending', size: 'descending', failing: 'other' };

export class LayerTable {
  readonly element: HTMLElement;
  private layers: PanelLayer[] = [];
  private colourBy: ColourBy = null;
  private sort: SortKey = 'failing';
  private nameFilter = '';
  private opFilter = ALL;
  private statusFilter = ALL;
  private readonly sortChoice: Dropdown;
  private readonly opChoice: Dropdown;
  private readonly grid: VirtualTable;
  private labels = new Map<string, string>();
  private readonly caption = el('p', { class: 'table-caption', 'aria-live': 'polite', id: 'table-caption' });

  /** `onFilter` gets the layers the filters keep whenever they change (null: no filter), for the heatmap to mark. */
  constructor(
    private readonly onOpen: (name: string) => void,
    private readonly onFilter: (matching: ReadonlySet<string> | null) => void = () => undefined,
  ) {
    this.sortChoice = dropdown('Sort', SORTS, this.sort, (value) => this.setSort(value as SortKey), 'sort');
    this.opChoice = dropdown('Op', [{ value: ALL, label: 'All ops' }], ALL, (value) => this.update({ op: value }), 'filter-op');
    const statusChoice = dropdown(
      'Status',
      [{ value: ALL, label: 'Any status' }, ...(['fail', 'nearly', 'pass', 'ineligible', 'error'] as StatusKind[]).map((kind) => ({ value: kind, label: STATUSES[kind].word }))],
      ALL,
      (value) => this.update({ status: value }),
      'filter-status',
    );
    const nameField = textField('Name', { placeholder: 'filter by name', id: 'filter-name', onInput: (value) => this.update({ name: value }) });
    const by = (key: SortKey) => () => this.setSort(key);
    this.grid = new VirtualTable('Layers', [
      { title: 'Layer', width: 'minmax(8em, 1.5fr)', onSort: by('name') },
      { title: 'Op', width: 'minmax(5em, 1fr)', onSort: by('op') },
      { title: 'Shape', width: 'minmax(7em, 1.2fr)' },
      { title: 'Status', width: 'minmax(9em, 1.2fr)', onSort: by('failing') },
      { title: 'Compliance', width: 'minmax(8em, 1fr)', onSort: by('compliance') },
      { title: 'Valid / groups', width: 'minmax(9em, 1.2fr)' },
      { title: 'Parameters', width: 'minmax(8em, 1fr)', onSort: by('size') },
      // The layer's own device time, dense over 2:4: not the model's end-to-end figure (issue 14).
      { title: 'Layer speedup', width: 'minmax(6.5em, 0.8fr)', hint: "This layer's device time, dense over 2:4; the end-to-end figure adds the other ops and launch time" },
      { title: 'On target', width: 'minmax(8.5em, 1.1fr)' },
    ], 'layer-grid');
    this.element = el(
      'section',
      { class: 'layer-table', 'aria-label': 'Layer table' },
      el('div', { class: 'table-controls' }, this.sortChoice.element, nameField.element, this.opChoice.element, statusChoice.element),
      this.caption,
      this.grid.element,
    );
  }

  setLayers(layers: PanelLayer[], colourBy: ColourBy = null): void {
    this.layers = layers;
    // What tells the layers apart, as on the heatmap ("L30 mlp/down_proj", not "/model/layers.30/…"): rows have one
    // line, so a long name would lose its end; the full name stays in the tooltip and the filter.
    const labels = cellLabels(layers.map((l) => l.name));
    this.labels = new Map(layers.map((l, i) => [l.name, labels[i]]));
    this.colourBy = colourBy;
    const ops = [...new Set(layers.map((l) => l.op))].sort();
    if (this.opFilter !== ALL && !ops.includes(this.opFilter)) this.opFilter = ALL;
    this.opChoice.setChoices([{ value: ALL, label: 'All ops' }, ...ops.map((op) => ({ value: op, label: op }))], this.opFilter);
    this.render();
  }

  private setSort(key: SortKey): void {
    this.sort = key;
    this.sortChoice.value = key;
    this.render();
  }

  private update(filter: { name?: string; op?: string; status?: string }): void {
    if (filter.name !== undefined) this.nameFilter = filter.name.trim().toLowerCase();
    if (filter.op !== undefined) this.opFilter = filter.op;
    if (filter.status !== undefined) this.statusFilter = filter.status;
    this.render();
  }

  private render(): void {
    const shown = sortLayers(filterLayers(this.layers, this.nameFilter, this.opFilter, this.statusFilter), this.sort);
    const filtered = this.nameFilter !== '' || this.opFilter !== ALL || this.statusFilter !== ALL;
    this.onFilter(filtered ? new Set(shown.map((l) => l.name)) : null);
    this.caption.textContent = `Showing ${shown.length} of ${this.layers.length} layers.${this.colourBy ? ` On target: ${TARGET_NAMES[this.colourBy]}.` : ''}`;
    const column = SORT_COLUMN[this.sort];
    this.grid.setSorted(column ?? null, SORT_DIRECTION[this.sort]);
    // Rows are built only as they scroll into view (webview/virtualTable.ts): 2,000 layers stay responsive.
    this.grid.setRows(shown.length, (index) => {
        const layer = shown[index];
        const status = layerStatus(layer);
        const scanned = layer.groups !== undefined && layer.groups > 0;
        const onTarget = this.colourBy && deployStatus(layer, this.colourBy);
        const verdict = this.colourBy && layer.deploy?.[this.colourBy];
        return {
          key: layer.name,
          className: `status-${(onTarget || status).kind}`,
          onOpen: () => this.onOpen(layer.name),
          cells: [
            el('span', { class: 'layer-name', title: [layer.graph === 'main' ? layer.name : `${layer.name} (in ${layer.graph})`, ...(layer.folded ? [`folded: ${layer.folded.note}`] : [])].join('\n') }, this.labels.get(layer.name) ?? layer.name),
            layer.op,
            // Packed codes: the matrix, then the stored blocks (the whole story in the tooltip).
            layer.storedAs && layer.storedShape ? el('span', { title: layer.storedAs }, `${shape(layer.shape)} stored ${shape(layer.storedShape)}`) : shape(layer.shape),
            el('span', { class: 'status-word', title: layer.error ?? layer.reason ?? '' }, `${status.symbol} ${status.word}`),
            percent(layer.compliance),
            scanned ? `${count(layer.validGroups ?? 0)} / ${count(layer.groups ?? 0)}` : '–',
            layer.elements === undefined ? '–' : count(layer.elements),
            speedup(layer.speedup),
            onTarget ? el('span', { class: 'deploy-word', title: verdict ? [...verdict.reasons, ...(verdict.fix ? [`Fix: ${verdict.fix}`] : [])].join('\n') : '' }, `${onTarget.symbol} ${onTarget.word}`) : '–',
          ],
        };
      });
  }
}

function filterLayers(layers: PanelLayer[], name: string, op: string, status: string): PanelLayer[] {
  return layers.filter((l) => (!name || l.name.toLowerCase().includes(name)) && (op === ALL || l.op === op) && (status === ALL || layerStatus(l).kind === status));
}

/** A stable sort: ties keep graph order. */
function sortLayers(layers: PanelLayer[], key: SortKey): PanelLayer[] {
  const order = new Map(layers.map((l, i) => [l, i]));
  const size = (l: PanelLayer) => l.elements ?? 0;
  const compare: Record<SortKey, (a: PanelLayer, b: PanelLayer) => number> = {
    graph: () => 0,
    failing: (a, b) => STATUS_RANK[layerStatus(a).kind] - STATUS_RANK[layerStatus(b).kind] || (a.compliance ?? 1) - (b.compliance ?? 1),
    size: (a, b) => size(b) - size(a),
    compliance: (a, b) => (a.compliance ?? 2) - (b.compliance ?? 2),
    op: (a, b) => a.op.localeCompare(b.op),
    name: (a, b) => a.name.localeCompare(b.name),
  };
  return [...layers].sort((a, b) => compare[key](a, b) || order.get(a)! - order.get(b)!);
}

