// Every help text of the CLI, apart from the commands' code: `--help` prints them without loading the engine.

export const VERSION = '0.1.0';

export const HELP = `Usage: sparsity-lens COMMAND [options]

Sparsity Lens inspects ONNX models and Hugging Face safetensors checkpoints for N:M (e.g. 2:4)
structured sparsity and block sparsity.

Commands:
  inspect MODEL    per-layer N:M compliance, patterns, block ratios and what pruning keeps
  convert MODEL    prune to N:M (--mode prune) or prune and compress (--mode compress), verify the output
  decompress MODEL a compressed model back to the dense pruned model, bit for bit
  export MODEL     compressed values and index metadata (Ascend or NVIDIA) as sidecar files + manifest

Run 'sparsity-lens COMMAND --help' for a command's options.
Options: -h, --help   this help;  --version   print the version.
Exit codes: 0 ok, 1 a gate failed, 2 bad input or usage, 130 interrupted.
`;

export const INSPECT_HELP = `Usage: sparsity-lens inspect MODEL [options]

Reports, for every layer with a constant weight, whether it carries N:M sparsity along its
reduction axis (groups of M consecutive weights with at most N non-zeros), why not, the standard
patterns it satisfies, Intel block ratios, and what pruning would keep.

MODEL is an ONNX model (.onnx), a safetensors checkpoint (.safetensors), or a sharded one through
its model.safetensors.index.json (config.json beside it, if present, says how to read GPT-2 layers).

Options:
  --pattern N:M         pattern to check (default 2:4; N = most non-zeros kept, 1 <= N < M <= 16)
  --format FORMAT       table (default), json, markdown, csv, or an overlay: netron (a Netron
                        attachment) or model-explorer (Model Explorer node data)
  --fail-under FRACTION exit 1 when the parameter-weighted compliance of eligible layers is below
                        FRACTION (0..1), e.g. --fail-under 0.99 in CI; a layer whose weights
                        cannot be read counts as failing. With --target, it also fails when a
                        layer that passes the pattern will not run sparse on a named target
                        (the layers and reasons go to stderr)
  --layers REGEX        only layers whose name matches REGEX
  --grid                include each layer's tile grid in the JSON output
  --workers N           worker threads (default: one per core; 0 scans in this thread)
  --speedup             add the projected speedup (per layer and end to end) on a hardware profile
  --hardware NAME|FILE  profile: a100 (default), h100, b200, l4, a6000, orin, orin-nano,
                        orin-nano-super, ascend-a2, cpu-xeon, or a JSON file
  --batch N             value of the inputs' symbolic batch dimension (for --speedup)
  --dim NAME=VALUE      value of a symbolic dimension, e.g. --dim sequence=384 (repeatable)
  --runtime KIND        eager (default: every op its own kernel, as PyTorch eager or plain ONNX Runtime)
                        or fused (TensorRT-like: epilogues, skip-layer-norm and attention fused)
  --target ID[,ID]      deploy verdicts for these targets (repeatable): tensorrt-sm80, tensorrt-sm89,
                        tensorrt-sm90, tensorrt-sm100, tensorrt-llm, cusparselt, pytorch, ascend-atc,
                        intel-xeon; adds a "runs sparse" column and per-target lines; implies the
                        projection (each target timed on its own profile; cusparselt and pytorch on
                        --hardware)
  --deploy              the whole deploy view: per target the layers and parameters that run
                        sparse, the reasons counted, then per layer the reasons and the fix (all
                        targets unless --target); implies the projection
  --precision P         what the engine is built with: stored (default: each weight as stored),
                        fp16, bf16, int8 or fp8; float weights compute in it (TensorRT --fp16),
                        integer weights stay int8. Used by the verdicts and the projection
  --out FILE            write the report to FILE instead of stdout (never the model or its data)
  -h, --help            this help

JSON always carries layers[].deploy[TARGET] = {sparse, reasons, fix, rules, denseTime, sparseTime}
and summary.deploy[TARGET] (README, "Will it run sparse?").

Exit codes: 0 ok, 1 the --fail-under gate failed, 2 bad input or usage, 130 interrupted
(Ctrl-C, TERM or HUP).
`;

export const CONVERT_HELP = `Usage: sparsity-lens convert MODEL --mode prune|compress [options]

prune: every selected eligible layer is pruned to N:M by magnitude along its reduction axis (the N
largest |w|, or |q - zero_point| for integer weights, of each group survive; ties keep the earlier
position). Layers already compliant are left byte-identical.
compress: pruned, then stored as kept values + a packed position stream, rebuilt at load time by a
small decode graph of standard ONNX ops (opset >= 7, the model's own): the model still runs in ONNX
Runtime, with outputs bit-identical to the pruned model, and is smaller (about 9/16 of fp16 weights at
2:4); int8 zero points per channel are kept. Weights that cannot take that form (zero points along K
or per block, 4/64-bit types, weights in functions, opset < 7) are pruned in place and the report says why. 'sparsity-lens decompress' restores the dense pruned model.

The output is written next to MODEL, then re-read (compressed weights decoded) and checked: every
converted layer must pass. The input is never modified; outputs are written atomically. Both models
then run in ONNX Runtime on the same generated inputs and every output is compared: in the native
runtime (onnxruntime-node) when it is installed, else in its WebAssembly build, which ships with the tool.

--permute: before pruning, each selected Conv/Gemm/MatMul layer's input channels are reordered (with
the output channels of the layer that produces them, its bias and the per-channel ops between:
BatchNormalization, Add/Mul of a constant, Relu, Gelu, pools, depthwise convolutions...) so that
more magnitude survives N:M pruning (NVIDIA ASP's channel permutation search). The model computes
the same function; the report gives each layer's retained magnitude without and with the
permutation, and why a layer was refused (graph input, a residual Add, Reshape/Concat/Transpose
between, grouped convolution, quantized weights). Models with external data are not permuted yet.

One-shot pruning without fine-tuning loses accuracy: sparse-training flows (ASP, SR-STE, AMCT, INC)
retrain after pruning.

Options:
  --mode MODE           prune or compress
  --pattern N:M         default 2:4 (N = most non-zeros kept per group of M)
  --out PATH            output model (default: MODEL.pruned-2of4.onnx / .compressed-2of4.onnx next to
                        MODEL); external data goes
                        to PATH without .onnx + .data
  --only REGEX          only layers whose name matches
  --skip REGEX          not the layers whose name matches
  --min-params N        not layers with fewer than N weights
  --skip-first          not the first eligible layer (the stem)
  --skip-head           not the last eligible layer (the classifier head)
  --permute             permute input channels first to keep more magnitude (see above)
  --force               replace an existing output
  --dry-run             print what would change; write nothing
  --verify-runtime KIND auto (default: native when installed, else wasm), native or wasm (the
                        WebAssembly build the VS Code extension uses)
  --format FORMAT       table (default) or json
  -h, --help            this help

The output is written and verified in a work folder next to it (.NAME.sparsity-lens.partial), then
put in place: it appears whole and verified, or not at all. Another run writing the same output is
refused.

Exit codes: 0 ok, 1 the output failed verification (it is not written), 2 bad input or usage,
130 interrupted (Ctrl-C, TERM or HUP; nothing is written).
`;

export const DECOMPRESS_HELP = `Usage: sparsity-lens decompress MODEL [--out PATH] [--force]

Rebuilds every weight that 'convert --mode compress' stored as values and index streams, removes the
decode graphs and the metadata entry, and writes the dense pruned model (bit for bit).
MODEL may also be a compressed-tensors sparse-24-bitmask checkpoint (.safetensors, or a sharded
one's model.safetensors.index.json): each weight is written dense, every other tensor copied.

Options:
  --out PATH     output model (default: NAME.decompressed.onnx next to MODEL; a checkpoint:
                 NAME.decompressed.safetensors, or for a sharded one the folder 'decompressed')
  --force        replace an existing output
  --format FMT   table (default) or json
  -h, --help     this help

Exit codes: 0 ok, 2 bad input or usage, 130 interrupted.
`;

export const EXPORT_HELP = `Usage: sparsity-lens export MODEL --encoding ascend|nvidia --out DIR [--layer NAME] [--force]

Writes, for every eligible layer that passes 2:4 (or just --layer NAME), the kept values and the index
metadata the hardware reads, one file each, plus DIR/manifest.json (layer, tensor, shapes, dtype,
encoding, byte order, sizes, sha256). Each weight is viewed as [rows, K], K innermost.

  ascend   ATC --sparsity=1: 2 values and two 2-bit indexes per group of 4, indexes packed 4 per byte
  nvidia   cuSPARSELt/CUTLASS as PyTorch encodes it: values, plain 4-bit metadata in int16 (fp16/bf16)
           or int32 (int8) words, and the reordered CUTLASS/PyTorch layout where rows % 32 == 0 and
           K % 64 (fp16) / 128 (int8) allow it

Layers that do not pass 2:4 are listed as skipped: prune them first ('convert --mode prune').

Options:
  --encoding ENC   ascend or nvidia
  --out DIR        output folder (created; must be empty unless --force)
  --layer NAME     only this layer
  --force          write into a non-empty folder, replacing files of the same name
  --format FMT     table (default) or json (the manifest)
  -h, --help       this help

Exit codes: 0 ok, 2 bad input or usage, 130 interrupted.
`;

/** Each command's --help, by command name. */
export const COMMAND_HELP: Record<string, string> = {
  inspect: INSPECT_HELP,
  convert: CONVERT_HELP,
  decompress: DECOMPRESS_HELP,
  export: EXPORT_HELP,
};
