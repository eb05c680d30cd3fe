// Writing a command's output files so that nothing is lost: every file is written into a private work folder next
// to its final place, synced, verified there by the caller, and only then linked into place, exclusively unless
// `force` (two runs never silently share an output; an output never replaces an input). The work folder doubles as
// the lock: it is created with mkdir, which fails when another run holds it. A run killed outright (SIGKILL, power
// loss) leaves its work folder behind; the next run in that folder finds it by name, sees its owner is gone, and
// removes it.
import { closeSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { CancelledError, ModelError, describeError } from './errors';
import type { Out } from './onnx/writer';

/** Work folders are `.<name>.sparsity-lens.partial`, each holding an `owner` file: host and process id. */
const SUFFIX = '.sparsity-lens.partial';
const OWNER = 'owner';
/** An ownerless work folder (its run died between mkdir and writing the owner) is stale after this long. */
const ORPHAN_AGE_MS = 60_000;

export interface OutputOptions {
  /** The input model, named in every error. */
  model: string;
  /** Replace existing outputs. */
  force: boolean;
  /** Files the outputs must never replace (the model, its external data). */
  inputs: string[];
  signal?: AbortSignal;
  /** Told the work folder when it is created (and null when it is gone), so a host can remove it on a hard exit. */
  onWorkFolder?: (path: string | null) => void;
}

/** Whether a process with this id runs on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The owner of a work folder, when it names a live process on this host: that run is still writing. */
function liveOwner(dir: string): { host: string; pid: number } | 'stale' {
  let text: string;
  try {
    text = readFileSync(join(dir, OWNER), 'utf8');
  } catch {
    try {
      return Date.now() - statSync(dir).mtimeMs > ORPHAN_AGE_MS ? 'stale' : { host: hostname(), pid: 0 };
    } catch {
      return 'stale';
    }
  }
  const [host, pidText] = text.split('\n');
  const pid = Number(pidText);
  if (host !== hostname()) return { host, pid }; // another machine's run: never judged from here
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? { host, pid } : 'stale';
}

/** Removes the work folders in `folder` left by runs on this host that no longer exist; returns how many. */
export function removeStaleWork(folder: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith('.') || !name.endsWith(SUFFIX)) continue;
    const dir = join(folder, name);
    if (liveOwner(dir) === 'stale') {
      rmSync(dir, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}

/** Device and inode of an existing file, or null. */
function identity(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}

/**
 * Refuses an output that is one of the inputs (by path, through links, or as a hard link of one) or that exists
 * without `force`.
 */
export function checkOutput(model: string, output: string, inputs: string[], force: boolean): void {
  const folder = dirname(resolve(output));
  let isFolder = false;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    // reported below
  }
  if (!isFolder) throw new ModelError(model, `the output folder '${dirname(output)}' does not exist`);
  const id = identity(output);
  if (id !== null && inputs.some((input) => identity(input) === id)) {
    throw new ModelError(model, `the output '${output}' would overwrite an input file (the model or one of its data files); choose another --out`);
  }
  if (id !== null && !force) throw new ModelError(model, `the output '${output}' exists; use --force to replace it`);
}

/** Errors of writing (not of reading the input while producing the output). */
const WRITE_ERRORS = new Set(['ENOSPC', 'EROFS', 'EDQUOT', 'EFBIG', 'EACCES', 'EPERM']);

/** A buffered writer into one file that stops at the first chunk written after a cancel. */
class FileOut implements Out {
  private readonly buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  written = 0;
  constructor(
    private readonly fd: number,
    private readonly signal?: AbortSignal,
  ) {}
  write(bytes: Uint8Array): void {
    this.written += bytes.length;
    if (bytes.length > this.buffer.length - this.used) this.flush();
    if (bytes.length >= this.buffer.length) {
      this.writeAll(bytes, bytes.length);
      return;
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }
  flush(): void {
    this.writeAll(this.buffer, this.used);
    this.used = 0;
  }
  private writeAll(bytes: Uint8Array, length: number): void {
    if (this.signal?.aborted) throw new CancelledError();
    for (let at = 0; at < length; ) at += writeSync(this.fd, bytes, at, length - at);
  }
}

/**
 * The output files of one run, written together into one work folder in the folder of the first output and put in
 * place together by `commit`; `abort` (on any error or cancel) removes everything, the work folder included.
 */
export class OutputTransaction {
  /** The private work folder; files are written there under their final names. */
  readonly dir: string;
  private readonly folder: string;
  private readonly finals: string[] = [];
  private readonly sizes = new Map<string, number>();
  private openFd: number | null = null;
  private done = false;
  private createdFolder = false;

  /**
   * Takes the lock on `label` (the main output's name) in `folder`: creates the work folder, after removing stale
   * ones. `createFolder`: make `folder` if missing (and remove it again on abort when it is still empty).
   */
  constructor(
    folder: string,
    label: string,
    private readonly options: OutputOptions,
    createFolder = false,
  ) {
    this.folder = folder;
    if (createFolder) {
      try {
        statSync(folder);
      } catch {
        try {
          mkdirSync(folder, { recursive: true });
        } catch (err) {
          throw new ModelError(options.model, `cannot create the output folder '${folder}': ${(err as Error).message}`);
        }
        this.createdFolder = true;
      }
    }
    removeStaleWork(folder);
    this.dir = join(folder, `.${label}${SUFFIX}`);
    for (let attempt = 0; ; attempt++) {
      try {
        mkdirSync(this.dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          this.removeCreatedFolder();
          throw new ModelError(options.model, `cannot write in '${folder}': ${(err as Error).message}`);
        }
        const owner = liveOwner(this.dir);
        if (owner === 'stale' && attempt === 0) {
          rmSync(this.dir, { recursive: true, force: true });
          continue;
        }
        this.removeCreatedFolder();
        const who = owner === 'stale' ? 'another run' : `another run (process ${owner.pid || '?'} on ${owner.host})`;
        throw new ModelError(options.model, `${who} is writing '${join(folder, label)}' (its work folder '${this.dir}' exists); wait for it to finish, or remove that folder if no run is active`);
      }
    }
    try {
      writeFileSync(join(this.dir, OWNER), `${hostname()}\n${process.pid}\n`);
    } catch (err) {
      this.abort();
      throw new ModelError(options.model, `cannot write in '${folder}': ${(err as Error).message}`);
    }
    options.onWorkFolder?.(this.dir);
  }

  /** Where `final` is written until commit. */
  staged(final: string): string {
    return join(this.dir, basename(final));
  }

  /** Writes one output (checked against the inputs and, without force, refused if it exists); returns its size. */
  write(final: string, produce: (out: Out) => void): number {
    if (this.done) throw new Error('internal error: write after commit or abort');
    if (this.finals.some((f) => basename(f) === basename(final))) throw new Error(`internal error: '${final}' written twice`);
    checkOutput(this.options.model, final, this.options.inputs, this.options.force);
    let fd: number;
    try {
      fd = openSync(this.staged(final), 'wx');
    } catch (err) {
      throw new ModelError(this.options.model, `cannot write '${final}': ${describeError(err)}`);
    }
    this.openFd = fd;
    this.finals.push(final);
    const out = new FileOut(fd, this.options.signal);
    try {
      produce(out);
      out.flush();
      fsyncSync(fd);
    } catch (err) {
      // A full or read-only disk names the file it could not write.
      if (WRITE_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')) throw new ModelError(this.options.model, `cannot write '${final}': ${describeError(err)}`);
      throw err;
    }
    this.openFd = null;
    closeSync(fd);
    this.sizes.set(final, out.written);
    return out.written;
  }

  sizeOf(final: string): number {
    return this.sizes.get(final) ?? 0;
  }

  /**
   * Puts every output in place, in the order written (a model's data file before the model that points at it).
   * Without force each is linked in exclusively: an output that appeared meanwhile is not replaced, and the outputs
   * already placed by this call are taken back. A cancel seen here still stops everything.
   */
  commit(): void {
    if (this.options.signal?.aborted) throw new CancelledError();
    const placed: string[] = [];
    try {
      for (const final of this.finals) {
        const staged = this.staged(final);
        checkOutput(this.options.model, final, this.options.inputs, this.options.force);
        if (this.options.force) renameSync(staged, final);
        else if (!linkExclusive(staged, final)) {
          throw new ModelError(this.options.model, `the output '${final}' appeared while this run was writing it (another program created it); it was not replaced`);
        }
        placed.push(final);
      }
    } catch (err) {
      if (!this.options.force) for (const p of placed) rmSync(p, { force: true });
      this.abort();
      throw err;
    }
    syncFolder(this.folder);
    this.release();
  }

  /** Removes the work folder and everything in it; removes the output folder too when this run created it. */
  abort(): void {
    if (this.openFd !== null) {
      try {
        closeSync(this.openFd);
      } catch {
        // already closed
      }
      this.openFd = null;
    }
    this.release();
    this.removeCreatedFolder();
  }

  private release(): void {
    if (this.done) return;
    this.done = true;
    rmSync(this.dir, { recursive: true, force: true });
    this.options.onWorkFolder?.(null);
  }

  private removeCreatedFolder(): void {
    if (!this.createdFolder) return;
    try {
      rmdirSync(this.folder); // only when empty
    } catch {
      // not empty or gone: leave it
    }
  }
}

/** Links `from` to `to` unless `to` exists; false when it does. Falls back to check-and-rename where links fail. */
function linkExclusive(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    unlinkSync(from);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw err;
  }
  // A file system without hard links: the narrowest check-then-rename there is.
  if (identity(to) !== null) return false;
  renameSync(from, to);
  return true;
}

/** Makes the renames durable (best effort: not every file system syncs folders). */
function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, 'r');
    if (fstatSync(fd).isDirectory()) fsyncSync(fd);
  } catch {
    // not supported here
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
