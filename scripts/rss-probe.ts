// Preloaded into a benchmarked CLI process (node -r dist/scripts/rss-probe.js dist/cli.js ...): at exit, writes the
// process's peak resident memory (all its threads) to the file named by SPARSITY_LENS_RSS_FILE.
import { writeFileSync } from 'node:fs';
import { peakRssMb } from './peak-rss';

const file = process.env.SPARSITY_LENS_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(peakRssMb())));
