// "Convert with sparsity": pattern, mode, layers and output in QuickPick steps with a counter and Back, remembered per
// workspace; the worker does the work under a cancellable progress notification with a percentage, which ends with
// actions to open, reveal or read the result. The outcome stays in the output channel and the open panel.
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
import { type ConvertOutcome, convertOutcome, exportOutcome } from './convertOutcome';
import { INSPECTOR_VIEW_TYPE, type InspectorProvider } from './inspector';
import { BACK, type StepResult, inputStep, pickStep } from './quickSteps';
import type { ReportDocuments } from './reportDocuments';

interface Remembered {
  pattern: string;
  mode: ConvertRequest['mode'];
  encoding: 'ascend' | 'nvidia';
  layers: 'all' | 'failing' | 'regex';
  regex: string;
}

const KEY = 'sparsityLens.convert';

type Step = 'pattern' | 'customPattern' | 'mode' | 'encoding' | 'layers' | 'regex' | 'output';

interface Answers extends Remembered {
  out: string;
}

/** The questions, one step at a time; Back returns to the previous one. Undefined: the user dismissed a step. */
async function ask(target: string, remembered: Remembered): Promise<Answers | undefined> {
  const answers: Answers = { ...remembered, out: '' };
  const standard = ['2:4', '1:4', '2:8', '4:8'];
  let choice = standard.includes(answers.pattern) ? answers.pattern : 'other';
  const history: Step[] = [];
  let step: Step | 'done' = 'pattern';
  while (step !== 'done') {
    // Export asks for the encoding too: five steps, else four.
    const total = answers.mode === 'export' ? 5 : 4;
    const number: Record<Step, number> = { pattern: 1, customPattern: 1, mode: 2, encoding: 3, layers: total - 1, regex: total - 1, output: total };
    const place = (title: string) => ({ title: `Sparsity Lens: ${title}`, step: number[step as Step], totalSteps: total, canGoBack: history.length > 0 });
    let result: StepResult<string>;
    let next: Step | 'done' = 'done';
    switch (step) {
      case 'pattern':
        result = await pickStep(
          place('pattern (N = non-zeros kept in every group of M)'),
          [
            { label: '2:4', value: '2:4', description: 'NVIDIA sparse tensor cores, Ascend ATC' },
            { label: '1:4', value: '1:4' },
            { label: '2:8', value: '2:8' },
            { label: '4:8', value: '4:8' },
            { label: 'Other N:M…', value: 'other' },
          ],
          choice,
        );
        if (typeof result === 'string') {
          choice = result;
          if (result !== 'other') answers.pattern = result;
        }
        next = choice === 'other' ? 'customPattern' : 'mode';
        break;
      case 'customPattern':
        result = await inputStep(place('pattern N:M'), {
          value: answers.pattern,
          validate: (v) => {
            const p = parsePattern(v);
            return typeof p === 'string' ? p : undefined;
          },
        });
        if (typeof result === 'string') answers.pattern = result;
        next = 'mode';
        break;
      case 'mode':
        result = await pickStep<ConvertRequest['mode']>(
          place('what to write'),
          [
            { label: 'Prune', value: 'prune', description: 'N:M by magnitude along each layer’s reduction axis' },
            { label: 'Compress', value: 'compress', description: 'pruned + values/index streams + decode graph (runs in ONNX Runtime)' },
            { label: 'Ascend', value: 'ascend', description: 'the ATC --sparsity=1 rewrite (2:4; for toolchains, not ONNX Runtime)' },
            { label: 'Export encodings', value: 'export', description: 'Ascend or NVIDIA values + index files and a manifest (2:4)' },
          ],
          answers.mode,
        );
        if (typeof result === 'string') answers.mode = result as ConvertRequest['mode'];
        next = answers.mode === 'export' ? 'encoding' : 'layers';
        break;
      case 'encoding':
        result = await pickStep<'ascend' | 'nvidia'>(place('encoding'), [{ label: 'Ascend', value: 'ascend' }, { label: 'NVIDIA (CUTLASS/PyTorch)', value: 'nvidia' }], answers.encoding);
        if (typeof result === 'string') answers.encoding = result as 'ascend' | 'nvidia';
        next = 'layers';
        break;
      case 'layers':
        result = await pickStep<Remembered['layers']>(
          place('layers'),
          [
            { label: 'All eligible layers', value: 'all' },
            { label: 'Failing layers only', value: 'failing', description: 'those that do not pass yet' },
            { label: 'Layers matching a pattern…', value: 'regex', description: 'a regular expression on layer names' },
          ],
          answers.layers,
        );
        if (typeof result === 'string') answers.layers = result as Remembered['layers'];
        next = answers.layers === 'regex' ? 'regex' : 'output';
        break;
      case 'regex':
        result = await inputStep(place('layer names (regular expression)'), {
          value: answers.regex,
          validate: (v) => {
            try {
              new RegExp(v);
              return undefined;
            } catch {
              return 'not a valid regular expression';
            }
          },
        });
        if (typeof result === 'string') answers.regex = result;
        next = 'output';
        break;
      case 'output': {
        const parsed = parsePattern(answers.pattern);
        if (typeof parsed === 'string') return void vscode.window.showErrorMessage(`Sparsity Lens: ${parsed}`);
        const suggested =
          answers.mode === 'export'
            ? join(dirname(target), `${basename(target, '.onnx')}.${answers.encoding}-encodings`)
            : defaultOutputPath(target, answers.mode as ConvertMode, parsed);
        result = await inputStep(place(answers.mode === 'export' ? 'output folder' : 'output model'), {
          value: suggested,
          prompt: answers.mode === 'export' ? 'a folder for the values, index files and manifest.json' : 'the output model (never the input)',
          validate: (v) => (v.trim() === '' ? 'an output path is needed' : v === target ? 'the output must not be the input' : undefined),
        });
        if (typeof result === 'string') answers.out = result;
        next = 'done';
        break;
      }
    }
    if (result === undefined) return undefined;
    if (result === BACK) {
      step = history.pop() ?? 'pattern';
      continue;
    }
    history.push(step);
    step = next;
  }
  return answers;
}

export async function convertCommand(
  context: vscode.ExtensionContext,
  engine: EngineClient,
  log: vscode.OutputChannel,
  uri?: vscode.Uri,
  inspector?: InspectorProvider,
  documents?: ReportDocuments,
): Promise<void> {
  const target = uri ?? (await chooseModel());
  if (!target) return;
  if (isCheckpointPath(target.fsPath)) {
    // Before any question: conversion writes ONNX models, and a checkpoint has no graph to write.
    void vscode.window.showErrorMessage(`Sparsity Lens: ${target.fsPath.split(/[\\/]/).pop()} is a safetensors checkpoint: it can be inspected, not converted (convert, decompress and export read ONNX models).`);
    return;
  }
  const remembered: Remembered = context.workspaceState.get<Remembered>(KEY) ?? { pattern: '2:4', mode: 'prune', encoding: 'ascend', layers: 'all', regex: '' };
  const answers = await ask(target.fsPath, remembered);
  if (!answers) return;
  const { pattern, mode, encoding, layers, regex, out } = answers;
  let force = false;
  if (existsSync(out)) {
    const answer = await vscode.window.showWarningMessage(`${basename(out)} exists. Replace it?`, { modal: true }, 'Replace');
    if (answer !== 'Replace') return;
    force = true;
  }
  await context.workspaceState.update(KEY, { pattern, mode, encoding, layers, regex } satisfies Remembered);

  // The toast hides; the outcome stays in the output channel and in the model's panel, if one is open.
  const keep = (outcome: ConvertOutcome) => {
    log.appendLine(`convert ${target.fsPath} (${mode} ${pattern}): ${outcome.message}`);
    for (const line of outcome.details) log.appendLine(`  ${line}`);
    inspector?.showConvertOutcome(target, outcome);
  };
  const toast = (outcome: ConvertOutcome, ...actions: string[]) => {
    const text = `Sparsity Lens: ${outcome.message}.${outcome.details.length ? ` ${outcome.details.join('; ')}.` : ''}`;
    return outcome.level === 'warning' ? vscode.window.showWarningMessage(text, ...actions) : vscode.window.showInformationMessage(text, ...actions);
  };
  const showReport = async (text: string) => {
    const name = `${basename(target.fsPath)}.${mode}-report.txt`;
    if (documents) await documents.open(name, text);
  };

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
              const pct = total ? Math.min(100, (done / total) * 100) : 0;
              progress.report({ message: `${Math.floor(pct)} %${what ? `: ${what}` : ''}`, increment: pct - last });
              last = pct;
            },
          },
        );
      },
    );
    if (result.type === 'exported') {
      const outcome = exportOutcome(result.manifest, out);
      keep(outcome);
      const choice = await toast(outcome, 'Reveal in Explorer', 'Show Manifest');
      if (choice === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(out));
      if (choice === 'Show Manifest') await vscode.window.showTextDocument(vscode.Uri.file(join(out, 'manifest.json')), { preview: true });
      return;
    }
    const report = result.report;
    const text = formatConvert(report);
    log.appendLine(text);
    const outcome = convertOutcome(report, out);
    keep(outcome);
    if (!report.written) {
      // Verification failed: the output was not kept (nothing at the output path changed).
      if ((await toast(outcome, 'Show Report')) === 'Show Report') await showReport(text);
      return;
    }
    const choice = await toast(outcome, 'Open in Sparsity Lens', 'Reveal in Explorer', 'Show Report');
    const output = vscode.Uri.file(report.output ?? out);
    if (choice === 'Open in Sparsity Lens') await vscode.commands.executeCommand('vscode.openWith', output, INSPECTOR_VIEW_TYPE);
    if (choice === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', output);
    if (choice === 'Show Report') await showReport(text);
  } catch (err) {
    if (err instanceof CancelledJob) {
      keep({ level: 'info', message: 'conversion cancelled; nothing was written', details: [] });
      void vscode.window.showInformationMessage('Sparsity Lens: conversion cancelled; nothing was written.');
      return;
    }
    keep({ level: 'warning', message: `conversion failed: ${describeError(err)}`, details: [] });
    void vscode.window.showErrorMessage(`Sparsity Lens: ${describeError(err)}`);
  }
}

async function chooseModel(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'ONNX models': ['onnx'] }, title: 'Sparsity Lens: model to convert' });
  return picked?.[0];
}
