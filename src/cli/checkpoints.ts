// Commands that write ONNX models refuse a safetensors checkpoint up front, naming the file (issue 16: checkpoints
// are inspected, and gate CI, but have no graph to convert).
import { ModelError } from '../engine/errors';
import { isCheckpointPath } from '../engine/safetensors/checkpoint';

export function refuseCheckpoint(path: string, command: string): void {
  if (isCheckpointPath(path)) throw new ModelError(path, `a safetensors checkpoint: ${command} reads ONNX models; checkpoints can be inspected (sparsity-lens inspect), not converted`);
}
