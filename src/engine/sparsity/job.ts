// A scan job: one part of one weight, self-contained so that it can run inline or in a worker thread.
import type { TensorRef } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import { ExternalFiles, openTensor } from '../onnx/tensorData';
import { type ZeroPoint, rehydrateZeroPoint } from './decode';
import type { Geometry, PartStats } from './kernel';
import type { Pattern } from './pattern';
import { type ScanPart, scanPartCompact } from './scan';
import type { StoredWeight } from './stored';
import { openStored } from './storedReader';

export interface ScanJob {
  id: number;
  /** Which weight (index into the inspection's unique weights). */
  weight: number;
  tensor: TensorRef;
  geometry: Geometry;
  pattern: Pattern;
  zeroPoint?: ZeroPoint;
  gridMax: number;
  part: ScanPart;
  /** A weight stored compressed by this tool: its parts are decoded where they are read. */
  stored?: StoredWeight;
}

/** Opens each model file and external file once per thread. */
export class JobSources {
  private externals?: ExternalFiles;
  constructor(readonly src: ByteSource) {}

  run(job: ScanJob, onProgress?: (elements: number) => void, signal?: { aborted: boolean }): PartStats {
    this.externals ??= new ExternalFiles(this.src.path);
    const reader = job.stored ? openStored(this.src, job.stored, this.externals) : openTensor(this.src, job.tensor, this.externals);
    const externals = this.externals;
    // Zero points left in their file are read through this thread's files, the rows of this part only.
    const zeroPoint = rehydrateZeroPoint(job.zeroPoint, (tensor) => ({ reader: openTensor(this.src, tensor, externals), done: () => {} }));
    return scanPartCompact(reader, { geometry: job.geometry, pattern: job.pattern, zeroPoint, gridMax: job.gridMax, onProgress, signal }, job.part);
  }

  /** Closes the external data files this opened (the model's own source stays open: it belongs to the caller). */
  closeExternals(): void {
    this.externals?.close();
    this.externals = undefined;
  }

  close(): void {
    this.closeExternals();
    this.src.close();
  }
}
