import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Random access to the bytes of a model file, without holding the file in memory. */
export interface ByteSource {
  readonly path: string;
  readonly size: number;
  /** Bytes [offset, offset + length); the view may be reused by the next call. */
  view(offset: number, length: number): Uint8Array;
  /** Copies [offset, offset + length) into `target` (for bulk tensor reads). */
  readInto(offset: number, target: Uint8Array): void;
  close(): void;
}

const WINDOW = 1 << 20;

/** A file read through one sliding window: structure walks touch few, small regions. */
export class FileSource implements ByteSource {
  readonly size: number;
  private readonly fd: number;
  private window = Buffer.alloc(WINDOW);
  private windowStart = 0;
  private windowEnd = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    const stat = fstatSync(this.fd);
    if (stat.isDirectory()) {
      closeSync(this.fd);
      throw Object.assign(new Error(`${path} is a folder`), { code: 'EISDIR' });
    }
    this.size = stat.size;
  }

  view(offset: number, length: number): Uint8Array {
    if (offset < 0 || offset + length > this.size) throw new RangeError(`read past end of file (${offset}+${length} > ${this.size})`);
    if (offset >= this.windowStart && offset + length <= this.windowEnd) {
      return this.window.subarray(offset - this.windowStart, offset - this.windowStart + length);
    }
    if (length > WINDOW) {
      const big = Buffer.allocUnsafe(length);
      this.readInto(offset, big);
      return big;
    }
    const end = Math.min(this.size, offset + WINDOW);
    this.readInto(offset, this.window.subarray(0, end - offset));
    this.windowStart = offset;
    this.windowEnd = end;
    return this.window.subarray(0, length);
  }

  readInto(offset: number, target: Uint8Array): void {
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, target.length - done, offset + done);
      if (n <= 0) throw new RangeError(`unexpected end of file at byte ${offset + done}`);
      done += n;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A model already in memory (tests, fuzzing, the webview's small reads). */
export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(
    readonly path: string,
    private readonly bytes: Uint8Array,
  ) {
    this.size = bytes.length;
  }
  view(offset: number, length: number): Uint8Array {
    if (offset < 0 || offset + length > this.size) throw new RangeError(`read past end of file (${offset}+${length} > ${this.size})`);
    return this.bytes.subarray(offset, offset + length);
  }
  readInto(offset: number, target: Uint8Array): void {
    target.set(this.view(offset, target.length));
  }
  close(): void {}
}
