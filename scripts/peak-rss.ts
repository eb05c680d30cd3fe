// A benchmarked process's own peak resident memory (all its threads), in MB.
import { readFileSync } from 'node:fs';

/**
 * VmHWM from /proc/self/status where there is one (Linux), else getrusage's maxRSS. Not maxRSS first: Node spawns
 * children by fork, and Linux carries the forking process's resident size at that moment into the child's maxRSS
 * across exec, so a child of a large bench process reported the bench's size (--help: 251 MB after the bench had
 * generated a model, against its own 42 MB). VmHWM belongs to the process's own memory since exec.
 */
export function peakRssMb(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // no /proc here
  }
  return process.resourceUsage().maxRSS / 1024;
}
