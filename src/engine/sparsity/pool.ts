// A pool of scan worker threads: jobs go to whichever thread is free; each thread reads its own bytes.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancelledError, describeError } from '../errors';
import type { ScanJob } from './job';
import type { PartStats } from './kernel';

export type ToScanWorker = { type: 'job'; job: ScanJob; modelPath: string } | { type: 'cancel' };
export type FromScanWorker =
  | { type: 'progress'; elements: number }
  | { type: 'done'; id: number; stats: PartStats }
  | { type: 'failed'; id: number; message: string; cancelled: boolean };

/** The bundled worker script next to this bundle (dist/) or one folder up (dist/test/). */
export function defaultWorkerScript(): string | undefined {
  for (const candidate of [join(__dirname, 'scan-worker.js'), join(__dirname, '..', 'scan-worker.js')]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Scan workers besides the thread that runs the inspection, which scans too: one per core but one, at least one. */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

export interface JobOutcome {
  job: ScanJob;
  stats?: PartStats;
  error?: string;
}

/** Jobs each worker holds: the one it runs and one queued behind it, so that it never waits for the next. */
const AHEAD = 2;

/** How a worker ended before runPool listened to it: its error, or its exit code. */
const endedEarly = new WeakMap<Worker, { error?: Error; code?: number }>();

/**
 * Starts `count` scan workers: they boot (tens of milliseconds) while the caller prepares their jobs. Until runPool
 * listens, an error or exit is kept for it (an 'error' event without a listener would end the process).
 */
export function spawnWorkers(script: string, count: number): Worker[] {
  return Array.from({ length: Math.max(1, count) }, () => {
    const worker = new Worker(script, { resourceLimits: { maxOldGenerationSizeMb: 256 } });
    worker.on('error', (error) => endedEarly.set(worker, { ...endedEarly.get(worker), error }));
    worker.on('exit', (code) => endedEarly.set(worker, { ...endedEarly.get(worker), code }));
    return worker;
  });
}

/**
 * Runs `jobs` (largest first) on `workers` from spawnWorkers, and terminates them. With `local`, this thread takes
 * jobs from the same queue between the workers' messages: it starts at once, while the workers still boot. Resolves
 * with every job's outcome; a job's failure is its own. Rejects with CancelledError when `signal` aborts, after
 * every worker has been terminated.
 */
export async function runPool(
  workers: Worker[],
  modelPath: string,
  jobs: ScanJob[],
  onProgress: (elements: number) => void,
  signal?: AbortSignal,
  local?: (job: ScanJob) => PartStats,
): Promise<JobOutcome[]> {
  const queue = [...jobs];
  const outcomes: JobOutcome[] = [];
  let failed = true;
  try {
    await new Promise<void>((resolve, reject) => {
      let pending = 0;
      let settled = false;
      const onAbort = () => {
        settled = true;
        reject(new CancelledError());
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = () => {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const runLocal = async () => {
        for (;;) {
          // Between jobs, the event loop runs: the workers' results are taken and they are fed, and a cancel lands.
          await new Promise<void>((next) => setImmediate(next));
          const job = settled ? undefined : queue.shift();
          if (!job) {
            // Nothing left to take: with no job at all (every weight refused before scanning), nobody else finishes.
            if (!settled && pending === 0) finish();
            return;
          }
          pending++;
          try {
            outcomes.push({ job, stats: local!(job) });
          } catch (err) {
            if (err instanceof CancelledError) return onAbort();
            outcomes.push({ job, error: describeError(err) });
          }
          pending--;
          if (pending === 0 && queue.length === 0) return finish();
        }
      };
      // Jobs sent to each worker and not yet answered, in the order it runs them.
      const held = new Map<Worker, ScanJob[]>();
      const feed = (worker: Worker) => {
        const job = queue.shift();
        if (!job) return;
        held.get(worker)!.push(job);
        pending++;
        worker.postMessage({ type: 'job', job, modelPath } satisfies ToScanWorker);
      };
      for (const worker of workers) {
        const ended = endedEarly.get(worker);
        if (ended) {
          settled = true;
          return reject(new Error(ended.error ? `scan worker failed: ${ended.error.message}` : `scan worker exited with code ${ended.code}`));
        }
        held.set(worker, []);
        worker.on('message', (msg: FromScanWorker) => {
          if (msg.type === 'progress') onProgress(msg.elements);
          else {
            const job = held.get(worker)!.shift()!;
            pending--;
            outcomes.push(msg.type === 'done' ? { job, stats: msg.stats } : { job, error: msg.message });
            feed(worker);
            if (pending === 0 && queue.length === 0) finish();
          }
        });
        worker.on('error', (err) => {
          settled = true;
          reject(new Error(`scan worker failed: ${err.message}`));
        });
        worker.on('exit', (code) => {
          if (held.get(worker)!.length > 0 && code !== 0) {
            settled = true;
            reject(new Error(`scan worker exited with code ${code}`));
          }
        });
        for (let j = 0; j < AHEAD; j++) feed(worker);
      }
      if (local) void runLocal();
      else if (pending === 0) finish();
    });
    failed = false;
  } finally {
    // After a failure or cancel, wait until no worker runs; after success the results are in: stop them in the
    // background.
    const stopping = Promise.all(workers.map((w) => w.terminate()));
    if (failed) await stopping;
  }
  return outcomes;
}
