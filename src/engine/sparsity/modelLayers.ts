// The layers of whatever model file the user opened: an ONNX model (layers.ts) or a Hugging Face safetensors
// checkpoint (safetensors/, issue 16). The panel's layer list, zoom and encodings go through here.
import { ModelError } from '../errors';
import { discoverCheckpoint, isCheckpointPath } from '../safetensors/checkpoint';
import { SafetensorsError } from '../safetensors/header';
import { readSkeleton } from '../onnx/skeleton';
import type { ByteSource } from '../onnx/source';
import type { ExternalFiles } from '../onnx/tensorData';
import { type LayerPlan, findLayers } from './layers';

export function findModelLayers(src: ByteSource, externals: ExternalFiles): LayerPlan[] {
  if (!isCheckpointPath(src.path)) return findLayers({ model: readSkeleton(src), src, externals });
  try {
    return discoverCheckpoint(src, externals).layers;
  } catch (err) {
    if (err instanceof SafetensorsError) throw new ModelError(src.path, err.message);
    throw err;
  }
}
