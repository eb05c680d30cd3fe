// The panel's report cache (issue 14, Scale): a model of 100 GB takes minutes to scan, so a panel reopened on an
// unchanged file shows its last report at once. Entries live in the extension's global storage (never beside the
// model), one JSON file per model and scan settings, valid only while every file the report read keeps its size,
// mtime and inode; the folder is kept under a size bound, least recently used first out. A corrupt or foreign entry
// is ignored and removed. Plain Node (no vscode import), so that its unit tests run outside VS Code.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type FileStamp, unchanged } from '../engine/inputFiles';
import type { InspectReport } from '../engine/sparsity/inspect';
import type { EngineSettings, InspectSettings } from '../protocol';

/** 256 MiB: a 2,000-layer report is a few MB of JSON, so this keeps the last dozens of models. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
/** Bumped when the entry's layout changes: older entries are then ignored. */
const FORMAT = 1;

/** What changes a scan's numbers: the settings the worker scans with (not the deploy target, which only re-colours). */
export interface ScanKey {
  pattern: string;
  hardware: string;
  batch: number | null;
  runtime: string;
  precision: string;
  dims: [string, number][];
  gridMax: number;
  nearlyThreshold: number;
}

export function scanKey(settings: InspectSettings, engine: EngineSettings): ScanKey {
  return {
    pattern: settings.pattern,
    hardware: settings.hardware,
    batch: settings.batch ?? null,
    runtime: settings.runtime ?? 'eager',
    precision: settings.precision ?? 'stored',
    dims: Object.entries(settings.dims ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    gridMax: engine.gridMax,
    nearlyThreshold: engine.nearlyThreshold,
  };
}

export interface CachedReport {
  report: InspectReport;
  /** When the scan began (ms since the epoch). */
  scannedAt: number;
}

interface Entry extends CachedReport {
  format: number;
  version: string;
  model: string;
  scan: ScanKey;
  inputs: FileStamp[];
}

export class ReportCache {
  /**
   * @param folder  the cache's own folder (the extension's global storage)
   * @param version the extension's version: a new engine may read a model differently, so its entries start afresh
   */
  constructor(
    readonly folder: string,
    readonly version: string,
    readonly maxBytes = DEFAULT_CACHE_BYTES,
  ) {}

  /** The cached report of this model and scan, if every file it read is unchanged; a stale or corrupt entry is removed. */
  get(modelPath: string, scan: ScanKey): CachedReport | undefined {
    const file = this.entryFile(modelPath, scan);
    let entry: Entry;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as Entry;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.remove(file);
      return undefined;
    }
    if (!this.valid(entry, modelPath, scan) || !unchanged(entry.inputs)) {
      this.remove(file);
      return undefined;
    }
    // Least recently used goes first: a hit counts as a use.
    const now = new Date();
    try {
      utimesSync(file, now, now);
    } catch {
      // read-only storage: the order is only a preference
    }
    return { report: entry.report, scannedAt: entry.scannedAt };
  }

  /**
   * Stores a report. `inputs` are the stamps taken before the scan: a file that changed while it was read no longer
   * matches them, so that report is never served. Returns false when it was not stored (too large, model missing).
   */
  put(modelPath: string, scan: ScanKey, inputs: FileStamp[], report: InspectReport, scannedAt: number): boolean {
    if (inputs.length === 0 || inputs[0].size < 0 || resolve(inputs[0].path) !== resolve(modelPath)) return false;
    const entry: Entry = { format: FORMAT, version: this.version, model: resolve(modelPath), scan, inputs, scannedAt, report };
    const text = JSON.stringify(entry);
    if (Buffer.byteLength(text) > this.maxBytes) return false;
    mkdirSync(this.folder, { recursive: true });
    const file = this.entryFile(modelPath, scan);
    const partial = `${file}.partial`;
    writeFileSync(partial, text);
    renameSync(partial, file);
    this.evict(file);
    return true;
  }

  /** Bytes the entries take now. */
  size(): number {
    return this.entries().reduce((sum, e) => sum + e.size, 0);
  }

  private entryFile(modelPath: string, scan: ScanKey): string {
    const id = createHash('sha256').update(JSON.stringify([FORMAT, this.version, resolve(modelPath), scan])).digest('hex').slice(0, 40);
    return join(this.folder, `${id}.json`);
  }

  private valid(entry: Entry, modelPath: string, scan: ScanKey): boolean {
    return (
      typeof entry === 'object' &&
      entry !== null &&
      entry.format === FORMAT &&
      entry.version === this.version &&
      entry.model === resolve(modelPath) &&
      JSON.stringify(entry.scan) === JSON.stringify(scan) &&
      typeof entry.scannedAt === 'number' &&
      Array.isArray(entry.inputs) &&
      entry.inputs.length > 0 &&
      entry.inputs.every((s) => typeof s?.path === 'string' && typeof s.size === 'number' && typeof s.mtimeMs === 'number' && typeof s.ino === 'number') &&
      typeof entry.report === 'object' &&
      entry.report !== null &&
      Array.isArray(entry.report.layers) &&
      typeof entry.report.summary === 'object'
    );
  }

  private entries(): { file: string; size: number; used: number }[] {
    let names: string[];
    try {
      names = readdirSync(this.folder);
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      // Left-over partial writes count and go too.
      if (!name.endsWith('.json') && !name.endsWith('.partial')) return [];
      const file = join(this.folder, name);
      try {
        const s = statSync(file);
        return [{ file, size: s.size, used: s.mtimeMs }];
      } catch {
        return [];
      }
    });
  }

  /** Removes the least recently used entries until the folder fits the bound; `keep` (just written) goes last. */
  private evict(keep: string): void {
    const all = this.entries().sort((a, b) => (a.file === keep ? 1 : b.file === keep ? -1 : a.used - b.used));
    let total = all.reduce((sum, e) => sum + e.size, 0);
    for (const e of all) {
      if (total <= this.maxBytes || e.file === keep) break;
      this.remove(e.file);
      total -= e.size;
    }
  }

  private remove(file: string): void {
    rmSync(file, { force: true });
  }
}
