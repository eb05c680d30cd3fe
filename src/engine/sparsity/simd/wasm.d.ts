// The AssemblyScript kernel, compiled by esbuild.mjs and embedded in each bundle as bytes.
declare module 'wasm:scan-kernel' {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}
// The bench's floor pass (scripts/floor.as.ts).
declare module 'wasm:bench-floor' {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}

// The few WebAssembly JS-API names this project uses (the ES lib has none, and Node's types leave them out).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}
