// Project only (issue 14): a report's deploy verdicts and speedup projection recomputed for a new hardware profile,
// batch, runtime or precision from the statistics its scan gathered. The lazy parse runs again (the graph and the
// layers, milliseconds); no weight is read.
import type { DeployPrecision } from '../deploy/types';
import { ModelError } from '../errors';
import { readSkeleton } from '../onnx/skeleton';
import { FileSource } from '../onnx/source';
import { ExternalFiles } from '../onnx/tensorData';
import { discoverCheckpoint, isCheckpointPath } from '../safetensors/checkpoint';
import type { ProjectOptions } from '../speedup/project';
import { type InspectReport, type InspectSummary, type LayerReport, type LayerSpeedup, type SummarySpeedup, projectReport } from './inspect';
import { discover } from './layers';

/** The file no longer holds the layers the report was scanned from: scan it again. */
export class StaleReportError extends Error {}

export interface ReprojectOptions {
  speedup: ProjectOptions;
  precision?: DeployPrecision;
  batchSweep?: number[];
}

/**
 * The report `scanned` with its verdicts and projection for `options`, as inspectModel with those options would give
 * it; the scan statistics (and grids) are shared with `scanned`, which is not changed. Throws StaleReportError when
 * the file's size or layers differ from the report's.
 */
export function reprojectModel(path: string, scanned: InspectReport, options: ReprojectOptions): InspectReport {
  let src: FileSource;
  try {
    src = new FileSource(path);
  } catch (err) {
    throw new ModelError(path, `cannot open: ${(err as Error).message}`);
  }
  const externals = new ExternalFiles(path);
  try {
    const checkpoint = isCheckpointPath(path) ? discoverCheckpoint(src, externals) : undefined;
    const model = checkpoint?.model ?? readSkeleton(src);
    if (model.size !== scanned.fileSize) throw new StaleReportError(`${path}: the file changed since its scan (${scanned.fileSize} bytes then, ${model.size} now)`);
    const plans = checkpoint?.layers ?? discover({ model, src, externals }).layers;
    const shapes = new Map(plans.map((p) => [p.name, JSON.stringify(p.shape)]));
    const changed = scanned.layers.find((l) => shapes.get(l.name) !== JSON.stringify(l.shape));
    if (changed) throw new StaleReportError(`${path}: layer '${changed.name}' is not in the file as it was scanned`);
    const report: InspectReport = { ...scanned, warnings: [...scanned.warnings], summary: scanSummary(scanned.summary), layers: scanned.layers.map(scanLayer) };
    delete report.projection;
    delete report.batchSweep;
    delete report.deployPrecision;
    projectReport(report, { model, src, externals, plans, checkpoint: Boolean(checkpoint), filtered: scanned.layers.length < plans.length }, options);
    return report;
  } finally {
    externals.close();
    src.close();
  }
}

/** A layer's scan statistics without what the projection and the verdicts add. */
function scanLayer(layer: LayerReport): LayerReport {
  const { deploy: _deploy, macs: _macs, denseTime: _dense, sparseTime: _sparse, bound: _bound, speedup: _speedup, ...scan } = layer as LayerReport & Partial<LayerSpeedup>;
  return scan;
}

function scanSummary(summary: InspectSummary): InspectSummary {
  const { deploy: _deploy, speedup: _speedup, hardware: _hardware, assumptions: _assumptions, ...scan } = summary as InspectSummary & Partial<SummarySpeedup>;
  return scan;
}
