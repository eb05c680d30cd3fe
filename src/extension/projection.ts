// The panel's "project only" path (issue 14): a new hardware profile, batch, runtime or precision recomputes the
// projection and the deploy verdicts from the last report's statistics, never the weight scan; and a settings change
// made outside the panel (Select Hardware Profile) changes only what it names.
import type * as vscode from 'vscode';
import type { InspectReport } from '../engine/sparsity/inspect';
import type { EngineSettings, InspectSettings } from '../protocol';
import type { EngineClient } from './engineClient';

/**
 * Asks the worker to re-project `report` with `settings`. The grids stay here: the projection does not read them, and
 * at 2,000 layers of 128 x 128 tiles they are most of the report's bytes.
 */
export async function requestProjection(
  engine: EngineClient,
  path: string,
  settings: InspectSettings,
  engineSettings: EngineSettings,
  report: InspectReport,
  options: { token?: vscode.CancellationToken; onProgress?: (done: number, total: number, what: string) => void },
): Promise<InspectReport> {
  const lean: InspectReport = { ...report, layers: report.layers.map((l) => ({ ...l, grid: null })) };
  const reply = await engine.request<'inspected'>({ type: 'project', path, settings, engine: engineSettings, report: lean }, options);
  // A file changed since its scan is scanned again by the worker: its reply then carries new grids of its own.
  const grids = new Map(report.layers.map((l) => [l.name, l.grid]));
  for (const layer of reply.report.layers) if (layer.grid === null && grids.has(layer.name)) layer.grid = grids.get(layer.name)!;
  return reply.report;
}

/** The settings keys of `sparsityLens.*` the panel's settings follow, by field. */
const FOLLOWED: { key: string; field: keyof InspectSettings }[] = [
  { key: 'sparsityLens.defaultPattern', field: 'pattern' },
  { key: 'sparsityLens.hardwareProfile', field: 'hardware' },
  { key: 'sparsityLens.batchSize', field: 'batch' },
  { key: 'sparsityLens.runtime', field: 'runtime' },
  { key: 'sparsityLens.deployTarget', field: 'target' },
  { key: 'sparsityLens.precision', field: 'precision' },
];

/**
 * A panel's settings after the configuration changed: only the fields whose setting changed take the new value (Select
 * Hardware Profile changes the hardware, not the batch the user typed in the panel); the rest stay the panel's own.
 */
export function followConfiguration(current: InspectSettings, fresh: InspectSettings, affects: (key: string) => boolean): InspectSettings {
  const next: InspectSettings = { ...current };
  for (const { key, field } of FOLLOWED) {
    if (!affects(key)) continue;
    if (fresh[field] === undefined) delete next[field];
    else (next as unknown as Record<string, unknown>)[field] = fresh[field];
  }
  return next;
}
