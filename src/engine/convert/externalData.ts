// Rewriting a model's external data into one new file: each tensor copied, rewritten or replaced, and re-pointed.
import { basename } from 'node:path';
import { ModelError } from '../errors';
import { rawByteLength } from '../onnx/dtypes';
import type { ModelSkeleton, TensorRef } from '../onnx/skeleton';
import { allTensors, externalInputFiles } from '../onnx/tensors';
import type { ByteSource, FileSource } from '../onnx/source';
import { type ExternalFiles, TensorError, openTensor } from '../onnx/tensorData';
import { type Edit, type Out, copyBytes, lenField } from '../onnx/writer';

/** Where output files are written (an OutputTransaction). */
export interface OutputFiles {
  write(path: string, produce: (out: Out) => void): number;
}
import { forEachField } from '../onnx/wire';

/** Identity of a tensor: its place in the file (shared by every layer that uses it). */
export function tensorKey(t: TensorRef): string {
  return `${t.span.offset}:${t.data.kind === 'external' ? t.data.location : ''}`;
}

export { allTensors, externalInputFiles };

/** Start and end of every field numbered `numbers` directly inside the message [start, end). */
export function fieldsOf(src: ByteSource, start: number, end: number, numbers: number[]): { start: number; end: number }[] {
  const found: { start: number; end: number }[] = [];
  forEachField(src, start, end, (f) => {
    if (numbers.includes(f.no)) found.push({ start: f.start, end: f.pos + f.len });
  });
  return found;
}

function stringEntry(key: string, value: string): Uint8Array {
  const enc = new TextEncoder();
  const k = lenField(1, enc.encode(key));
  const v = lenField(2, enc.encode(value));
  const entry = new Uint8Array(k.length + v.length);
  entry.set(k);
  entry.set(v, k.length);
  return lenField(13, entry);
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** What happens to one external tensor when the data file is rewritten. */
export type ExternalAction =
  /** Copied as it is, and re-pointed at the new file. */
  | { kind: 'copy' }
  /** New bytes for the same tensor (e.g. pruned), re-pointed. */
  | { kind: 'rewrite'; write: (out: Out) => void }
  /** Its bytes go to the file but the tensor's fields are edited by `placed` (e.g. replaced by a decode graph). */
  | { kind: 'replace'; length: number; write: (out: Out) => void; placed: (offset: number) => Edit[] }
  /** Removed from the model by other edits: not written. */
  | { kind: 'drop' };

/**
 * The bytes of an external tensor to copy: its declared range when it reads as its type says, else as much of the
 * declared range as its file holds (ONNX reads to the end of the file when no length is given). A file that cannot
 * be opened (missing, outside the model's folder, not a regular file) fails the write, naming the tensor.
 */
function carriedRange(src: ByteSource, t: TensorRef, externals: ExternalFiles): [FileSource, number, number] {
  const data = t.data as Extract<TensorRef['data'], { kind: 'external' }>;
  let file: FileSource;
  try {
    file = externals.get(data.location);
  } catch (err) {
    if (!(err instanceof TensorError)) throw err;
    throw new ModelError(externals.modelPath, `${err.message}; the output could not hold this tensor, so nothing was written`, t.name);
  }
  try {
    const reader = openTensor(src, t, externals);
    return [file, data.offset, data.offset + rawByteLength(reader.dtype, reader.count)];
  } catch (err) {
    if (!(err instanceof TensorError)) throw err;
    const from = Math.min(data.offset, file.size);
    return [file, from, Math.min(file.size, data.length === undefined ? file.size : data.offset + data.length)];
  }
}

/** Bytes that go to the data file for a tensor the model gains, placed by `placed`. */
export interface ExternalAddition {
  length: number;
  write: (out: Out) => void;
  placed: (offset: number) => Edit[];
}

/**
 * Writes every external tensor of the model into one new data file, as `decide` says, then any `additions`, and
 * returns the edits that point the model's tensors at the new file. Every external tensor of the input is placed
 * in the new file or the whole write fails naming it: none keeps a location that would dangle from the output's
 * folder. A tensor whose bytes can be found but do not match its type (wrong length, past the end of its file) is
 * carried as it is, so that it fails its own layer in the output as it did in the input.
 */
export function rewriteExternalData(
  src: ByteSource,
  model: ModelSkeleton,
  externals: ExternalFiles,
  outputs: OutputFiles,
  dataFile: string,
  decide: (t: TensorRef) => ExternalAction,
  additions: ExternalAddition[] = [],
): Edit[] {
  const edits: Edit[] = [];
  const location = basename(dataFile);
  const seen = new Set<string>();
  outputs.write(dataFile, (out) => {
    let offset = 0;
    // 64-byte alignment, as ONNX's own external-data writer does for mmap-friendly offsets.
    const align = () => {
      const to = Math.ceil(offset / 64) * 64;
      if (to > offset) out.write(new Uint8Array(to - offset));
      offset = to;
    };
    const counted = (write: (o: Out) => void): number => {
      let n = 0;
      write({ write: (b) => ((n += b.length), out.write(b)) });
      return n;
    };
    for (const t of allTensors(model)) {
      const data = t.data;
      if (data.kind !== 'external') {
        if (t.declaredExternal) {
          throw new ModelError(externals.modelPath, `its external data cannot be read (${t.problem ?? 'no usable location'}), so the output could not point at it; fix or remove the tensor`, t.name);
        }
        continue;
      }
      if (seen.has(tensorKey(t))) continue;
      seen.add(tensorKey(t));
      const action = decide(t);
      if (action.kind === 'drop') continue;
      align();
      const at = offset;
      if (action.kind === 'replace') {
        offset += counted(action.write);
        edits.push(...action.placed(at));
        continue;
      }
      if (action.kind === 'rewrite') offset += counted(action.write);
      else {
        const [file, from, to] = carriedRange(src, t, externals);
        offset += counted((o) => copyBytes(file, from, to, o));
      }
      // Point the tensor at its new place: drop its external_data entries, append new ones.
      for (const f of fieldsOf(src, t.span.offset, t.span.offset + t.span.length, [13])) edits.push({ kind: 'remove', ...f });
      const entries = [stringEntry('location', location), stringEntry('offset', String(at)), stringEntry('length', String(offset - at))];
      edits.push({ kind: 'append', message: t.span.offset, end: t.span.offset + t.span.length, bytes: concat(entries) });
    }
    for (const addition of additions) {
      align();
      const at = offset;
      offset += counted(addition.write);
      edits.push(...addition.placed(at));
    }
  });
  return edits;
}
