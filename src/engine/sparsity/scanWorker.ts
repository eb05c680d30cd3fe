// Worker-thread entry of the scan pool: runs ScanJobs against the model file, reports progress, obeys cancel.
import { parentPort } from 'node:worker_threads';
import { describeError } from '../errors';
import { FileSource } from '../onnx/source';
import { JobSources } from './job';
import { partGridBuffers } from './kernel';
import type { ToScanWorker } from './pool';

if (parentPort) {
  const port = parentPort;
  const sources = new Map<string, JobSources>();
  const cancelled = { aborted: false };
  port.on('message', (msg: ToScanWorker) => {
    if (msg.type === 'cancel') {
      cancelled.aborted = true;
      return;
    }
    const { job, modelPath } = msg;
    let progress = 0;
    let last = Date.now();
    try {
      let source = sources.get(modelPath);
      if (!source) sources.set(modelPath, (source = new JobSources(new FileSource(modelPath))));
      const stats = source.run(
        job,
        (n) => {
          progress += n;
          const now = Date.now();
          if (now - last > 50) {
            port.postMessage({ type: 'progress', elements: progress });
            progress = 0;
            last = now;
          }
        },
        cancelled,
      );
      port.postMessage({ type: 'progress', elements: progress });
      // The grid's arrays move to the receiving thread (no copy there); the rest of the statistics are copied.
      port.postMessage({ type: 'done', id: job.id, stats }, partGridBuffers(stats.grid));
    } catch (err) {
      port.postMessage({ type: 'failed', id: job.id, message: describeError(err), cancelled: cancelled.aborted });
    }
  });
}
