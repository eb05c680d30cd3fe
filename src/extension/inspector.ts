// The inspection panel: a read-only custom editor for .onnx files. The layer numbers come from the engine worker;
// closing the panel cancels its scan.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { describeError } from '../engine/errors';
import type { InspectReport } from '../engine/sparsity/inspect';
import { profileNames } from '../engine/speedup/profiles';
import { type InspectSettings, type ToWebview, parseFromWebview, sameScan, sameWeights } from '../protocol';
import { CancelledJob, type EngineClient, WorkerDiedError, retryable } from './engineClient';
import { panelHtml, webviewOptions } from './html';
import { followConfiguration, requestProjection } from './projection';
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
  ) {}

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

    const inspect = async () => {
      scan?.cancel();
      const source = (scan = new vscode.CancellationTokenSource());
      const asked = settings;
      // Hardware, batch, runtime or precision: project the last report again, no weight scan (issue 14).
      const base = !scanning && reported && sameWeights(reported, asked) ? state.report : undefined;
      scanning = !base;
      try {
        const options = { token: source.token, onProgress: (done: number, total: number, what: string) => post({ type: 'progress', done, total, what }) };
        const report = base
          ? await requestProjection(this.engine, path, asked, engineSettings(), base, options)
          : (await this.engine.request<'inspected'>({ type: 'inspect', path, settings: asked, engine: engineSettings() }, options)).report;
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
            void inspect();
            break;
          }
          case 'settings': {
            // A new deploy target only re-colours the panel: the report already holds every target's verdicts.
            const rescan = !sameScan(settings, msg.settings);
            settings = msg.settings;
            if (rescan) void inspect();
            break;
          }
          case 'retry':
            void inspect();
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
      if (recompute) void inspect();
    });
    webviewPanel.onDidDispose(() => {
      scan?.cancel();
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
