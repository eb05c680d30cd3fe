// A pool of scan worker threads: jobs go to whichever thread is free; each thread reads its own bytes.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../errors';
import type { ScanJob } from './job';
import type { ScanStats } from './kernel';

export type ToScanWorker = { type: 'job'; job: ScanJob; modelPath: string } | { type: 'cancel' };
export type FromScanWorker =
  | { type: 'progress'; elements: number }
  | { type: 'done'; id: number; stats: ScanStats }
  | { type: 'failed'; id: number; message: string; cancelled: boolean };

/** The bundled worker script next to this bundle (dist/) or one folder up (dist/test/). */
export function defaultWorkerScript(): string | undefined {
  for (const candidate of [join(__dirname, 'scan-worker.js'), join(__dirname, '..', 'scan-worker.js')]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

export interface JobOutcome {
  job: ScanJob;
  stats?: ScanStats;
  error?: string;
}

/**
 * Runs `jobs` on `threads` workers (largest first). Resolves with every job's outcome; a job's failure is its
 * own. Rejects with CancelledError when `signal` aborts, after every worker has been terminated.
 */
export async function runPool(
  script: string,
  modelPath: string,
  jobs: ScanJob[],
  threads: number,
  onProgress: (elements: number) => void,
  signal?: AbortSignal,
): Promise<JobOutcome[]> {
  const queue = [...jobs];
  const outcomes: JobOutcome[] = [];
  const workers: Worker[] = [];
  const count = Math.max(1, Math.min(threads, jobs.length));
  try {
    await new Promise<void>((resolve, reject) => {
      let running = 0;
      const onAbort = () => reject(new CancelledError());
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const feed = (worker: Worker) => {
        const job = queue.shift();
        if (!job) {
          if (--running === 0) finish();
          return;
        }
        current.set(worker, job);
        worker.postMessage({ type: 'job', job, modelPath } satisfies ToScanWorker);
      };
      const current = new Map<Worker, ScanJob>();
      for (let i = 0; i < count; i++) {
        const worker = new Worker(script, { resourceLimits: { maxOldGenerationSizeMb: 256 } });
        workers.push(worker);
        running++;
        worker.on('message', (msg: FromScanWorker) => {
          if (msg.type === 'progress') onProgress(msg.elements);
          else {
            const job = current.get(worker)!;
            outcomes.push(msg.type === 'done' ? { job, stats: msg.stats } : { job, error: msg.message });
            feed(worker);
          }
        });
        worker.on('error', (err) => reject(new Error(`scan worker failed: ${err.message}`)));
        worker.on('exit', (code) => {
          if (current.has(worker) && queue.length + running > 0 && code !== 0) reject(new Error(`scan worker exited with code ${code}`));
        });
        feed(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return outcomes;
}
