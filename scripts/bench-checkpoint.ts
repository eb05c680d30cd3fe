// A sharded bf16 Hugging Face checkpoint for `npm run bench` (issue 16): Llama-shaped blocks (hidden 4096, MLP
// 14336) in safetensors shards with a model.safetensors.index.json, every second Linear 2:4 along `in`, streamed to
// disk tensor by tensor (a shard is never held in memory).
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface CheckpointShape {
  blocks: number;
  shards: number;
  hidden: number;
  mlp: number;
  vocab: number;
}

/** 9 blocks of a Llama-3-8B-like decoder plus embeddings and head: 4.6 GB of bf16 in 3 shards. */
export const CHECKPOINT_SHAPE: CheckpointShape = { blocks: 9, shards: 3, hidden: 4096, mlp: 14336, vocab: 32000 };

interface Planned {
  name: string;
  shape: number[];
  /** Linear [out, in] to fill; 'norm' a 1-D of ones; 2:4 along `in` when pruned. */
  kind: 'linear' | 'norm' | 'embedding';
  pruned: boolean;
}

function plan(shape: CheckpointShape): Planned[][] {
  const { hidden: h, mlp, vocab, blocks, shards } = shape;
  const perShard = Math.ceil(blocks / shards);
  const out: Planned[][] = Array.from({ length: shards }, () => []);
  out[0].push({ name: 'model.embed_tokens.weight', shape: [vocab, h], kind: 'embedding', pruned: false });
  let layer = 0;
  for (let b = 0; b < blocks; b++) {
    const shard = out[Math.floor(b / perShard)];
    const p = `model.layers.${b}`;
    shard.push({ name: `${p}.input_layernorm.weight`, shape: [h], kind: 'norm', pruned: false });
    for (const [name, o, i] of [['self_attn.q_proj', h, h], ['self_attn.k_proj', h, h], ['self_attn.v_proj', h, h], ['self_attn.o_proj', h, h], ['mlp.gate_proj', mlp, h], ['mlp.up_proj', mlp, h], ['mlp.down_proj', h, mlp]] as const) {
      shard.push({ name: `${p}.${name}.weight`, shape: [o, i], kind: 'linear', pruned: layer++ % 2 === 0 });
    }
    shard.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h], kind: 'norm', pruned: false });
  }
  out[shards - 1].push({ name: 'model.norm.weight', shape: [h], kind: 'norm', pruned: false }, { name: 'lm_head.weight', shape: [vocab, h], kind: 'linear', pruned: false });
  return out;
}

/** Writes `dir/model-0000i-of-0000n.safetensors` and `dir/model.safetensors.index.json`; returns every file written. */
export function writeCheckpoint(dir: string, shape: CheckpointShape = CHECKPOINT_SHAPE): string[] {
  const shards = plan(shape);
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let seed = 0x9e3779b9;
  const random32 = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  // bf16 never zero: sign, exponent 100..131, mantissa; pruned groups keep 2 of 4 places (a pattern per row).
  const keeps = [0b0011, 0b0101, 0b1001, 0b0110, 0b1010, 0b1100];
  shards.forEach((tensors, s) => {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let at = 0;
    for (const t of tensors) {
      const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
      header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [at, at + bytes] };
      at += bytes;
      weightMap[t.name] = file;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const path = join(dir, file);
    const fd = openSync(`${path}.tmp`, 'w');
    const write = (bytes: Uint8Array) => {
      for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o, bytes.length - o);
    };
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigUint64(0, BigInt(json.length), true);
    write(size);
    write(new TextEncoder().encode(json));
    for (const t of tensors) {
      const cols = t.shape[t.shape.length - 1];
      const rows = t.shape.length > 1 ? t.shape[0] : 1;
      const row = new Uint16Array(cols);
      for (let r = 0; r < rows; r++) {
        if (t.kind === 'norm') row.fill(0x3f80); // 1.0
        else {
          for (let c = 0; c < cols; c++) {
            const v = random32();
            row[c] = (v & 0x8000) | ((100 + ((v >>> 16) & 31)) << 7) | (v & 0x7f);
          }
          if (t.pruned) for (let c = 0; c < cols; c++) if (!((keeps[((c >> 2) + r) % 6] >> (c & 3)) & 1)) row[c] = 0;
        }
        write(new Uint8Array(row.buffer));
      }
    }
    closeSync(fd);
    renameSync(`${path}.tmp`, path);
    files.push(path);
  });
  const index = join(dir, 'model.safetensors.index.json');
  writeFileSync(index, JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  return [index, ...files];
}
