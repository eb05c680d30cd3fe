// The webview's side of the channel to the extension host (protocol.ts: FromWebview out, ToWebview in).
import type { FromWebview } from '../src/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

// acquireVsCodeApi may be called once per page load.
const api = acquireVsCodeApi();

export function post(message: FromWebview): void {
  api.postMessage(message);
}
