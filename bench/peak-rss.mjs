// Loaded with `node --import ./bench/peak-rss.mjs ...`: prints the process's peak resident memory (native
// memory such as DuckDB's included) on stderr as it exits, for the benchmarks to read.
process.on('exit', () => {
  process.stderr.write(`\nPEAK_RSS_KB=${process.resourceUsage().maxRSS}\n`);
});
