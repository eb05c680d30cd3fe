// The typed messages between the extension host, the engine worker and the webview (style.md: one protocol file,
// every message an interface with a `type` tag). Whole weight tensors never cross: only reports, grids of at most
// 128 x 128 tiles, and the few groups and bytes a view shows.
import type { ConvertReport } from './engine/convert/convert';
import type { ExportManifest } from './engine/convert/export';
import type { FileStamp } from './engine/inputFiles';
import type { InspectReport, LayerReport } from './engine/sparsity/inspect';
import { type DeployPrecision, TARGET_IDS, type TargetId } from './engine/deploy/types';
import { type GroupEncodings, type GroupRegion, MAX_REGION_GROUPS, type RegionGroups } from './engine/sparsity/regionTypes';

export { type GroupEncodings, type GroupRegion, MAX_REGION_GROUPS, type RegionGroups };

/** What the panel's Export button writes: a report, or an overlay for Netron or Model Explorer (issue 16). */
export type ExportFormat = 'markdown' | 'json' | 'csv' | 'netron' | 'model-explorer';
export const EXPORT_FORMATS: readonly string[] = ['markdown', 'json', 'csv', 'netron', 'model-explorer'];

/** What the panel may ask the engine to inspect with. */
export interface InspectSettings {
  /** "2:4" */
  pattern: string;
  hardware: string;
  batch?: number;
  dims?: Record<string, number>;
  /** The deployment target the heatmap colours by and the drill-down explains (issue 13). */
  target?: TargetId;
  /** The precision the engine will be built with; default: each weight's stored precision. */
  precision?: DeployPrecision;
  /** The runtime the projection models (the CLI's --runtime); default: eager. */
  runtime?: 'eager' | 'fused';
}

/** The batch sizes the panel projects besides the chosen one, so that the regime (launch, memory, math) is visible. */
export const BATCH_SWEEP: readonly number[] = [1, 8, 64, 256];

// ----------------------------------------------------------------------------------------------- worker

/** Engine settings from the extension's configuration. */
export interface EngineSettings {
  /** Heatmap resolution: most tiles per side of a layer's grid. */
  gridMax: number;
  nearlyThreshold: number;
  /** Scan threads; 0 = one per core. */
  workers: number;
}

/**
 * Requests may carry `abort`, a shared flag (sharedAbort.ts) the host raises to cancel: it reaches the engine's
 * synchronous loops, which a 'cancel' message cannot.
 */
export type ToWorker =
  | { type: 'inspect'; id: number; path: string; settings: InspectSettings; engine: EngineSettings; abort?: Int32Array }
  /** Project only: `report` (of this file and pattern) with new hardware, batch, runtime or precision; no weight is read. */
  | { type: 'project'; id: number; path: string; settings: InspectSettings; engine: EngineSettings; report: InspectReport; abort?: Int32Array }
  | { type: 'layers'; id: number; path: string }
  | { type: 'region'; id: number; path: string; pattern: string; region: GroupRegion }
  | { type: 'encodings'; id: number; path: string; layer: string; row: number; group: number; position: number }
  | { type: 'convert'; id: number; path: string; options: ConvertRequest; abort?: Int32Array }
  | { type: 'cancel'; id: number };

export interface ConvertRequest {
  /** export writes sidecar files (encoding below) into `out`, a folder. */
  mode: 'prune' | 'compress' | 'ascend' | 'export';
  encoding?: 'ascend' | 'nvidia';
  pattern: string;
  out?: string;
  only?: string;
  skip?: string;
  failingOnly?: boolean;
  /** The panel's inspection of this model, so that "failing layers only" does not inspect it again. */
  inspection?: InspectReport;
  force?: boolean;
}

export type FromWorker =
  | { type: 'progress'; id: number; done: number; total: number; what: string }
  | { type: 'log'; message: string }
  /** `inputs`: the files the report read, stamped before the scan (the panel's report cache keys on them). */
  | { type: 'inspected'; id: number; report: InspectReport; inputs?: FileStamp[] }
  | { type: 'layers'; id: number; layers: LayerRow[] }
  | { type: 'region'; id: number; groups: RegionGroups }
  | { type: 'encodings'; id: number; encodings: GroupEncodings }
  | { type: 'converted'; id: number; report: ConvertReport }
  | { type: 'exported'; id: number; manifest: ExportManifest }
  /** `retry`: trying again may help (a file cut short or locked), not for a malformed model (errors.ts canRetry). */
  | { type: 'failed'; id: number; message: string; retry?: boolean }
  | { type: 'cancelled'; id: number };

// ----------------------------------------------------------------------------------------------- webview

/** A layer as the panel lists it before numbers arrive (from the lazy parse). */
export type LayerRow = Pick<LayerReport, 'name' | 'op' | 'graph' | 'shape' | 'dtype' | 'axis'>;

export type ToWebview =
  /** `layers`, when given, lists the layers before their numbers arrive (the panel shows them as not scanned yet). */
  /** `updating`: the host recomputes with these settings; the numbers on screen are the old ones until the next report. */
  | { type: 'model'; name: string; settings: InspectSettings; hardwareProfiles: string[]; layers?: LayerRow[]; updating?: boolean }
  | { type: 'progress'; done: number; total: number; what: string }
  /** The full report, with each layer's grid (at most 128 x 128 tiles); `cached`: from the report cache, not scanned now. */
  | { type: 'report'; report: InspectReport; cached?: { scannedAt: number } }
  /** A file the report read changed on disk: the numbers shown are outdated until the new scan's report. */
  | { type: 'changed' }
  /** How a conversion of this model ended (kept in the panel after the toast hides). */
  | { type: 'convertOutcome'; level: 'info' | 'warning'; message: string; details: string[] }
  | { type: 'region'; groups: RegionGroups }
  | { type: 'encodings'; encodings: GroupEncodings }
  /** `unreadable`: the model itself could not be read, so Convert and Export have nothing to work on. */
  | { type: 'error'; message: string; retry: boolean; unreadable?: boolean };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'settings'; settings: InspectSettings }
  | { type: 'region'; region: GroupRegion }
  | { type: 'encodings'; layer: string; row: number; group: number; position: number }
  | { type: 'convert' }
  | { type: 'exportReport'; format: ExportFormat }
  | { type: 'retry' }
  /** Scan again, past the report cache. */
  | { type: 'rescan' };

const PATTERN = /^\d{1,2}:\d{1,2}$/;
const PRECISIONS: readonly string[] = ['stored', 'fp16', 'bf16', 'int8', 'fp8'] satisfies DeployPrecision[];

/** Whether two settings give the same report: only the deploy target differs (the report holds every target's verdicts). */
export function sameScan(a: InspectSettings, b: InspectSettings): boolean {
  const dims = (s: InspectSettings) => JSON.stringify(Object.entries(s.dims ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return sameWeights(a, b) && a.hardware === b.hardware && a.batch === b.batch && (a.precision ?? 'stored') === (b.precision ?? 'stored') && (a.runtime ?? 'eager') === (b.runtime ?? 'eager') && dims(a) === dims(b);
}

/** Whether two settings read the weights alike (the same pattern): then only the projection and verdicts change. */
export function sameWeights(a: InspectSettings, b: InspectSettings): boolean {
  return a.pattern === b.pattern;
}

/** Validates a message from the webview (it is untrusted input): returns it typed, or undefined. */
export function parseFromWebview(value: unknown): FromWebview | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const msg = value as Record<string, unknown>;
  const int = (v: unknown, max = 1e9) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
  const str = (v: unknown, max = 512) => typeof v === 'string' && v.length <= max;
  switch (msg.type) {
    case 'ready':
    case 'convert':
    case 'retry':
    case 'rescan':
      return { type: msg.type };
    case 'exportReport':
      return typeof msg.format === 'string' && EXPORT_FORMATS.includes(msg.format) ? { type: 'exportReport', format: msg.format as ExportFormat } : undefined;
    case 'settings': {
      const s = msg.settings as Record<string, unknown> | undefined;
      if (!s || !str(s.pattern, 5) || !PATTERN.test(s.pattern as string) || !str(s.hardware, 64)) return undefined;
      if (s.batch !== undefined && !(int(s.batch, 1 << 20) && (s.batch as number) >= 1)) return undefined;
      const dims: Record<string, number> = {};
      if (s.dims !== undefined) {
        if (typeof s.dims !== 'object' || s.dims === null) return undefined;
        for (const [k, v] of Object.entries(s.dims)) {
          if (!str(k, 128) || !int(v, 1 << 24)) return undefined;
          dims[k] = v as number;
        }
      }
      if (s.target !== undefined && !(TARGET_IDS as readonly unknown[]).includes(s.target)) return undefined;
      if (s.precision !== undefined && !PRECISIONS.includes(s.precision as string)) return undefined;
      if (s.runtime !== undefined && s.runtime !== 'eager' && s.runtime !== 'fused') return undefined;
      const settings: InspectSettings = { pattern: s.pattern as string, hardware: s.hardware as string, batch: s.batch as number | undefined, dims };
      if (s.target !== undefined) settings.target = s.target as TargetId;
      if (s.precision !== undefined) settings.precision = s.precision as DeployPrecision;
      if (s.runtime !== undefined) settings.runtime = s.runtime as InspectSettings['runtime'];
      return { type: 'settings', settings };
    }
    case 'region': {
      const r = msg.region as Record<string, unknown> | undefined;
      if (!r || !str(r.layer) || ![r.row0, r.row1, r.group0, r.group1, r.position].every((v) => int(v))) return undefined;
      const region = r as unknown as GroupRegion;
      if (region.row1 <= region.row0 || region.group1 <= region.group0) return undefined;
      if ((region.row1 - region.row0) * (region.group1 - region.group0) > MAX_REGION_GROUPS) return undefined;
      return { type: 'region', region: { layer: region.layer, row0: region.row0, row1: region.row1, group0: region.group0, group1: region.group1, position: region.position } };
    }
    case 'encodings':
      return str(msg.layer) && int(msg.row) && int(msg.group) && int(msg.position)
        ? { type: 'encodings', layer: msg.layer as string, row: msg.row as number, group: msg.group as number, position: msg.position as number }
        : undefined;
    default:
      return undefined;
  }
}
