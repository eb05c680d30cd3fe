// The inspection panel's webview: receives ToWebview messages from the extension host and sends FromWebview
// (src/protocol.ts). Two views: the model (summary, heatmap, layer table, speedup) and one layer's drill-down.
import type { InspectReport } from '../src/engine/sparsity/inspect';
import { type Pattern, parsePattern } from '../src/engine/sparsity/pattern';
import type { ToWebview } from '../src/protocol';
import { ErrorBanner } from './banner';
import { registerComponents, tabs } from './components';
import { type ColourBy, deploySummaryView, hasVerdicts, targetsTable } from './deploy';
import { el, replace } from './dom';
import { LayerDrilldown } from './drilldown';
import { type PanelLayer, STATUSES } from './format';
import { emptyModelView } from './emptyState';
import { ModelHeatmap } from './heatmap';
import { LayerTable } from './layerTable';
import { ReportSource } from './reportSource';
import { ConvertOutcomeNote } from './convertOutcome';
import { speedupView } from './speedup';
import { SummaryBar } from './summary';
import { post } from './vscode';

class Panel {
  private report: InspectReport | null = null;
  /** Layers listed before the report's numbers arrive. */
  private listed: PanelLayer[] = [];
  /** A layer the user opened before its numbers arrived: it opens with the report. */
  private wanted: string | null = null;
  /** Where focus was when a layer opened, to return there on Escape. */
  private origin: Element | null = null;
  private readonly banner = new ErrorBanner(() => post({ type: 'retry' }));
  private readonly outcome = new ConvertOutcomeNote();
  private readonly source = new ReportSource(() => {
    this.summary.setUpdating();
    post({ type: 'rescan' });
  });
  private readonly summary = new SummaryBar({
    onSettings: (settings) => post({ type: 'settings', settings }),
    // Every target's verdicts are in the report: re-colour now; the host keeps the choice without scanning again.
    onTarget: (_target, settings) => {
      this.recolour();
      post({ type: 'settings', settings });
    },
    onConvert: () => post({ type: 'convert' }),
    onExport: (format) => post({ type: 'exportReport', format }),
  });
  private readonly heatmap = new ModelHeatmap((name) => this.open(name));
  private readonly table = new LayerTable(
    (name) => this.open(name),
    (matching) => this.heatmap.highlight(matching),
  );
  private readonly speedupSlot = el('div', { class: 'speedup-slot' }, el('p', {}, 'The projection appears with the report.'));
  private readonly drilldown = new LayerDrilldown({
    onBack: () => this.back(),
    requestRegion: (region) => post({ type: 'region', region }),
    requestEncodings: (layer, row, group, position) => post({ type: 'encodings', layer, row, group, position }),
  });
  private readonly overview: HTMLElement;
  /** The compliance legend, or with a target chosen its legend, count and totals. */
  private readonly legendSlot = el('div', { class: 'legend-slot', 'aria-live': 'polite' });
  private readonly targetsSlot = el('div', { class: 'targets-slot' });
  /** Why a report has no layer (emptyState.ts). */
  private readonly emptySlot = el('div', { class: 'empty-slot' });
  private readonly complianceLegend: HTMLElement;

  constructor(root: HTMLElement) {
    this.complianceLegend = el(
      'ul',
      { class: 'status-legend', 'aria-label': 'Legend' },
      ...(['pass', 'nearly', 'fail', 'ineligible'] as const).map((kind) => el('li', { class: `status-${kind}` }, el('span', { class: 'swatch', 'aria-hidden': 'true' }), `${STATUSES[kind].symbol} ${STATUSES[kind].word}`)),
    );
    const layersTab = el('div', { class: 'layers-tab' }, el('section', { class: 'heatmap-section', 'aria-label': 'Model heatmap' }, el('h2', {}, 'Model heatmap'), this.emptySlot, this.legendSlot, this.heatmap.element), this.targetsSlot, this.table.element);
    replace(this.legendSlot, this.complianceLegend);
    this.overview = el('div', { class: 'overview', id: 'overview' }, this.source.element, this.outcome.element, this.summary.element, tabs('Views', [
      { id: 'layers', title: 'Layers', content: layersTab },
      { id: 'speedup', title: 'Speedup', content: this.speedupSlot },
    ]));
    replace(root, this.banner.element, this.overview, this.drilldown.element);
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.defaultPrevented && !this.drilldown.element.hidden) {
        event.preventDefault();
        if (!this.drilldown.closeInner()) this.back();
      }
    });
    // VS Code changes the body's class with the theme: the canvases read their colours again.
    new MutationObserver(() => this.drilldown.redraw()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
  }

  receive(message: ToWebview): void {
    switch (message.type) {
      case 'model':
        this.summary.setModel(message.name, message.settings, message.hardwareProfiles);
        // Settings changed outside the panel (Select Hardware Profile): the numbers on screen are the old ones until the report.
        if (message.updating && this.report) this.summary.setUpdating();
        if (message.layers && !this.report) this.setLayers(message.layers);
        else if (this.report) this.recolour();
        break;
      case 'progress':
        this.summary.setProgress(message.done, message.total, message.what);
        break;
      case 'report':
        this.setReport(message.report);
        if (message.cached) this.source.showCached(message.cached.scannedAt);
        else this.source.hide();
        break;
      case 'convertOutcome':
        this.outcome.show(message.level, message.message, message.details);
        break;
      case 'changed':
        this.source.showChanged();
        this.summary.setUpdating();
        break;
      case 'region':
        this.drilldown.showRegion(message.groups);
        break;
      case 'encodings':
        this.drilldown.showEncodings(message.encodings);
        break;
      case 'error':
        this.banner.show(message.message, message.retry);
        // The last report (if any) stays usable; without one there is nothing to convert or export.
        if (message.unreadable && !this.report) this.summary.setActionsOff('Convert and Export are off: the model could not be read (the message above says why).');
        this.drilldown.stopWaiting();
        break;
    }
  }

  private setLayers(layers: PanelLayer[]): void {
    this.listed = layers;
    this.recolour();
  }

  /** Colours the heatmap and table by 2:4 compliance or by the chosen target's verdicts. */
  private recolour(): void {
    const report = this.report;
    const target: ColourBy = report ? this.summary.colourBy : null;
    const layers = report?.layers ?? this.listed;
    this.heatmap.setLayers(layers, target);
    this.table.setLayers(layers, target);
    replace(this.legendSlot, target && report ? deploySummaryView(report, target) : this.complianceLegend);
    replace(this.targetsSlot, report && hasVerdicts(report) ? targetsTable(report, target) : null);
    if (this.drilldown.layerName) this.drilldown.setTarget(target);
  }

  private setReport(report: InspectReport): void {
    this.report = report;
    this.banner.hide();
    this.summary.setReport(report);
    replace(this.emptySlot, emptyModelView(report));
    this.setLayers(report.layers);
    replace(this.speedupSlot, speedupView(report));
    const open = this.wanted ?? this.drilldown.layerName;
    this.wanted = null;
    if (open) {
      if (report.layers.some((l) => l.name === open)) this.open(open, false);
      else this.back();
    }
  }

  private pattern(): Pattern {
    const parsed = parsePattern(this.report?.pattern ?? '2:4');
    return typeof parsed === 'string' ? { n: 2, m: 4 } : parsed;
  }

  private open(name: string, moveFocus = true): void {
    const layer = this.report?.layers.find((l) => l.name === name);
    if (!layer) {
      this.wanted = name;
      return;
    }
    if (this.drilldown.element.hidden) this.origin = document.activeElement;
    this.drilldown.show(layer, this.pattern(), this.summary.colourBy);
    this.overview.hidden = true;
    if (moveFocus) this.drilldown.focus();
  }

  private back(): void {
    const name = this.drilldown.layerName;
    this.drilldown.hide();
    this.overview.hidden = false;
    if (this.origin instanceof HTMLElement && this.origin.isConnected && this.origin !== document.body) this.origin.focus();
    else if (name) this.heatmap.focusLayer(name);
    this.origin = null;
  }
}

registerComponents();
// The host's page has an empty <div id="app">.
const root = document.getElementById('app') ?? document.body.appendChild(el('div', { id: 'app' }));
root.removeAttribute('aria-busy');
const panel = new Panel(root);
window.addEventListener('message', (event: MessageEvent<ToWebview>) => panel.receive(event.data));
post({ type: 'ready' });
