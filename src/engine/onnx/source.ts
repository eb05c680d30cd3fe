import { type BigIntStats, closeSync, constants, fstatSync, openSync, readSync, readlinkSync, statSync } from 'node:fs';

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

/** Which file an open descriptor is, as stat reports it: the same device and inode mean the same file. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/** An open file: which one it is, and where the system says it lies when it can tell (what was opened, not a path). */
export interface OpenedFile {
  readonly identity: FileIdentity;
  /** The open file's own path (Linux: /proc/self/fd); undefined where the system cannot tell. */
  readonly openedPath: string | undefined;
}

// Non-blocking, so that opening a FIFO returns at once instead of waiting for a writer (regular files ignore the flag).
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/** A file read through one sliding window: structure walks touch few, small regions. */
export class FileSource implements ByteSource, OpenedFile {
  readonly size: number;
  /** The file that was opened (what a later check of the path must still find: see openExternal). */
  readonly identity: FileIdentity;
  private readonly fd: number;
  /** Made on the first view(): a file read only in bulk (external data) never touches a megabyte for it. */
  // A plain Uint8Array, not a Buffer: a Buffer's views are made by its subclass constructor, which a model's
  // thousands of short fields (names, keys) run through before the engine optimizes it (8 ms in a profile of a cold
  // 672-tensor walk).
  private window?: Uint8Array;
  private windowStart = 0;
  private windowEnd = 0;
  private closedAt = false;

  /**
   * Opens `path` for reading. Only regular files: a folder throws with code EISDIR, a FIFO, socket or device with code
   * EFTYPE ("… is not a regular file (a FIFO)"), never hanging on a FIFO nor reading a device without end.
   */
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, OPEN_FLAGS);
    } catch (err) {
      // A socket cannot be opened at all (ENXIO): say what it is rather than "no such device".
      const stat = (err as NodeJS.ErrnoException).code === 'ENXIO' ? statSync(path, { throwIfNoEntry: false, bigint: true }) : undefined;
      throw stat ? notRegular(path, stat) : err;
    }
    const stat = fstatSync(this.fd, { bigint: true });
    if (!stat.isFile()) {
      closeSync(this.fd);
      throw notRegular(path, stat);
    }
    this.size = Number(stat.size);
    this.identity = { dev: stat.dev, ino: stat.ino };
  }

  get openedPath(): string | undefined {
    if (process.platform !== 'linux') return undefined;
    try {
      return readlinkSync(`/proc/self/fd/${this.fd}`);
    } catch {
      return undefined; // no /proc mounted
    }
  }

  view(offset: number, length: number): Uint8Array {
    if (offset < 0 || offset + length > this.size) throw new RangeError(`read past end of file (${offset}+${length} > ${this.size})`);
    if (this.window && offset >= this.windowStart && offset + length <= this.windowEnd) {
      return this.window.subarray(offset - this.windowStart, offset - this.windowStart + length);
    }
    if (length > WINDOW) {
      const big = Buffer.allocUnsafe(length);
      this.readInto(offset, big);
      return big;
    }
    const end = Math.min(this.size, offset + WINDOW);
    const window = (this.window ??= new Uint8Array(WINDOW));
    this.windowEnd = 0; // nothing valid while it is refilled (a failed read leaves it empty)
    this.readInto(offset, window.subarray(0, end - offset));
    this.windowStart = offset;
    this.windowEnd = end;
    return window.subarray(0, length);
  }

  readInto(offset: number, target: Uint8Array): void {
    // A closed descriptor's number may already name another file: never read through it.
    if (this.closedAt) throw new Error(`${this.path} was read after it was closed`);
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, target.length - done, offset + done);
      if (n <= 0) throw new RangeError(`unexpected end of file at byte ${offset + done}`);
      done += n;
    }
  }

  /** Whether close() was called: a later read throws rather than read whatever file took its descriptor. */
  get closed(): boolean {
    return this.closedAt;
  }

  close(): void {
    if (this.closedAt) return;
    this.closedAt = true;
    closeSync(this.fd);
  }
}

/**
 * `src`'s file opened again after it was closed (a value read only when it is needed, after the inspection that
 * found it closed its files): the same file or an error, never whatever now has its name.
 */
export function reopenFile(src: FileSource): FileSource {
  const again = new FileSource(src.path);
  if (again.identity.dev !== src.identity.dev || again.identity.ino !== src.identity.ino) {
    again.close();
    throw new Error(`${src.path} was replaced since it was opened: inspect it again`);
  }
  return again;
}

/** Thrown when a path is not a regular file: code EISDIR for a folder (as the system says it), EFTYPE otherwise. */
export class NotRegularFileError extends Error {
  readonly code: 'EISDIR' | 'EFTYPE';
  constructor(
    readonly path: string,
    /** What it is instead, in words: "a folder", "a FIFO", "a character device"... */
    readonly kind: string,
  ) {
    super(kind === 'a folder' ? `${path} is a folder` : `${path} is not a regular file (${kind})`);
    this.code = kind === 'a folder' ? 'EISDIR' : 'EFTYPE';
  }
}

function notRegular(path: string, stat: BigIntStats): NotRegularFileError {
  const kind = stat.isDirectory()
    ? 'a folder'
    : stat.isFIFO()
      ? 'a FIFO'
      : stat.isSocket()
        ? 'a socket'
        : stat.isCharacterDevice()
          ? 'a character device'
          : stat.isBlockDevice()
            ? 'a block device'
            : 'of an unknown kind';
  return new NotRegularFileError(path, kind);
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
