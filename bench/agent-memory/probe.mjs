// Loaded into the agent with `node --import ./bench/agent-memory/probe.mjs`: appends the process's memory
// (process.memoryUsage(), V8's malloced memory) and its garbage collections since the last line, as one JSON
// line, to $BENCH_AGENT_MEMORY_FILE every $BENCH_AGENT_MEMORY_MS (5000). The timer is unref'd: it never keeps
// the agent alive, and it allocates one small string a line (the agent's own allocation dwarfs it).
import { appendFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

const file = process.env.BENCH_AGENT_MEMORY_FILE;
const every = Number(process.env.BENCH_AGENT_MEMORY_MS ?? 5000);
if (file) {
  const gcs = { minor: 0, major: 0, ms: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
      else if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++;
      gcs.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const t0 = Date.now();
  setInterval(() => {
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    appendFileSync(
      file,
      `${JSON.stringify({ s: (Date.now() - t0) / 1000, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, malloced: h.malloced_memory, ...gcs })}\n`,
    );
    gcs.minor = 0;
    gcs.major = 0;
    gcs.ms = 0;
  }, every).unref();
}
