// The channel permutation search against ASP's published figures: a seeded random 128 x 64 matrix (uniform [0, 1),
// as ASP's README tests one) pruned 2:4 plain, after the search, and the unstructured bound; then how far the default
// work budget gets on larger layers, and how long it takes. Ratios and times from this run only.
import { DEFAULT_BUDGET, searchPermutation } from '../src/engine/convert/permute/search';
import { seededRandom } from '../src/engine/onnx/numbers';

function matrix(R: number, K: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  return Float32Array.from({ length: R * K }, () => rnd());
}

function run(R: number, K: number, seed: number): void {
  const columns = matrix(R, K, seed);
  const started = process.hrtime.bigint();
  const r = searchPermutation(columns, R, K, { pattern: { n: 2, m: 4 } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const efficacy = ((r.permuted - r.plain) / (r.bound - r.plain)) * 100;
  console.log(
    `${String(R).padStart(5)} x ${String(K).padEnd(5)} seed ${seed}: plain ${r.plain.toFixed(1)}, permuted ${r.permuted.toFixed(1)}, bound ${r.bound.toFixed(1)}, ` +
      `efficacy ${efficacy.toFixed(1)} %, +${(((r.permuted - r.plain) / r.plain) * 100).toFixed(2)} % kept, ${r.moves} moves, ${ms.toFixed(0)} ms${r.budgetSpent ? ' (budget spent)' : ''}`,
  );
}

console.log(`ASP README, random 128 x 64: plain 2852.4, permuted 2921.9, bound 3042.3 (efficacy 36.6 %). Budget ${DEFAULT_BUDGET.toExponential(0)} per layer.`);
for (const seed of [1, 2, 3, 4, 5]) run(128, 64, seed);
for (const [R, K] of [[512, 256], [2304, 256], [1024, 1024], [4096, 4096]]) run(R, K, 1);
