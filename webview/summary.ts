// The summary bar: the model, the settings (pattern, hardware profile, deploy target and precision, batch), the
// actions, the scan's progress and the report's totals with the projected end-to-end speedup.
import type { InspectReport } from '../src/engine/sparsity/inspect';
import { STANDARD_PATTERNS, parsePattern, patternName } from '../src/engine/sparsity/pattern';
import type { ExportFormat, InspectSettings } from '../src/protocol';
import { type Dropdown, type TextField, button, dropdown, textField } from './components';
import { type ColourBy, NO_TARGET, PRECISIONS, isTarget, targetChoices } from './deploy';
import { el, replace } from './dom';
import { batchSweep, launchExplanation, perLayerNote, projectionSetting } from './projection';
import { type StatusKind, baseName, bytes, count, percent, seconds, speedup } from './format';

export interface SummaryActions {
  onSettings(settings: InspectSettings): void;
  /** The deploy target changed: the panel re-colours (every target's verdicts are in the report) and tells the host. */
  onTarget(target: ColourBy, settings: InspectSettings): void;
  onConvert(): void;
  onExport(format: ExportFormat): void;
}

const CUSTOM = 'custom';
const MAX_BATCH = 1 << 20;

export class SummaryBar {
  readonly element: HTMLElement;
  private settings: InspectSettings = { pattern: '2:4', hardware: 'a100' };
  private readonly title = el('h1', { class: 'model-name' }, 'Sparsity Lens');
  private readonly meta = el('p', { class: 'model-meta' });
  private readonly pattern: Dropdown;
  private readonly customPattern: TextField;
  private readonly hardware: Dropdown;
  private readonly target: Dropdown;
  private readonly precision: Dropdown;
  private readonly runtime: Dropdown;
  private readonly batch: TextField;
  private readonly progressBar = el('div', { class: 'progress-fill' });
  private readonly progress = el('div', { class: 'progress', role: 'progressbar', 'aria-label': 'Scan progress', 'aria-valuemin': 0, 'aria-valuemax': 100, hidden: true }, this.progressBar);
  private readonly progressText = el('p', { class: 'progress-text', 'aria-live': 'polite', id: 'progress-text' });
  /** Rate and time left, updated on every message (the live region above speaks only every 10 %). */
  private readonly progressRate = el('p', { class: 'progress-rate', id: 'progress-rate' });
  /** When and where the current scan's progress began: the rate is measured from there. */
  private progressStart: { at: number; done: number } | undefined;
  private readonly stats = el('div', { class: 'stats', role: 'group', 'aria-label': 'Summary' });
  private readonly projection = el('div', { class: 'projection', role: 'group', 'aria-label': 'Projected speedup' });
  /** The report's model-level warnings: where the model breaks the ONNX spec, and what the tool assumed. */
  private readonly warnings = el('ul', { class: 'warnings', id: 'model-warnings', hidden: true });
  /** Nodes with constant weights of ops the tool does not read, counted by op: nothing is skipped in silence. */
  private readonly notRead = el('p', { class: 'not-read', id: 'not-read', hidden: true });
  /** Why Convert and Export are off (a model that cannot be read, one without layers), beside them. */
  private readonly actionsOff = el('p', { class: 'actions-off', id: 'actions-off', hidden: true });
  private announced = -1;
  private named = false;

  constructor(private readonly actions: SummaryActions) {
    this.pattern = dropdown('Pattern', patternChoices('2:4'), '2:4', (value) => this.choosePattern(value), 'pattern');
    this.customPattern = textField('Custom N:M', { placeholder: 'e.g. 4:16', size: 6, id: 'custom-pattern', onCommit: (value) => this.commitCustomPattern(value) });
    this.customPattern.element.hidden = true;
    this.hardware = dropdown('Hardware', [], '', (value) => this.send({ hardware: value }), 'hardware');
    this.target = dropdown('Deploy target', targetChoices(), NO_TARGET, (value) => this.chooseTarget(value), 'deploy-target');
    // Precision changes the verdicts (TensorRT --fp16 runs float32 layers in half precision): it scans again.
    this.precision = dropdown('Precision', PRECISIONS, 'stored', (value) => this.send({ precision: value === 'stored' ? undefined : (value as InspectSettings['precision']) }), 'precision');
    // The CLI's --runtime: fused (TensorRT-like) is how 2:4 is deployed; a change re-projects, it does not scan.
    this.runtime = dropdown('Runtime', [{ value: 'fused', label: 'Fused (TensorRT-like)' }, { value: 'eager', label: 'Eager (op by op)' }], 'eager', (value) => this.send({ runtime: value === 'fused' ? 'fused' : 'eager' }), 'runtime');
    this.batch = textField('Batch', { placeholder: 'auto', size: 6, id: 'batch', onCommit: (value) => this.commitBatch(value) });
    const format = dropdown(
      'Format',
      [
        { value: 'markdown', label: 'Markdown' },
        { value: 'json', label: 'JSON' },
        { value: 'csv', label: 'CSV' },
        { value: 'netron', label: 'Netron overlay' },
        { value: 'model-explorer', label: 'Model Explorer overlay' },
      ],
      'markdown',
      () => undefined,
      'export-format',
    );
    const actionsRow = el(
      'div',
      { class: 'actions' },
      button('Convert with sparsity…', () => actions.onConvert(), { id: 'convert' }),
      format.element,
      button('Export…', () => actions.onExport(format.value as ExportFormat), { secondary: true, id: 'export' }),
    );
    const settingsRow = el('div', { class: 'settings', role: 'group', 'aria-label': 'Settings' }, this.pattern.element, this.customPattern.element, this.hardware.element, this.target.element, this.precision.element, this.runtime.element, this.batch.element);
    this.element = el(
      'header',
      { class: 'summary' },
      el('div', { class: 'title-row' }, el('div', {}, this.title, this.meta), actionsRow),
      this.actionsOff,
      settingsRow,
      this.progress,
      this.progressText,
      this.progressRate,
      this.stats,
      this.warnings,
      this.notRead,
      this.projection,
    );
  }

  setModel(name: string, settings: InspectSettings, hardwareProfiles: string[]): void {
    this.title.textContent = name;
    this.named = true;
    this.settings = { ...settings };
    this.pattern.setChoices(patternChoices(settings.pattern), settings.pattern);
    const profiles = hardwareProfiles.includes(settings.hardware) ? hardwareProfiles : [settings.hardware, ...hardwareProfiles];
    this.hardware.setChoices(
      profiles.map((p) => ({ value: p, label: p })),
      settings.hardware,
    );
    this.batch.value = settings.batch === undefined ? '' : String(settings.batch);
    this.target.value = settings.target ?? NO_TARGET;
    this.precision.value = settings.precision ?? 'stored';
    this.runtime.value = settings.runtime ?? 'eager';
  }

  /** The target the heatmap colours by; null: 2:4 compliance. */
  get colourBy(): ColourBy {
    return this.settings.target ?? null;
  }

  setProgress(done: number, total: number, what: string): void {
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    this.progress.hidden = false;
    this.progress.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
    this.progressBar.style.width = `${(fraction * 100).toFixed(1)}%`;
    // The live region speaks at most every 10 %, not on every message.
    const step = Math.floor(fraction * 10);
    if (step !== this.announced) {
      this.announced = step;
      // Every weight read: the verdicts and the projection follow (seconds on a large model), said rather than a still 100 %.
      this.progressText.textContent = fraction >= 1 ? 'Weights read: building the report…' : `Scanning${what ? ` ${what}` : ''}: ${Math.round(fraction * 100)} %`;
    }
    // A model of 100 GB takes minutes: the rate and the time left, once a second of scanning has been seen.
    const now = performance.now();
    if (!this.progressStart || done < this.progressStart.done) this.progressStart = { at: now, done };
    const seconds = (now - this.progressStart.at) / 1000;
    const rate = seconds >= 1 ? (done - this.progressStart.done) / seconds : 0;
    this.progressRate.textContent = rate > 0 && done < total ? `${rateText(rate)} weights/s, about ${timeText((total - done) / rate)} left` : '';
  }

  /** The numbers on screen belong to the previous settings until the next report. */
  setUpdating(): void {
    this.progressStart = undefined;
    this.progressRate.textContent = '';
    this.element.classList.add('stale');
    this.progressText.textContent = 'Updating…';
  }

  setReport(report: InspectReport): void {
    this.element.classList.remove('stale');
    this.progress.hidden = true;
    this.announced = -1;
    this.progressText.textContent = `Scan complete: ${report.summary.layers} layers.`;
    this.progressStart = undefined;
    this.progressRate.textContent = '';
    if (!this.named) this.title.textContent = baseName(report.model);
    this.setActionsOff(null);
    const convert = this.element.querySelector<HTMLElement & { disabled: boolean }>('#convert');
    if (convert) {
      convert.disabled = report.modelFormat === 'safetensors' || report.layers.length === 0;
      convert.title = report.modelFormat === 'safetensors' ? 'Convert writes ONNX models; a safetensors checkpoint is inspected (and decompressed with the CLI)' : convert.disabled ? 'No layer to convert: the panel says why' : '';
    }
    this.meta.textContent = [
      // A checkpoint has no graph and no opset: it is converted after export to ONNX, not here.
      report.modelFormat === 'safetensors' ? 'safetensors checkpoint' : report.opset === null ? 'opset ?' : `opset ${report.opset}`,
      `${count(report.summary.parameters)} parameters`,
      bytes(report.fileSize),
      report.producer,
    ]
      .filter(Boolean)
      .join(' · ');
    const s = report.summary;
    const stat = (id: string, value: string, label: string, kind?: StatusKind, symbol?: string) =>
      el('div', { class: `stat${kind ? ` status-${kind}` : ''}`, id: `stat-${id}` }, el('span', { class: 'stat-value' }, value), el('span', { class: 'stat-label' }, symbol ? `${symbol} ${label}` : label));
    replace(
      this.stats,
      stat('pattern', report.pattern, 'pattern'),
      stat('compliance', percent(s.compliance), 'compliance (parameter-weighted)'),
      stat('eligible', count(s.eligible), 'eligible layers'),
      stat('passing', count(s.passing), 'passing', 'pass', '✓'),
      stat('nearly', count(s.nearlyPassing), 'nearly passing', 'nearly', '≈'),
      stat('failing', count(s.failing), 'failing', 'fail', '✗'),
      stat('ineligible', count(s.ineligible), 'ineligible', 'ineligible', '–'),
      s.errors > 0 && stat('errors', count(s.errors), 'errors', 'error', '!'),
    );
    this.showWarnings(report.warnings);
    this.showNotRead(report.unrecognized);
    const p = report.projection;
    if (!p) {
      replace(this.projection, el('p', {}, 'No speedup projection in this report.'));
      return;
    }
    replace(
      this.projection,
      el(
        'p',
        { class: 'projection-headline' },
        el('span', { class: 'projection-value', id: 'projected-speedup' }, speedup(p.speedup)),
        ` projected end to end ${projectionSetting(p)}: dense ${seconds(p.denseTime)}, sparse ${seconds(p.sparseTime)}. If every eligible layer passed: ${speedup(p.speedupIfAllPass)}.`,
      ),
      launchExplanation(p),
      perLayerNote(p),
      batchSweep(report),
    );
  }

  /**
   * Turns Convert and Export off with the reason said beside them (the model could not be read: nothing to convert or
   * export), or back on (null).
   */
  setActionsOff(reason: string | null): void {
    for (const id of ['convert', 'export']) {
      const action = this.element.querySelector<HTMLElement & { disabled: boolean }>(`#${id}`);
      if (!action) continue;
      action.disabled = reason !== null;
      action.title = reason ?? '';
    }
    this.actionsOff.hidden = reason === null;
    this.actionsOff.textContent = reason ?? '';
    if (reason !== null) {
      this.progress.hidden = true;
      this.progressText.textContent = '';
      this.progressRate.textContent = '';
    }
  }

  private showWarnings(warnings: readonly string[]): void {
    this.warnings.hidden = warnings.length === 0;
    this.warnings.setAttribute('aria-label', `${warnings.length} model warning${warnings.length === 1 ? '' : 's'}`);
    replace(this.warnings, ...warnings.map((w) => el('li', {}, `⚠ ${w}`)));
  }

  private showNotRead(unrecognized: InspectReport['unrecognized']): void {
    this.notRead.hidden = unrecognized.length === 0;
    const ops = unrecognized.map((u) => `${count(u.nodes)} ${u.op}${u.domain ? ` (${u.domain})` : ''}`);
    const total = unrecognized.reduce((n, u) => n + u.nodes, 0);
    this.notRead.textContent = `Not read: ${ops.join(', ')} node${total === 1 ? '' : 's'} with constant weights (ops this tool does not know).`;
  }

  private choosePattern(value: string): void {
    if (value === CUSTOM) {
      this.customPattern.element.hidden = false;
      this.customPattern.value = '';
      this.customPattern.setProblem('');
      return;
    }
    this.customPattern.element.hidden = true;
    this.send({ pattern: value });
  }

  private commitCustomPattern(value: string): void {
    const pattern = parsePattern(value);
    if (typeof pattern === 'string') {
      this.customPattern.setProblem(pattern);
      return;
    }
    this.customPattern.setProblem('');
    const name = patternName(pattern);
    if (name === this.settings.pattern) return;
    this.pattern.setChoices(patternChoices(name), name);
    this.customPattern.element.hidden = true;
    this.send({ pattern: name });
  }

  private commitBatch(value: string): void {
    const text = value.trim();
    const batch = text === '' ? undefined : Number(text);
    if (batch !== undefined && !(Number.isInteger(batch) && batch >= 1 && batch <= MAX_BATCH)) {
      this.batch.setProblem(`batch must be a whole number from 1 to ${count(MAX_BATCH)}`);
      return;
    }
    this.batch.setProblem('');
    if (batch !== this.settings.batch) this.send({ batch });
  }

  private chooseTarget(value: string): void {
    const target = isTarget(value) ? value : undefined;
    if (target === this.settings.target) return;
    this.settings = { ...this.settings, target };
    if (target === undefined) delete this.settings.target;
    this.actions.onTarget(target ?? null, { ...this.settings });
  }

  private send(change: Partial<InspectSettings>): void {
    this.settings = { ...this.settings, ...change };
    if (this.settings.batch === undefined) delete this.settings.batch;
    if (this.settings.precision === undefined) delete this.settings.precision;
    this.setUpdating();
    this.actions.onSettings({ ...this.settings });
  }
}

/** The standard patterns, the current one if it is not among them, and "Custom…". */
function patternChoices(current: string): { value: string; label: string }[] {
  const names = STANDARD_PATTERNS.map(patternName);
  if (!names.includes(current)) names.push(current);
  return [...names.map((n) => ({ value: n, label: n === '2:4' ? '2:4 (NVIDIA, Ascend)' : n })), { value: CUSTOM, label: 'Custom N:M…' }];
}

/** Weights per second as people read them: 850 k, 1.2 M, 3.4 G. */
function rateText(perSecond: number): string {
  const [value, unit] = perSecond >= 1e9 ? [perSecond / 1e9, ' G'] : perSecond >= 1e6 ? [perSecond / 1e6, ' M'] : perSecond >= 1e3 ? [perSecond / 1e3, ' k'] : [perSecond, ''];
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}${unit}`;
}

/** A duration to the second, in minutes past two minutes. */
function timeText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 120) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.round(seconds / 60)} min`;
}
