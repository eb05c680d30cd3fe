// The extension host's side of the engine worker: requests with ids, progress, cancel, and a restart when the worker
// dies (memory limit, crash): pending requests fail with a message the panel can offer a retry for.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as vscode from 'vscode';
import { newAbortFlag, raiseAbortFlag } from '../engine/sharedAbort';
import type { FromWorker, ToWorker } from '../protocol';

type Request = ToWorker extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;
type Reply = Exclude<FromWorker, { type: 'progress' | 'log' | 'failed' | 'cancelled' }>;

export class WorkerDiedError extends Error {}

/** A job the engine failed, with whether trying it again may help (the worker's canRetry). */
export class EngineFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Whether a failed request may succeed when sent again: the worker restarts; a file cut short or locked may change. */
export function retryable(err: unknown): boolean {
  return err instanceof WorkerDiedError || (err instanceof EngineFailure && err.retryable);
}

interface Pending {
  /** Raised to cancel: the worker's loops read it even while busy. */
  abort: Int32Array;
  resolve(reply: Reply): void;
  reject(err: Error): void;
  onProgress?: (done: number, total: number, what: string) => void;
}

export class EngineClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly extensionPath: string,
    private readonly log: vscode.OutputChannel,
  ) {}

  private start(): Worker {
    if (this.worker) return this.worker;
    // A memory limit for the heap; weights are streamed in slabs and never held whole.
    const worker = new Worker(join(this.extensionPath, 'dist', 'worker.js'), { resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    worker.on('message', (msg: FromWorker) => this.receive(msg));
    worker.on('error', (err) => this.died(`the engine worker failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.died(`the engine worker stopped (exit code ${code})`);
    });
    this.worker = worker;
    this.log.appendLine('engine worker started');
    return worker;
  }

  private died(message: string): void {
    this.log.appendLine(message);
    this.worker = undefined;
    for (const p of this.pending.values()) p.reject(new WorkerDiedError(`${message}; it will restart on retry`));
    this.pending.clear();
  }

  private receive(msg: FromWorker): void {
    if (msg.type === 'log') {
      this.log.appendLine(msg.message);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') {
      p.onProgress?.(msg.done, msg.total, msg.what);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.type === 'failed') p.reject(new EngineFailure(msg.message, msg.retry ?? false));
    else if (msg.type === 'cancelled') p.reject(new CancelledJob());
    else p.resolve(msg);
  }

  /** Sends a request; the returned promise settles with the reply. `token` cancels it. */
  request<T extends Reply['type']>(
    request: Request,
    options: { onProgress?: Pending['onProgress']; token?: vscode.CancellationToken } = {},
  ): Promise<Extract<Reply, { type: T }>> {
    const id = this.nextId++;
    const worker = this.start();
    const abort = newAbortFlag();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { abort, resolve: resolve as (r: Reply) => void, reject, onProgress: options.onProgress });
      options.token?.onCancellationRequested(() => this.cancel(id));
      worker.postMessage({ ...request, id, abort } as ToWorker);
    });
  }

  cancel(id: number): void {
    const pending = this.pending.get(id);
    if (pending) raiseAbortFlag(pending.abort);
    this.worker?.postMessage({ type: 'cancel', id } satisfies ToWorker);
  }

  /** Cancels every pending job (a panel closed, the extension deactivates). */
  async dispose(): Promise<void> {
    for (const id of this.pending.keys()) this.cancel(id);
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

export class CancelledJob extends Error {
  constructor() {
    super('cancelled');
  }
}
