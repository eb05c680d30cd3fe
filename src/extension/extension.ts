// The extension host entry: wires the engine worker, the inspection panel and the commands. Each command is its own
// small module; the engine runs in the worker, never here.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { type ReportFormat, formatReport } from '../engine/report/format';
import { PROFILES } from '../engine/speedup/profiles';
import { convertCommand } from './convert';
import { describeError } from '../engine/errors';
import { CancelledJob, EngineClient } from './engineClient';
import { CHECKPOINT_INDEX_VIEW_TYPE, INSPECTOR_VIEW_TYPE, InspectorProvider } from './inspector';
import { ReportCache } from './reportCache';
import { ReportDocuments } from './reportDocuments';

let engine: EngineClient | undefined;

export function activate(context: vscode.ExtensionContext): void {
  // A log channel: timestamped lines, and a file the end-to-end tests read for the 'activated' signal.
  const log = vscode.window.createOutputChannel('Sparsity Lens', { log: true });
  engine = new EngineClient(context.extensionPath, log);
  // Reports of unchanged models, in the extension's own storage (never beside the model): README, "Large models".
  const cache = new ReportCache(join(context.globalStorageUri.fsPath, 'report-cache'), String(context.extension.packageJSON.version));
  const inspector = new InspectorProvider(context.extensionUri, engine, log, cache);
  const e = engine;
  const documents = new ReportDocuments();
  context.subscriptions.push(
    log,
    documents.register(),
    vscode.window.registerCustomEditorProvider(INSPECTOR_VIEW_TYPE, inspector, { webviewOptions: { retainContextWhenHidden: true }, supportsMultipleEditorsPerDocument: false }),
    // A sharded checkpoint's index is JSON users also edit: the panel is offered for it ("Open With"), not imposed.
    vscode.window.registerCustomEditorProvider(CHECKPOINT_INDEX_VIEW_TYPE, inspector, { webviewOptions: { retainContextWhenHidden: true }, supportsMultipleEditorsPerDocument: false }),
    vscode.commands.registerCommand('sparsityLens.inspectModel', async (uri?: vscode.Uri) => {
      const target =
        uri ??
        vscode.window.activeTextEditor?.document.uri ??
        (await vscode.window.showOpenDialog({ filters: { 'Models and checkpoints': ['onnx', 'safetensors', 'json'] } }))?.[0];
      if (target) await vscode.commands.executeCommand('vscode.openWith', target, /\.safetensors\.index\.json$/i.test(target.path) ? CHECKPOINT_INDEX_VIEW_TYPE : INSPECTOR_VIEW_TYPE);
    }),
    vscode.commands.registerCommand('sparsityLens.convert', async (uri?: vscode.Uri) => {
      const model = uri ?? inspector.active?.uri;
      // A model that cannot be read is said before the QuickPicks, not after them (issue 14 item 3).
      const unreadable = model && (inspector.panelFor(model)?.unreadable ?? (await readProblem(e, model)));
      if (unreadable) return void vscode.window.showErrorMessage(`Sparsity Lens: cannot convert: ${unreadable}`);
      return convertCommand(context, e, log, model, inspector, documents);
    }),
    vscode.commands.registerCommand('sparsityLens.exportReport', async (format?: ReportFormat) => {
      const panel = inspector.active;
      if (panel?.unreadable) return void vscode.window.showErrorMessage(`Sparsity Lens: no report to export: ${panel.unreadable}`);
      if (!panel?.report) return void vscode.window.showWarningMessage('Sparsity Lens: open a model in the inspection panel first.');
      const chosen =
        format ??
        (await vscode.window.showQuickPick(
          [
            { label: 'Markdown', value: 'markdown' as const },
            { label: 'JSON', value: 'json' as const },
            { label: 'CSV', value: 'csv' as const },
            { label: 'Netron overlay', description: 'a netron:attachment JSON: open it in Netron beside the model', value: 'netron' as const },
            { label: 'Model Explorer overlay', description: 'node data JSON for Google Model Explorer', value: 'model-explorer' as const },
          ],
          { title: 'Sparsity Lens: report format' },
        ))?.value;
      if (!chosen) return;
      // Overlays are JSON files named for what reads them; the reports by their format.
      const ext = chosen === 'markdown' ? 'md' : chosen === 'netron' ? 'attachment.json' : chosen === 'model-explorer' ? 'node-data.json' : chosen;
      const stem = panel.uri.fsPath.replace(/(\.onnx|\.safetensors|\.safetensors\.index\.json)$/i, '');
      const target = await vscode.window.showSaveDialog({
        title: 'Sparsity Lens: save the report',
        defaultUri: vscode.Uri.file(chosen === 'netron' || chosen === 'model-explorer' ? `${stem}.${ext}` : `${stem}.sparsity.${ext}`),
        filters: { Report: [ext.split('.').pop()!] },
      });
      if (!target) return;
      const tmp = `${target.fsPath}.partial`;
      writeFileSync(tmp, formatReport(panel.report, chosen, true));
      renameSync(tmp, target.fsPath);
      const choice = await vscode.window.showInformationMessage(`Sparsity Lens: report written to ${target.fsPath}`, 'Open');
      if (choice === 'Open') await vscode.window.showTextDocument(target);
    }),
    vscode.commands.registerCommand('sparsityLens.selectHardwareProfile', async () => {
      const items = Object.values(PROFILES).map((p) => ({ label: p.name, description: p.description, detail: p.assumed.join('; ') }));
      const chosen = await vscode.window.showQuickPick(items, { title: 'Sparsity Lens: hardware profile for the projected speedup' });
      if (!chosen) return;
      const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
      await vscode.workspace.getConfiguration('sparsityLens').update('hardwareProfile', chosen.label, target);
    }),
  );
  log.info('activated');
}

/** Why the model at `uri` cannot be read (its lazy parse fails: milliseconds), or undefined when it can. */
async function readProblem(engine: EngineClient, uri: vscode.Uri): Promise<string | undefined> {
  if (uri.scheme !== 'file' || !/\.onnx$/i.test(uri.fsPath)) return undefined;
  try {
    await engine.request<'layers'>({ type: 'layers', path: uri.fsPath });
    return undefined;
  } catch (err) {
    return err instanceof CancelledJob ? undefined : describeError(err);
  }
}

export async function deactivate(): Promise<void> {
  await engine?.dispose();
  engine = undefined;
}
