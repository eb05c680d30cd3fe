// The extension's settings (package.json contributes.configuration), read in one place.
import * as vscode from 'vscode';
import { type DeployPrecision, TARGET_IDS, type TargetId } from '../engine/deploy/types';
import type { EngineSettings, InspectSettings } from '../protocol';

export function inspectSettings(): InspectSettings {
  const c = vscode.workspace.getConfiguration('sparsityLens');
  const batch = c.get<number>('batchSize', 1);
  const settings: InspectSettings = { pattern: c.get<string>('defaultPattern', '2:4'), hardware: c.get<string>('hardwareProfile', 'a100'), batch: batch > 0 ? batch : undefined, dims: {} };
  // "none" and "stored" are the defaults: no target colours the heatmap, each weight runs in its stored precision.
  const target = c.get<string>('deployTarget', 'none');
  if ((TARGET_IDS as readonly string[]).includes(target)) settings.target = target as TargetId;
  const precision = c.get<string>('precision', 'stored');
  if (['fp16', 'bf16', 'int8', 'fp8'].includes(precision)) settings.precision = precision as DeployPrecision;
  // Fused (TensorRT-like) by default: how 2:4 models are deployed (the CLI's --runtime keeps eager as its default).
  settings.runtime = c.get<string>('runtime', 'fused') === 'eager' ? 'eager' : 'fused';
  return settings;
}

export function engineSettings(): EngineSettings {
  const c = vscode.workspace.getConfiguration('sparsityLens');
  return {
    gridMax: Math.max(8, Math.min(512, c.get<number>('heatmapResolution', 128))),
    nearlyThreshold: Math.max(0, Math.min(1, c.get<number>('nearlyPassingThreshold', 0.99))),
    workers: Math.max(0, c.get<number>('workerCount', 0)),
  };
}
