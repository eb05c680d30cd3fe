// `npm run fuzz`: the structure-aware fuzzer of test/support/cliFuzz.ts at thousands of mutants. Usage:
//   npm run fuzz [-- --mutants N] [--seed S] [--processes]
//   npm run fuzz -- --write SEED --to DIR     (writes that mutant, mutant.onnx and its files, to DIR to replay by hand)
// Prints progress, then every finding with the seed that replays it; exits 1 when there is any.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fuzzCommands, loadBases, makeMutant } from '../test/support/cliFuzz';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      mutants: { type: 'string', default: '3000' },
      seed: { type: 'string', default: String(0xf0220000) },
      processes: { type: 'boolean', default: false },
      write: { type: 'string' },
      to: { type: 'string' },
    },
  });
  if (values.write !== undefined) {
    const mutant = makeMutant(loadBases(process.cwd()), Number(values.write));
    const dir = values.to ?? `mutant-${values.write}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'mutant.onnx'), mutant.bytes);
    for (const [location, bytes] of mutant.files) {
      mkdirSync(join(dir, location, '..'), { recursive: true });
      writeFileSync(join(dir, location), bytes);
    }
    console.log(`${dir}/mutant.onnx: ${mutant.base}: ${mutant.mutations.join('; ')}`);
    return 0;
  }
  const mutants = Number(values.mutants);
  const firstSeed = Number(values.seed);
  console.log(`fuzz: ${mutants} mutants from seed ${firstSeed}, ${values.processes ? 'each command in its own process' : 'commands in this process'}`);
  const started = Date.now();
  const summary = await fuzzCommands({ root: process.cwd(), firstSeed, mutants, processes: values.processes, cli: join(__dirname, '..', 'cli.js'), log: (l) => console.log(l) });
  console.log(`${summary.mutants} mutants, ${summary.runs} runs in ${((Date.now() - started) / 1000).toFixed(0)} s; exit codes ${JSON.stringify(summary.exits)}; slowest run ${summary.slowestMs.toFixed(0)} ms`);
  for (const f of summary.findings) console.log(`FINDING seed ${f.seed} (${f.base}: ${f.mutations.join('; ')}) ${f.command}: ${f.problem}`);
  return summary.findings.length ? 1 : 0;
}

main().then((code) => (process.exitCode = code));
