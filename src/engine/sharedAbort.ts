// Cancellation that reaches synchronous work: a flag in shared memory, set by another thread (the CLI's signal
// handler, the extension host), read by every `signal.aborted` check in the engine's loops. A plain AbortSignal
// cannot do this: its 'abort' needs the event loop, which a long pruning or scanning loop never yields to.

/** A shared flag to pass to another thread: 0 = running, 1 = cancelled. */
export function newAbortFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

export function raiseAbortFlag(flag: Int32Array): void {
  Atomics.store(flag, 0, 1);
}

/**
 * An AbortSignal whose `aborted` reads the shared flag at once; its 'abort' event fires when a check sees the flag (on
 * every `aborted` read, and every 50 ms while anything waits).
 */
export function sharedAbortSignal(flag: Int32Array): AbortSignal {
  const controller = new AbortController();
  const check = () => {
    if (Atomics.load(flag, 0) !== 0 && !controller.signal.aborted) controller.abort();
  };
  const timer = setInterval(check, 50);
  timer.unref();
  controller.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  return new Proxy(controller.signal, {
    get(target, prop) {
      if (prop === 'aborted') {
        check();
        return target.aborted;
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
