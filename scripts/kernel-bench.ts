// npm run bench:kernel: the scan kernel alone, on weights held in memory (no file reads), in ns per element for
// each layout the engine meets: K strided across lanes (MatMul [K, N]) and K contiguous (Gemm transB, Conv), dense
// and already 2:4. A memory copy of the same bytes (what a read from the page cache costs) is the baseline.
import { cpus } from 'node:os';
import { dtypeById } from '../src/engine/onnx/dtypes';
import type { ElementReader } from '../src/engine/onnx/tensorData';
import { type Pattern, parsePattern } from '../src/engine/sparsity/pattern';
import { scanPart, wholeTensor } from '../src/engine/sparsity/scan';
import { ShapeInfo } from '../src/engine/sparsity/kernel';

const FP16 = 10;
const INT8 = 3;
const FP32 = 1;

type Kind = 'fp16' | 'fp32' | 'int8';

/** Deterministic non-zero values (finite fp16 or fp32, or int8); with `pruned`, 2 of every 4 along K set to zero. */
function makeWeight(K: number, N: number, kStrided: boolean, pruned: boolean, seed: number, kind: Kind): Uint8Array {
  const buf = kind === 'int8' ? new Int8Array(K * N) : kind === 'fp32' ? new Float32Array(K * N) : new Uint16Array(K * N);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < buf.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    if (kind === 'int8') buf[i] = ((s & 0x7f) | 1) * (s & 0x80 ? -1 : 1);
    else if (kind === 'fp32') buf[i] = ((s >>> 8) / (1 << 24) + 1e-3) * (s & 1 ? -1 : 1);
    else buf[i] = (s & 0x8000) | ((5 + ((s >>> 16) & 15)) << 10) | ((s >>> 4) & 0x3ff) | 1;
  }
  if (pruned) {
    const keeps = [0b0011, 0b0101, 0b1001, 0b0110, 0b1010, 0b1100];
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        const keep = (keeps[(n + (k & ~3)) % 6] >> (k & 3)) & 1;
        if (!keep) buf[kStrided ? k * N + n : n * K + k] = 0;
      }
    }
  }
  return new Uint8Array(buf.buffer);
}

function memoryReader(bytes: Uint8Array, kind: Kind): ElementReader {
  const dtype = dtypeById(kind === 'int8' ? INT8 : kind === 'fp32' ? FP32 : FP16)!;
  const size = dtype.bits / 8;
  return {
    dtype,
    count: bytes.length / size,
    splittable: true,
    read: () => {
      throw new Error('kernel bench: read() is not used by the SIMD path');
    },
    readInto: (start, count, target) => target.set(bytes.subarray(start * size, (start + count) * size)),
  };
}

function best(rounds: number, fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return min;
}

function main(): void {
  const K = 4096;
  const N = 11008; // the shape of npm run bench's weights (an LLM MLP projection)
  const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;
  const pattern = parsePattern('2:4') as Pattern;
  console.log(`machine: ${cpus()[0]?.model.trim()}, node ${process.version}; one thread, [${K} x ${N}] in memory, best of ${rounds}`);
  const copyTarget = new Uint8Array(2 << 20);
  console.log('layout                         | ns/element | GB/s  | x copy');
  // --only fp16|fp32|int8: one weight type.
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const kinds = (['fp16', 'fp32', 'int8'] as Kind[]).filter((kind) => !only || kind === only);
  const cases = kinds.flatMap((kind) => [true, false].flatMap((kStrided) => [false, true].map((pruned) => ({ kind, kStrided, pruned }))));
  for (const { kind, kStrided, pruned } of cases) {
    const bytes = makeWeight(K, N, kStrided, pruned, 12345, kind);
    const dims = kStrided ? [K, N] : [N, K];
    const geometry = kStrided ? { dims, kAxis: 0, rAxis: 1 } : { dims, kAxis: 1, rAxis: 0 };
    const reader = memoryReader(bytes, kind);
    const part = wholeTensor(new ShapeInfo(geometry, pattern));
    let stats = scanPart(reader, { geometry, pattern }, part);
    const seconds = best(rounds, () => {
      stats = scanPart(reader, { geometry, pattern }, part);
    });
    const copy = best(rounds, () => {
      for (let at = 0; at < bytes.length; at += copyTarget.length) copyTarget.set(bytes.subarray(at, Math.min(bytes.length, at + copyTarget.length)));
    });
    const label = `${kind}, ${kStrided ? 'K strided' : 'K contiguous'}, ${pruned ? '2:4' : 'dense'}`;
    const valid = stats.validGroups === stats.groups ? 'passes' : `${((stats.validGroups / stats.groups) * 100).toFixed(1)} % valid`;
    console.log(
      `${label.padEnd(30)} | ${((seconds / (K * N)) * 1e9).toFixed(3).padStart(10)} | ${(bytes.length / seconds / 1e9).toFixed(2).padStart(5)} | ${(seconds / copy).toFixed(1).padStart(5)}  (${valid}, retained ${(stats.keptMagnitude / stats.sumMagnitude).toFixed(4)})`,
    );
  }
}

main();
