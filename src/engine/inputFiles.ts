// The files a report was read from, and their stamps (size, mtime, inode): the panel's report cache is valid only while
// every stamp is unchanged (issue 14, Scale). An ONNX model reads its external data files; a checkpoint its shards and
// the config.json beside it.
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileSource } from './onnx/source';
import { modelInputFiles } from './onnx/tensors';
import { isCheckpointPath, readIndex } from './safetensors/checkpoint';

/** A file as it was when read: any change of size, modification time or inode (a replaced file) makes it another. */
export interface FileStamp {
  path: string;
  /** -1: the file did not exist. */
  size: number;
  mtimeMs: number;
  ino: number;
}

/** The model file and every file its report reads; just the model when the rest cannot be listed. */
export function reportInputFiles(path: string): string[] {
  if (!isCheckpointPath(path)) return modelInputFiles(path);
  const folder = dirname(path);
  const files = [path, join(folder, 'config.json')];
  if (basename(path).toLowerCase().endsWith('.index.json')) {
    let src: FileSource | undefined;
    try {
      src = new FileSource(path);
      for (const shard of new Set(Object.values(readIndex(src)))) files.push(join(folder, shard));
    } catch {
      // an unreadable index fails the scan, which is then not cached
    } finally {
      src?.close();
    }
  }
  return files;
}

export function stampFiles(paths: readonly string[]): FileStamp[] {
  return paths.map((path) => {
    try {
      const s = statSync(path);
      return { path, size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
    } catch {
      return { path, size: -1, mtimeMs: 0, ino: 0 };
    }
  });
}

/** Whether every file still has its stamp. */
export function unchanged(stamps: readonly FileStamp[]): boolean {
  const now = stampFiles(stamps.map((s) => s.path));
  return stamps.every((s, i) => s.size === now[i].size && s.mtimeMs === now[i].mtimeMs && s.ino === now[i].ino);
}
