// "Convert with sparsity": pattern, mode, layers and output in a QuickPick, remembered per workspace; the worker does
// the work under a cancellable progress notification, which ends with actions to open, reveal or read the result.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { isCheckpointPath } from '../engine/safetensors/checkpoint';
import { type ConvertMode, defaultOutputPath } from '../engine/convert/paths';
import { describeError } from '../engine/errors';
import { parsePattern } from '../engine/sparsity/pattern';
import { formatConvert } from '../engine/report/convertFormat';
import type { ConvertRequest } from '../protocol';
import { CancelledJob, type EngineClient } from './engineClient';
import { INSPECTOR_VIEW_TYPE, type InspectorProvider } from './inspector';

interface Remembered {
  pattern: string;
  mode: ConvertRequest['mode'];
  encoding: 'ascend' | 'nvidia';
  layers: 'all' | 'failing' | 'regex';
  regex: string;
}

const KEY = 'sparsityLens.convert';

async function pick<T extends string>(title: string, items: { label: string; value: T; description?: string }[], current: T): Promise<T | undefined> {
  const sorted = [...items].sort((a, b) => (a.value === current ? -1 : b.value === current ? 1 : 0));
  const chosen = await vscode.window.showQuickPick(sorted, { title, placeHolder: title, ignoreFocusOut: true });
  return chosen?.value;
}

export async function convertCommand(
  context: vscode.ExtensionContext,
  engine: EngineClient,
  log: vscode.OutputChannel,
  uri?: vscode.Uri,
  inspector?: InspectorProvider,
): Promise<void> {
  const target = uri ?? (await chooseModel());
  if (!target) return;
  if (isCheckpointPath(target.fsPath)) {
    // Before any question: conversion writes ONNX models, and a checkpoint has no graph to write.
    void vscode.window.showErrorMessage(`Sparsity Lens: ${target.fsPath.split(/[\\/]/).pop()} is a safetensors checkpoint: it can be inspected, not converted (convert, decompress and export read ONNX models).`);
    return;
  }
  const remembered: Remembered = context.workspaceState.get<Remembered>(KEY) ?? { pattern: '2:4', mode: 'prune', encoding: 'ascend', layers: 'all', regex: '' };

  let pattern = await pick(
    'Sparsity Lens: pattern (N = non-zeros kept in every group of M)',
    [
      { label: '2:4', value: '2:4', description: 'NVIDIA sparse tensor cores, Ascend ATC' },
      { label: '1:4', value: '1:4' },
      { label: '2:8', value: '2:8' },
      { label: '4:8', value: '4:8' },
      { label: 'Other N:M…', value: 'other' },
    ],
    ['2:4', '1:4', '2:8', '4:8'].includes(remembered.pattern) ? remembered.pattern : 'other',
  );
  if (!pattern) return;
  if (pattern === 'other') {
    pattern = await vscode.window.showInputBox({
      title: 'Sparsity Lens: pattern N:M',
      value: remembered.pattern,
      validateInput: (v) => {
        const p = parsePattern(v);
        return typeof p === 'string' ? p : undefined;
      },
    });
    if (!pattern) return;
  }
  const mode = await pick<ConvertRequest['mode']>(
    'Sparsity Lens: what to write',
    [
      { label: 'Prune', value: 'prune', description: 'N:M by magnitude along each layer’s reduction axis' },
      { label: 'Compress', value: 'compress', description: 'pruned + values/index streams + decode graph (runs in ONNX Runtime)' },
      { label: 'Ascend', value: 'ascend', description: 'the ATC --sparsity=1 rewrite (2:4; for toolchains, not ONNX Runtime)' },
      { label: 'Export encodings', value: 'export', description: 'Ascend or NVIDIA values + index files and a manifest (2:4)' },
    ],
    remembered.mode,
  );
  if (!mode) return;
  let encoding = remembered.encoding;
  if (mode === 'export') {
    const e = await pick<'ascend' | 'nvidia'>('Sparsity Lens: encoding', [{ label: 'Ascend', value: 'ascend' }, { label: 'NVIDIA (CUTLASS/PyTorch)', value: 'nvidia' }], encoding);
    if (!e) return;
    encoding = e;
  }
  const layers = await pick<Remembered['layers']>(
    'Sparsity Lens: layers',
    [
      { label: 'All eligible layers', value: 'all' },
      { label: 'Failing layers only', value: 'failing', description: 'those that do not pass yet' },
      { label: 'Layers matching a pattern…', value: 'regex', description: 'a regular expression on layer names' },
    ],
    remembered.layers,
  );
  if (!layers) return;
  let regex = remembered.regex;
  if (layers === 'regex') {
    const r = await vscode.window.showInputBox({
      title: 'Sparsity Lens: layer names (regular expression)',
      value: regex,
      validateInput: (v) => {
        try {
          new RegExp(v);
          return undefined;
        } catch {
          return 'not a valid regular expression';
        }
      },
    });
    if (r === undefined) return;
    regex = r;
  }
  const parsed = parsePattern(pattern);
  if (typeof parsed === 'string') return void vscode.window.showErrorMessage(`Sparsity Lens: ${parsed}`);
  const suggested =
    mode === 'export' ? join(dirname(target.fsPath), `${basename(target.fsPath, '.onnx')}.${encoding}-encodings`) : defaultOutputPath(target.fsPath, mode as ConvertMode, parsed);
  const out = await vscode.window.showInputBox({ title: 'Sparsity Lens: output', value: suggested, prompt: mode === 'export' ? 'a folder' : 'the output model (never the input)' });
  if (!out) return;
  let force = false;
  if (existsSync(out)) {
    const answer = await vscode.window.showWarningMessage(`${basename(out)} exists. Replace it?`, { modal: true }, 'Replace');
    if (answer !== 'Replace') return;
    force = true;
  }
  await context.workspaceState.update(KEY, { pattern, mode, encoding, layers, regex } satisfies Remembered);

  // "Failing layers only" reuses the open panel's inspection (the engine uses it only if its pattern and file size match).
  const panelReport = layers === 'failing' ? [...(inspector?.panels ?? [])].find((p) => p.uri.fsPath === target.fsPath && p.report)?.report : undefined;
  const request: ConvertRequest = { mode, encoding, pattern, out, force, failingOnly: layers === 'failing', only: layers === 'regex' ? regex : undefined, inspection: panelReport };
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Sparsity Lens: ${mode} ${basename(target.fsPath)}`, cancellable: true },
      async (progress, token) => {
        let last = 0;
        return engine.request<'converted' | 'exported'>(
          { type: 'convert', path: target.fsPath, options: request },
          {
            token,
            onProgress: (done, total, what) => {
              const pct = total ? (done / total) * 100 : 0;
              progress.report({ message: what, increment: pct - last });
              last = pct;
            },
          },
        );
      },
    );
    if (result.type === 'exported') {
      const choice = await vscode.window.showInformationMessage(
        `Sparsity Lens: exported ${result.manifest.layers.length} layers (${result.manifest.skipped.length} skipped) to ${basename(out)}.`,
        'Reveal in Explorer',
        'Show Manifest',
      );
      if (choice === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(out));
      if (choice === 'Show Manifest') await vscode.window.showTextDocument(vscode.Uri.file(join(out, 'manifest.json')));
      return;
    }
    const report = result.report;
    log.appendLine(formatConvert(report));
    if (!report.written) {
      // Verification failed: the output was not kept (nothing at the output path changed).
      const choice = await vscode.window.showWarningMessage(
        `Sparsity Lens: VERIFICATION FAILED; ${basename(report.output ?? out)} was not written.`,
        'Show Report',
      );
      if (choice === 'Show Report') await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ content: formatConvert(report), language: 'markdown' }));
      return;
    }
    const verdict = report.verified ? 'every converted layer passes' : 'VERIFICATION FAILED';
    const show = report.verified ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
    const choice = await show(
      `Sparsity Lens: ${basename(report.output ?? out)} written; ${verdict}; retained magnitude ${report.summary.retainedMagnitude === null ? '-' : `${(report.summary.retainedMagnitude * 100).toFixed(1)}%`}.`,
      'Open in Sparsity Lens',
      'Reveal in Explorer',
      'Show Report',
    );
    const output = vscode.Uri.file(report.output ?? out);
    if (choice === 'Open in Sparsity Lens') await vscode.commands.executeCommand('vscode.openWith', output, INSPECTOR_VIEW_TYPE);
    if (choice === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', output);
    if (choice === 'Show Report') await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ content: formatConvert(report), language: 'markdown' }));
  } catch (err) {
    if (err instanceof CancelledJob) {
      void vscode.window.showInformationMessage('Sparsity Lens: conversion cancelled; nothing was written.');
      return;
    }
    void vscode.window.showErrorMessage(`Sparsity Lens: ${describeError(err)}`);
  }
}

async function chooseModel(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'ONNX models': ['onnx'] }, title: 'Sparsity Lens: model to convert' });
  return picked?.[0];
}
