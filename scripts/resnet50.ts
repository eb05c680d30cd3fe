// A model with ResNet-50's layer shapes for the start-up benchmark (npm run bench): real structure, seeded weights.
import { graph, makeTensor, node, pruneTo, randomWeights, seededRandom, valueInfo, writeModel } from '../test/support/builder';
import type { onnx } from 'onnx-proto';

/** ResNet-50's layer shapes (BatchNorm folded into the convolutions): 25.5 M float32 weights, ~102 MB. */
export function writeResnet50(path: string): void {
  const rnd = seededRandom(50);
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  let count = 0;
  const conv = (x: string, inC: number, outC: number, k: number, stride: number, relu: boolean): string => {
    const name = `conv${count++}`;
    const dims = [outC, inC, k, k];
    let w = randomWeights(outC * inC * k * k, rnd, 0.05);
    if (count % 2 === 0 && inC % 4 === 0) w = pruneTo(w, dims, 1, 2, 4);
    inits.push(makeTensor({ name: `${name}.weight`, dtype: 'float32', dims, values: w }));
    inits.push(makeTensor({ name: `${name}.bias`, dtype: 'float32', dims: [outC], values: randomWeights(outC, rnd, 0.01) }));
    const pad = Math.floor(k / 2);
    nodes.push(node('Conv', [x, `${name}.weight`, `${name}.bias`], [`${name}.out`], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] }, { name }));
    if (!relu) return `${name}.out`;
    nodes.push(node('Relu', [`${name}.out`], [`${name}.relu`], undefined, { name: `${name}.relu` }));
    return `${name}.relu`;
  };
  let x = conv('input', 3, 64, 7, 2, true);
  nodes.push(node('MaxPool', [x], ['pool'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { name: 'maxpool' }));
  x = 'pool';
  let inC = 64;
  [[64, 3, 1], [128, 4, 2], [256, 6, 2], [512, 3, 2]].forEach(([width, blocks, stride], stage) => {
    for (let b = 0; b < blocks; b++) {
      const s = b === 0 ? stride : 1;
      const a = conv(x, inC, width, 1, 1, true);
      const c = conv(a, width, width, 3, s, true);
      const d = conv(c, width, width * 4, 1, 1, false);
      const skip = b === 0 ? conv(x, inC, width * 4, 1, s, false) : x;
      const out = `stage${stage}.block${b}`;
      nodes.push(node('Add', [d, skip], [`${out}.add`], undefined, { name: `${out}.add` }));
      nodes.push(node('Relu', [`${out}.add`], [out], undefined, { name: `${out}.relu` }));
      x = out;
      inC = width * 4;
    }
  });
  nodes.push(node('GlobalAveragePool', [x], ['gap'], undefined, { name: 'gap' }));
  nodes.push(node('Flatten', ['gap'], ['flat'], undefined, { name: 'flatten' }));
  inits.push(makeTensor({ name: 'fc.weight', dtype: 'float32', dims: [1000, 2048], values: randomWeights(2048000, rnd, 0.02) }));
  inits.push(makeTensor({ name: 'fc.bias', dtype: 'float32', dims: [1000], values: randomWeights(1000, rnd, 0.01) }));
  nodes.push(node('Gemm', ['flat', 'fc.weight', 'fc.bias'], ['logits'], { transB: 1 }, { name: 'fc' }));
  writeModel(path, {
    graph: graph({ name: 'resnet50', nodes, inputs: [valueInfo('input', 'float32', ['batch', 3, 224, 224])], outputs: [valueInfo('logits', 'float32', ['batch', 1000])], initializers: inits }),
    opset: 17,
    producer: 'sparsity-lens bench',
  });
}
