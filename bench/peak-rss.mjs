// Loaded with `node --import ./bench/peak-rss.mjs ...`: prints the process's peak resident memory (native
// memory such as DuckDB's included) on stderr as it exits, for the benchmarks to read.
// It reads VmHWM (this process's own high-water mark) rather than getrusage's maxRSS: Linux folds the
// parent's memory high-water mark into a child's maxRSS at exec when the child was spawned with vfork,
// as Node spawns, so a child of a large benchmark process would report at least the parent's peak.
import { readFileSync } from 'node:fs';

process.on('exit', () => {
  let kb = process.resourceUsage().maxRSS;
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) kb = Number(hwm[1]);
  } catch {}
  process.stderr.write(`\nPEAK_RSS_KB=${kb}\n`);
});
