// The engine worker thread of the extension: runs inspect, zoom, encodings and convert jobs off the extension host,
// reports progress, and obeys cancel. One job per id; a cancelled job ends with 'cancelled'.
import { statSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { convertModel } from '../engine/convert/convert';
import { exportModel } from '../engine/convert/export';
import { CancelledError, canRetry, describeError } from '../engine/errors';
import { newAbortFlag, raiseAbortFlag, sharedAbortSignal } from '../engine/sharedAbort';
import { FileSource } from '../engine/onnx/source';
import { ExternalFiles } from '../engine/onnx/tensorData';
import { reportInputFiles, stampFiles } from '../engine/inputFiles';
import { inspectModel } from '../engine/sparsity/inspect';
import { findModelLayers } from '../engine/sparsity/modelLayers';
import { parsePattern } from '../engine/sparsity/pattern';
import { readGroupEncodings, readRegion } from '../engine/sparsity/region';
import { resolveProfile } from '../engine/speedup/profiles';
import { StaleReportError, reprojectModel } from '../engine/sparsity/reproject';
import { BATCH_SWEEP, type FromWorker, type InspectSettings, type ToWorker } from '../protocol';
import type { InspectReport } from '../engine/sparsity/inspect';

function pattern(text: string) {
  const p = parsePattern(text);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

function regex(text: string | undefined): RegExp | undefined {
  return text ? new RegExp(text) : undefined;
}

/** The projection options of the panel's settings. */
function projectOptions(settings: InspectSettings) {
  const hardware = resolveProfile(settings.hardware);
  if (typeof hardware === 'string') throw new Error(hardware);
  return { speedup: { hardware, batch: settings.batch, dims: settings.dims, runtime: settings.runtime }, precision: settings.precision };
}

function modifiedAt(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Per model path, its modification time when this worker last scanned it: a projection reuses that scan only while it holds. */
const scanned = new Map<string, number | undefined>();

if (parentPort) {
  const port = parentPort;
  const jobs = new Map<number, Int32Array>();
  const send = (msg: FromWorker) => port.postMessage(msg);
  const throttle = (id: number, what: string) => {
    let last = 0;
    return (done: number, total: number) => {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      send({ type: 'progress', id, done, total, what });
    };
  };

  const inspect = async (msg: Extract<ToWorker, { type: 'inspect' | 'project' }>, signal: AbortSignal): Promise<InspectReport> => {
    const stamp = modifiedAt(msg.path);
    const report = await inspectModel(msg.path, {
      pattern: pattern(msg.settings.pattern),
      gridMax: msg.engine.gridMax,
      nearlyThreshold: msg.engine.nearlyThreshold,
      workers: msg.engine.workers || undefined,
      ...projectOptions(msg.settings),
      batchSweep: [...BATCH_SWEEP],
      signal,
      // No layer name to give: the panel reads "Scanning: 17 %" (it read "Scanning scanning").
      onProgress: throttle(msg.id, ''),
    });
    scanned.set(msg.path, stamp);
    return report;
  };

  port.on('message', async (msg: ToWorker) => {
    if (msg.type === 'cancel') {
      const flag = jobs.get(msg.id);
      if (flag) raiseAbortFlag(flag);
      return;
    }
    // The host's shared flag when it sent one (it reaches synchronous loops), else a flag of our own for 'cancel'.
    const flag = ('abort' in msg && msg.abort) || newAbortFlag();
    jobs.set(msg.id, flag);
    const controller = { signal: sharedAbortSignal(flag) };
    const started = Date.now();
    try {
      switch (msg.type) {
        case 'inspect': {
          // Stamped before reading: a file that changes during the scan no longer matches (the report cache).
          const inputs = stampFiles(reportInputFiles(msg.path));
          const report = await inspect(msg, controller.signal);
          send({ type: 'log', message: `inspected ${msg.path}: ${report.layers.length} layers in ${Date.now() - started} ms` });
          send({ type: 'inspected', id: msg.id, report, inputs });
          break;
        }
        case 'project': {
          // Project only: the scan's statistics are in the report; a file changed since (or never scanned by this
          // worker, which keeps no older stamps) is scanned again.
          let report: InspectReport;
          try {
            if (modifiedAt(msg.path) !== scanned.get(msg.path)) throw new StaleReportError(`${msg.path}: changed since its scan (or scanned by an earlier worker)`);
            report = reprojectModel(msg.path, msg.report, { ...projectOptions(msg.settings), batchSweep: [...BATCH_SWEEP] });
            send({ type: 'log', message: `projected ${msg.path} on ${msg.settings.hardware} (${msg.settings.runtime ?? 'eager'}, batch ${msg.settings.batch ?? 'as the model says'}) in ${Date.now() - started} ms, no scan` });
          } catch (err) {
            if (!(err instanceof StaleReportError)) throw err;
            send({ type: 'log', message: `${err.message}: scanning again` });
            report = await inspect(msg, controller.signal);
            send({ type: 'log', message: `inspected ${msg.path}: ${report.layers.length} layers in ${Date.now() - started} ms` });
          }
          send({ type: 'inspected', id: msg.id, report });
          break;
        }
        case 'layers': {
          // The lazy parse only: the panel lists layers at once, numbers follow from 'inspect'.
          const src = new FileSource(msg.path);
          const externals = new ExternalFiles(msg.path);
          try {
            const layers = findModelLayers(src, externals).map((l) => ({ name: l.name, op: l.op, graph: l.graph, shape: l.shape, dtype: l.dtype, axis: l.axis, ...(l.storedAs ? { storedAs: l.storedAs, storedShape: l.storedShape } : {}) }));
            send({ type: 'layers', id: msg.id, layers });
          } finally {
            externals.close();
            src.close();
          }
          break;
        }
        case 'region':
          send({ type: 'region', id: msg.id, groups: readRegion(msg.path, pattern(msg.pattern), msg.region) });
          break;
        case 'encodings':
          send({ type: 'encodings', id: msg.id, encodings: readGroupEncodings(msg.path, pattern('2:4'), msg.layer, msg.row, msg.group, msg.position) });
          break;
        case 'convert': {
          const o = msg.options;
          if (o.mode === 'export') {
            const manifest = await exportModel(msg.path, { encoding: o.encoding ?? 'ascend', out: o.out!, force: o.force, signal: controller.signal });
            send({ type: 'log', message: `exported ${manifest.layers.length} layers of ${msg.path} to ${o.out} in ${Date.now() - started} ms` });
            send({ type: 'exported', id: msg.id, manifest });
            break;
          }
          const report = await convertModel(msg.path, {
            mode: o.mode,
            pattern: pattern(o.pattern),
            out: o.out,
            only: regex(o.only),
            skip: regex(o.skip),
            // The layers that do not pass yet: everything the user would want fixed, nothing else touched.
            failingOnly: o.failingOnly,
            inspection: o.inspection,
            force: o.force,
            // The .vsix ships the WebAssembly runtime, not the native one: the same runtime wherever the extension runs.
            verifyRuntime: 'wasm',
            signal: controller.signal,
            onProgress: throttle(msg.id, 'converting'),
          });
          send({ type: 'log', message: `converted ${msg.path} (${o.mode}) to ${report.output} in ${Date.now() - started} ms` });
          send({ type: 'converted', id: msg.id, report });
          break;
        }
      }
    } catch (err) {
      if (err instanceof CancelledError || controller.signal.aborted) send({ type: 'cancelled', id: msg.id });
      else send({ type: 'failed', id: msg.id, message: describeError(err), retry: canRetry(err) });
    } finally {
      jobs.delete(msg.id);
    }
  });
}
