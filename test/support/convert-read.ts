// Test support for convert: run a conversion on a model built in code, and read the output back with onnx-proto
// (an independent decoder, not the engine's own skeleton reader), wherever a tensor lives.
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { onnx } from 'onnx-proto';
import { type ConvertOptions, type ConvertReport, convertModel } from '../../src/engine/convert/convert';
import { decompressModel } from '../../src/engine/convert/decompress';
import type { Pattern } from '../../src/engine/sparsity/pattern';
import type { ExternalSink, ModelSpec } from './builder';
import { writeTempModel } from './models';

export interface Converted {
  input: string;
  output: string;
  report: ConvertReport;
}

/** Writes `spec` into a fresh folder as model.onnx and prunes it (mode prune, default 2:4, default output path). */
export async function convertSpec(spec: ModelSpec, options: Partial<ConvertOptions> = {}, external?: ExternalSink): Promise<Converted> {
  const input = writeTempModel(spec, external);
  const report = await convertModel(input, { mode: 'prune', ...options });
  if (report.output === null) throw new Error('convertSpec: no output written (dry run?)');
  return { input, output: report.output, report };
}

export function decodeModelFile(path: string): onnx.ModelProto {
  return onnx.ModelProto.decode(readFileSync(path));
}

/** Every TensorProto of the model, by name: initializers and Constant values of every graph, subgraph and function. */
export function allTensorProtos(model: onnx.IModelProto): Map<string, onnx.ITensorProto> {
  const found = new Map<string, onnx.ITensorProto>();
  const visitNodes = (nodes: onnx.INodeProto[] | null | undefined) => {
    for (const n of nodes ?? []) {
      for (const a of n.attribute ?? []) {
        if (a.t) found.set(a.t.name ?? '', a.t);
        if (a.g) visitGraph(a.g);
        for (const g of a.graphs ?? []) visitGraph(g);
      }
    }
  };
  const visitGraph = (g: onnx.IGraphProto) => {
    for (const t of g.initializer ?? []) found.set(t.name ?? '', t);
    visitNodes(g.node);
  };
  if (model.graph) visitGraph(model.graph);
  for (const f of model.functions ?? []) visitNodes(f.node);
  return found;
}

export function tensorProto(model: onnx.IModelProto, name: string): onnx.ITensorProto {
  const t = allTensorProtos(model).get(name);
  if (!t) throw new Error(`no tensor '${name}' in the model: ${[...allTensorProtos(model).keys()].join(', ')}`);
  return t;
}

export function externalEntries(t: onnx.ITensorProto): Record<string, string> {
  return Object.fromEntries((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
}

/** Whether the tensor's values are in a typed repeated field (not raw_data, not external). */
export function isTyped(t: onnx.ITensorProto): boolean {
  const typedCount = (t.floatData?.length ?? 0) + (t.int32Data?.length ?? 0) + (t.int64Data?.length ?? 0) + (t.doubleData?.length ?? 0);
  return typedCount > 0 && (t.rawData?.length ?? 0) === 0 && (t.externalData?.length ?? 0) === 0;
}

/** The tensor's data as little-endian raw bytes, from raw_data, external data (next to `modelPath`) or a typed field. */
export function tensorBytes(modelPath: string, t: onnx.ITensorProto): Uint8Array {
  if (t.externalData && t.externalData.length > 0) {
    const e = externalEntries(t);
    const file = readFileSync(join(dirname(modelPath), e.location));
    const offset = Number(e.offset ?? 0);
    return new Uint8Array(file.subarray(offset, offset + Number(e.length)));
  }
  if (t.rawData && t.rawData.length > 0) return new Uint8Array(t.rawData);
  if (t.floatData && t.floatData.length > 0) return new Uint8Array(Float32Array.from(t.floatData).buffer);
  if (t.doubleData && t.doubleData.length > 0) return new Uint8Array(Float64Array.from(t.doubleData).buffer);
  const ints = t.int32Data ?? [];
  switch (t.dataType) {
    case 10: case 16: case 4: return new Uint8Array(Uint16Array.from(ints).buffer); // float16, bfloat16, uint16: bit patterns
    case 5: return new Uint8Array(Int16Array.from(ints).buffer);
    case 3: return new Uint8Array(Int8Array.from(ints).buffer);
    default: return Uint8Array.from(ints); // uint8, and int4/uint4 (one packed byte per entry)
  }
}

/** Reads one tensor of the model at `path` as raw bytes. */
export function readTensorBytes(path: string, name: string): Uint8Array {
  return tensorBytes(path, tensorProto(decodeModelFile(path), name));
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** float32 values as their bit patterns, so that +0 and -0 differ. */
export function float32Bits(path: string, name: string): number[] {
  const b = readTensorBytes(path, name);
  return Array.from({ length: b.length / 4 }, (_, i) => view(b).getUint32(i * 4, true));
}

export function float32Values(path: string, name: string): number[] {
  const b = readTensorBytes(path, name);
  return Array.from({ length: b.length / 4 }, (_, i) => view(b).getFloat32(i * 4, true));
}

export function float64Values(path: string, name: string): number[] {
  const b = readTensorBytes(path, name);
  return Array.from({ length: b.length / 8 }, (_, i) => view(b).getFloat64(i * 8, true));
}

/** 16-bit values (float16/bfloat16 bit patterns). */
export function uint16Values(path: string, name: string): number[] {
  const b = readTensorBytes(path, name);
  return Array.from({ length: b.length / 2 }, (_, i) => view(b).getUint16(i * 2, true));
}

export function int8Values(path: string, name: string): number[] {
  return Array.from(new Int8Array(readTensorBytes(path, name).slice().buffer));
}

export function uint8Values(path: string, name: string): number[] {
  return Array.from(readTensorBytes(path, name));
}

/** Signed 4-bit values, low nibble first. */
export function int4Values(path: string, name: string, count: number): number[] {
  const b = readTensorBytes(path, name);
  return Array.from({ length: count }, (_, i) => {
    const nibble = (b[i >> 1] >> ((i & 1) * 4)) & 0xf;
    return nibble >= 8 ? nibble - 16 : nibble;
  });
}

/** The bit pattern of a float32. */
export function bitsOf(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/** Names in a folder, sorted: to show that a refused or cancelled conversion left it as it was. */
export function listFolder(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Temporary files the atomic writer leaves behind when something goes wrong. */
export function partialFiles(dir: string): string[] {
  return listFolder(dir).filter((f) => f.endsWith('.partial'));
}

/**
 * Runs ONNX's reference checker (Debian's python3-onnx, onnx 1.12: no float8/int4) with full_check (shape
 * inference included) on the model at `path`; returns the exit status and stderr.
 */
export function onnxCheck(path: string): { status: number | null; stderr: string } {
  const code = 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)';
  const run = spawnSync('/usr/bin/python3', ['-c', code, path], { encoding: 'utf8' });
  return { status: run.status, stderr: run.stderr };
}

/** Prunes, compresses and decompresses the model at `input`, each output beside it (the round trip decompress must close). */
export async function roundTrip(input: string, pattern: Pattern = { n: 2, m: 4 }): Promise<{ pruned: string; compressed: string; decompressed: string; prune: ConvertReport; compress: ConvertReport }> {
  const dir = dirname(input);
  const pruned = join(dir, 'pruned.onnx');
  const compressed = join(dir, 'compressed.onnx');
  const decompressed = join(dir, 'decompressed.onnx');
  const prune = await convertModel(input, { mode: 'prune', pattern, out: pruned });
  const compress = await convertModel(input, { mode: 'compress', pattern, out: compressed });
  await decompressModel(compressed, { out: decompressed });
  return { pruned, compressed, decompressed, prune, compress };
}
