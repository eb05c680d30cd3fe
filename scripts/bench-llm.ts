// An int4 LLM-shaped model for `npm run bench` (issue 12): a decoder of com.microsoft MatMulNBits layers as ONNX
// Runtime GenAI / Olive write them, every tensor in one external data file, streamed to disk layer by layer.
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { encodeModel, graph, node, valueInfo } from '../test/support/builder';
import type { onnx } from 'onnx-proto';

export interface LlmShape {
  blocks: number;
  hidden: number;
  mlp: number;
  blockSize: number;
}

/** Llama-2/3-like: 32 blocks, hidden 4096 (q, k, v, o all 4096 x 4096), MLP 14336; 7.8 G weights, 3.9 GB of codes. */
export const LLM_SHAPE: LlmShape = { blocks: 32, hidden: 4096, mlp: 14336, blockSize: 128 };

const FLOAT16 = 10;
const UINT8 = 2;

/** The layers of one block: name, K (input features), N (output features). */
function blockLayers(shape: LlmShape): { name: string; K: number; N: number }[] {
  const { hidden: h, mlp } = shape;
  return [
    { name: 'q_proj', K: h, N: h },
    { name: 'k_proj', K: h, N: h },
    { name: 'v_proj', K: h, N: h },
    { name: 'o_proj', K: h, N: h },
    { name: 'gate_proj', K: h, N: mlp },
    { name: 'up_proj', K: h, N: mlp },
    { name: 'down_proj', K: mlp, N: h },
  ];
}

/**
 * Byte tables for the codes of one row with zero point `z`: `dense[b]` is byte b with any nibble equal to z moved
 * off it (so a dense layer has no zero code), `pruned[p][w]` is the 16-bit word w (four codes, one group of 4 along
 * K) with the two codes that pattern p drops set to z and the two it keeps moved off z: exactly 2:4.
 */
function codeTables(z: number): { dense: Uint8Array; pruned: Uint16Array[] } {
  const off = (c: number) => (c === z ? (c + 1) & 15 : c);
  const dense = new Uint8Array(256);
  for (let b = 0; b < 256; b++) dense[b] = off(b & 15) | (off(b >> 4) << 4);
  const keeps = [0b0011, 0b0101, 0b1001, 0b0110, 0b1010, 0b1100];
  const pruned = keeps.map((keep) => {
    const table = new Uint16Array(65536);
    for (let w = 0; w < 65536; w++) {
      let out = 0;
      // Codes low nibble first: code j of the group sits at bits 4j (little-endian words).
      for (let j = 0; j < 4; j++) out |= ((keep >> j) & 1 ? off((w >> (4 * j)) & 15) : z) << (4 * j);
      table[w] = out;
    }
    return table;
  });
  return { dense, pruned };
}

/** Writes `path` (the graph, a few KB) and `<path minus .onnx>.data`; returns the data file's path. */
export function writeInt4Llm(path: string, shape: LlmShape = LLM_SHAPE): string {
  const dataPath = `${path.replace(/\.onnx$/, '')}.data`;
  const dataTmp = `${dataPath}.tmp`;
  const location = basename(dataPath);
  const fd = openSync(dataTmp, 'w');
  let offset = 0;
  const tables = Array.from({ length: 16 }, (_, z) => codeTables(z));
  const external = (name: string, dtype: number, dims: number[], bytes: Uint8Array): onnx.ITensorProto => {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    const tensor: onnx.ITensorProto = {
      name,
      dims,
      dataType: dtype,
      dataLocation: 1, // EXTERNAL
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.length) },
      ],
    };
    offset += bytes.length;
    return tensor;
  };
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  let seed = 0x2545f491;
  const random32 = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  let x = 'hidden_in';
  let layerIndex = 0;
  for (let b = 0; b < shape.blocks; b++) {
    const outputs = new Map<string, string>();
    for (const { name, K, N } of blockLayers(shape)) {
      const prefix = `model.layers.${b}.${name}`;
      const kBlocks = K / shape.blockSize;
      const rowBytes = K / 2;
      // Every second layer is 2:4 in the code domain (the pruned codes equal their row's zero point).
      const pruned = layerIndex++ % 2 === 0;
      const codes = new Uint8Array(N * rowBytes);
      const words = new Uint32Array(codes.buffer);
      for (let i = 0; i < words.length; i++) words[i] = random32();
      const zp = new Uint8Array(N * Math.ceil(kBlocks / 2));
      for (let n = 0; n < N; n++) {
        const z = n % 16;
        zp.fill(z | (z << 4), n * (kBlocks / 2), (n + 1) * (kBlocks / 2));
        const row = codes.subarray(n * rowBytes, (n + 1) * rowBytes);
        const { dense, pruned: patterns } = tables[z];
        if (pruned) {
          const groups = new Uint16Array(codes.buffer, n * rowBytes, rowBytes / 2);
          for (let g = 0; g < groups.length; g++) groups[g] = patterns[(g + n) % 6][groups[g]];
        } else {
          for (let i = 0; i < row.length; i++) row[i] = dense[row[i]];
        }
      }
      const scales = new Uint16Array(N * kBlocks).fill(0x2c00); // float16 1/16
      inits.push(external(`${prefix}.qweight`, UINT8, [N, kBlocks, shape.blockSize / 2], codes));
      inits.push(external(`${prefix}.scales`, FLOAT16, [N * kBlocks], new Uint8Array(scales.buffer)));
      inits.push(external(`${prefix}.qzeros`, UINT8, [N * Math.ceil(kBlocks / 2)], zp));
      const input = name === 'down_proj' ? `model.layers.${b}.mlp.act` : name === 'gate_proj' || name === 'up_proj' ? outputs.get('o_proj')! : name === 'q_proj' ? x : outputs.get(prevOf(name))!;
      const out = `${prefix}.out`;
      outputs.set(name, out);
      nodes.push(
        node('MatMulNBits', [input, `${prefix}.qweight`, `${prefix}.scales`, `${prefix}.qzeros`], [out], { K, N, bits: 4, block_size: shape.blockSize, accuracy_level: 4 }, { name: `/model/layers.${b}/${name}/MatMulNBits`, domain: 'com.microsoft' }),
      );
      if (name === 'up_proj') {
        nodes.push(node('Mul', [outputs.get('gate_proj')!, out], [`model.layers.${b}.mlp.act`], undefined, { name: `/model/layers.${b}/mlp/act` }));
      }
    }
    x = outputs.get('down_proj')!;
  }
  closeSync(fd);
  const model = encodeModel({
    graph: graph({ name: 'int4-decoder', nodes, inputs: [valueInfo('hidden_in', 'float16', ['batch', shape.hidden])], outputs: [valueInfo(x, 'float16', ['batch', shape.hidden])], initializers: inits }),
    opset: 21,
    extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
    producer: 'sparsity-lens bench',
  });
  renameSync(dataTmp, dataPath);
  writeFileSync(`${path}.tmp`, model);
  renameSync(`${path}.tmp`, path);
  return dataPath;
}

/** q -> k -> v -> o: the attention projections chained one after another (shapes, not attention, matter here). */
function prevOf(name: string): string {
  return { k_proj: 'q_proj', v_proj: 'k_proj', o_proj: 'v_proj' }[name as 'k_proj']!;
}
