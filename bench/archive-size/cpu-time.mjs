// Loaded with `node --import ./bench/archive-size/cpu-time.mjs ...`: prints the CPU time the process spent
// (user + system, every thread's, DuckDB's included) on stderr as it exits. On a shared machine the CPU a job
// spends moves far less with other load than its wall time does.
process.on('exit', () => {
  const { userCPUTime, systemCPUTime } = process.resourceUsage();
  process.stderr.write(`\nCPU_MS=${(userCPUTime + systemCPUTime) / 1000}\n`);
});
