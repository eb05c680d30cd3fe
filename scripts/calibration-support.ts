// What the calibration sets share (scripts/calibration.ts, scripts/calibration-holdout.ts): the case record and the
// zero weights that stand in for a published model's (shapes matter, weights do not: zeros pass 2:4 and 1:2).
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { type DTypeName, DTYPE_IDS } from '../test/support/builder';

export interface CalibrationCase {
  name: string;
  hardware: string;
  measured: number;
  source: string;
  batch: number;
  /** How the measured runtime executes the graph: PyTorch eager runs every op, TensorRT fuses. */
  runtime: 'eager' | 'fused';
  /** Writes the model into `dir`; returns its path. */
  build(dir: string): string;
}

/** Weight initializers as external data at growing offsets of one sparse (all-zero) file. */
export class ZeroWeights {
  private offset = 0;
  readonly tensors: onnx.ITensorProto[] = [];
  constructor(private readonly file: string) {}

  add(name: string, dtype: DTypeName, dims: number[]): string {
    const bytes = (dims.reduce((a, b) => a * b, 1) * (dtype === 'float16' ? 2 : dtype === 'int8' ? 1 : 4));
    this.tensors.push({
      name,
      dataType: DTYPE_IDS[dtype],
      dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: this.file },
        { key: 'offset', value: String(this.offset) },
        { key: 'length', value: String(bytes) },
      ],
    });
    this.offset += Math.ceil(bytes / 64) * 64;
    return name;
  }

  /** Sizes the data file without writing it: holes read as zeros. */
  write(dir: string): void {
    const fd = openSync(join(dir, this.file), 'w');
    ftruncateSync(fd, Math.max(this.offset, 1));
    closeSync(fd);
  }
}
