// The inspection panel: a read-only custom editor for .onnx files. The layer numbers come from the engine worker;
// closing the panel cancels its scan.
import { basename, dirname, resolve } from 'node:path';
import * as vscode from 'vscode';
import { describeError } from '../engine/errors';
import type { InspectReport } from '../engine/sparsity/inspect';
import { profileNames } from '../engine/speedup/profiles';
import { type InspectSettings, type ToWebview, parseFromWebview, sameScan, sameWeights } from '../protocol';
import { CancelledJob, type EngineClient, WorkerDiedError, retryable } from './engineClient';
import { panelHtml, webviewOptions } from './html';
import { followConfiguration, requestProjection } from './projection';
import { type ReportCache, scanKey } from './reportCache';
import { engineSettings, inspectSettings } from './settings';

export const INSPECTOR_VIEW_TYPE = 'sparsityLens.inspector';
/** The same panel for `*.safetensors.index.json` (issue 16), offered rather than the default editor. */
export const CHECKPOINT_INDEX_VIEW_TYPE = 'sparsityLens.checkpointIndex';

class ModelDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {}
}

/** One open panel: its model, settings and last report (for Export Report). */
export interface InspectorPanel {
  uri: vscode.Uri;
  report?: InspectReport;
  /** Why the model could not be read, while it cannot: Convert and Export say so instead of starting. */
  unreadable?: string;
  webviewPanel: vscode.WebviewPanel;
}

export class InspectorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  readonly panels = new Set<InspectorPanel>();
  /** The panel last focused, for the commands that act on "the current model". */
  active: InspectorPanel | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly engine: EngineClient,
    private readonly log: vscode.OutputChannel,
    /** Reports of unchanged files, shown at once when a panel opens (issue 14, Scale). */
    private readonly cache?: ReportCache,
  ) {}

  /** Shows how a conversion of `uri` ended in its open panels (the toast hides; the panel keeps it). */
  showConvertOutcome(uri: vscode.Uri, outcome: { level: 'info' | 'warning'; message: string; details: string[] }): void {
    for (const panel of this.panels) {
      if (panel.uri.fsPath === uri.fsPath) void panel.webviewPanel.webview.postMessage({ type: 'convertOutcome', ...outcome } satisfies ToWebview);
    }
  }

  openCustomDocument(uri: vscode.Uri): ModelDocument {
    return new ModelDocument(uri);
  }

  resolveCustomEditor(document: ModelDocument, webviewPanel: vscode.WebviewPanel): void {
    const path = document.uri.fsPath;
    const state: InspectorPanel = { uri: document.uri, webviewPanel };
    this.panels.add(state);
    this.active = state;
    const webview = webviewPanel.webview;
    webview.options = webviewOptions(this.extensionUri);
    webview.html = panelHtml(webview, this.extensionUri, `Sparsity Lens: ${basename(path)}`);
    const post = (msg: ToWebview) => void webview.postMessage(msg);
    let settings: InspectSettings = inspectSettings();
    let scan: vscode.CancellationTokenSource | undefined;
    /** The settings state.report was made with, and whether a weight scan is under way. */
    let reported: InspectSettings | undefined;
    let scanning = false;
    /** The files the shown report read (the model first): a change to any of them scans again. */
    let inputs = new Set([resolve(path)]);

    const inspect = async (how: { rescan?: boolean } = {}) => {
      scan?.cancel();
      const source = (scan = new vscode.CancellationTokenSource());
      const asked = settings;
      const engine = engineSettings();
      const at = Date.now();
      // Hardware, batch, runtime or precision: project the last report again, no weight scan (issue 14); Rescan, a
      // changed file or a new pattern read the weights.
      const base = !how.rescan && !scanning && reported && sameWeights(reported, asked) ? state.report : undefined;
      scanning = !base;
      try {
        const options = { token: source.token, onProgress: (done: number, total: number, what: string) => post({ type: 'progress', done, total, what }) };
        let report: InspectReport;
        if (base) report = await requestProjection(this.engine, path, asked, engine, base, options);
        else {
          const reply = await this.engine.request<'inspected'>({ type: 'inspect', path, settings: asked, engine }, options);
          report = reply.report;
          if (reply.inputs) inputs = new Set([resolve(path), ...reply.inputs.map((s) => resolve(s.path))]);
          try {
            this.cache?.put(path, scanKey(asked, engine), reply.inputs ?? [], report, at);
          } catch (err) {
            this.log.appendLine(`report cache: not stored for ${path}: ${describeError(err)}`);
          }
        }
        state.report = report;
        state.unreadable = undefined;
        this.updateContext();
        reported = asked;
        post({ type: 'report', report });
      } catch (err) {
        if (err instanceof CancelledJob) return;
        this.log.appendLine(`inspect ${path}: ${describeError(err)}`);
        // A model that cannot be read at all (not a worker that died): nothing to convert or export until it can.
        const unreadable = !(err instanceof WorkerDiedError) && !state.report;
        if (unreadable) state.unreadable = describeError(err);
        this.updateContext();
        post({ type: 'error', message: describeError(err), retry: retryable(err), unreadable });
        if (err instanceof WorkerDiedError) void vscode.window.showWarningMessage(`Sparsity Lens: ${err.message}`);
      } finally {
        if (scan === source) scanning = false;
      }
    };

    // The last report of an unchanged file at once (the panel says it is from the cache, with Rescan); else a scan.
    const showReport = () => {
      let hit;
      try {
        hit = this.cache?.get(path, scanKey(settings, engineSettings()));
      } catch (err) {
        this.log.appendLine(`report cache: not read for ${path}: ${describeError(err)}`);
      }
      if (!hit) return void inspect();
      scan?.cancel();
      state.report = hit.report;
      state.unreadable = undefined;
      this.updateContext();
      reported = settings;
      this.log.appendLine(`${path}: report from the cache (scanned ${new Date(hit.scannedAt).toISOString()})`);
      post({ type: 'report', report: hit.report, cached: { scannedAt: hit.scannedAt } });
    };

    // A file the report read changed (rewritten, replaced, deleted): say the numbers are outdated and scan again.
    // The model's own folder, not below it: watching a whole tree (a home folder) costs too much; the cache still
    // checks every file's stamp when the panel opens again.
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dirname(path)), '*'));
    let changeTimer: NodeJS.Timeout | undefined;
    const onFileEvent = (uri: vscode.Uri) => {
      if (!inputs.has(resolve(uri.fsPath))) return;
      post({ type: 'changed' });
      // Writers touch a file several times: one scan after they settle.
      clearTimeout(changeTimer);
      changeTimer = setTimeout(() => void inspect({ rescan: true }), 500);
    };
    watcher.onDidChange(onFileEvent);
    watcher.onDidCreate(onFileEvent);
    watcher.onDidDelete(onFileEvent);

    webview.onDidReceiveMessage(async (raw) => {
      const msg = parseFromWebview(raw);
      if (!msg) {
        this.log.appendLine('ignored a malformed message from the panel');
        return;
      }
      try {
        switch (msg.type) {
          case 'ready': {
            // The layer list from the lazy parse first (milliseconds), then the scan's numbers.
            const listed = await this.engine.request<'layers'>({ type: 'layers', path }).catch(() => undefined);
            post({ type: 'model', name: basename(path), settings, hardwareProfiles: profileNames(), layers: listed?.layers });
            showReport();
            break;
          }
          case 'settings': {
            // A new deploy target only re-colours the panel: the report already holds every target's verdicts.
            const rescan = !sameScan(settings, msg.settings);
            settings = msg.settings;
            if (rescan) showReport();
            break;
          }
          case 'retry':
          case 'rescan':
            void inspect({ rescan: true });
            break;
          case 'region': {
            const reply = await this.engine.request<'region'>({ type: 'region', path, pattern: settings.pattern, region: msg.region });
            post({ type: 'region', groups: reply.groups });
            break;
          }
          case 'encodings': {
            const reply = await this.engine.request<'encodings'>({ type: 'encodings', path, layer: msg.layer, row: msg.row, group: msg.group, position: msg.position });
            post({ type: 'encodings', encodings: reply.encodings });
            break;
          }
          case 'convert':
            await vscode.commands.executeCommand('sparsityLens.convert', document.uri);
            break;
          case 'exportReport':
            await vscode.commands.executeCommand('sparsityLens.exportReport', msg.format);
            break;
        }
      } catch (err) {
        if (!(err instanceof CancelledJob)) post({ type: 'error', message: describeError(err), retry: retryable(err) });
      }
    });
    webviewPanel.onDidChangeViewState(() => {
      if (webviewPanel.active) this.active = state;
      this.updateContext();
    });
    // Settings changed (Select Hardware Profile, the settings editor): open panels take what changed (a panel's own
    // batch stays), say "Updating…" over the old numbers, and project again (scan again only for what the scan reads).
    const configuration = vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration('sparsityLens')) return;
      const next = followConfiguration(settings, inspectSettings(), (key) => event.affectsConfiguration(key));
      const scanSettings = ['heatmapResolution', 'nearlyPassingThreshold'].some((key) => event.affectsConfiguration(`sparsityLens.${key}`));
      if (scanSettings) reported = undefined;
      const recompute = scanSettings || !sameScan(settings, next);
      settings = next;
      post({ type: 'model', name: basename(path), settings, hardwareProfiles: profileNames(), updating: recompute && state.report !== undefined });
      if (recompute) showReport();
    });
    webviewPanel.onDidDispose(() => {
      scan?.cancel();
      clearTimeout(changeTimer);
      watcher.dispose();
      configuration.dispose();
      this.panels.delete(state);
      if (this.active === state) this.active = undefined;
      this.updateContext();
    });
  }

  /** The panel open on `uri`, if any. */
  panelFor(uri: vscode.Uri): InspectorPanel | undefined {
    return [...this.panels].find((p) => p.uri.toString() === uri.toString());
  }

  /** `sparsityLens.modelUnreadable` for the menus (package.json): Convert and Export are hidden while the active model cannot be read. */
  private updateContext(): void {
    void vscode.commands.executeCommand('setContext', 'sparsityLens.modelUnreadable', Boolean(this.active?.unreadable));
  }
}
