// Running the built CLI (dist/cli.js) as users do, for the tests of each command.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** dist/test/ → dist/cli.js (every test bundle sits in dist/test/). */
export const CLI = join(__dirname, '..', 'cli.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(...args: string[]): Run {
  const { status, stdout, stderr } = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: status, stdout, stderr };
}
