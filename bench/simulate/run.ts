/**
 * bench/simulate: `gpumon simulate` (the bundled bin/gpumon.js, as deployed) at 8 GPUs x 3 days and at
 * 80 GPUs x 1 day, 1 Hz: wall seconds, samples per second and peak RSS (bench/peak-rss.mjs: VmHWM, DuckDB's
 * native memory included), with the machine's CPU use beside each run (bench/noise.ts: a run during which
 * other processes took more than the threshold of the cores is marked DISTURBED).
 * Target (issue 15 point 5): <= 400 MiB peak at any size, at least as fast as before.
 *
 *   npx tsx bench/simulate/run.ts [--runs 1] [--only 8x3|80x1]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBundle, fmt, measureNode } from '../harness.ts';
import { describeNoise, describeSpread, NoiseMeter, spread } from '../noise.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '1' }, only: { type: 'string' } },
});
const CASES = [
  { name: '8x3', hosts: 1, gpus: 8, days: 3 },
  { name: '80x1', hosts: 10, gpus: 8, days: 1 },
].filter((c) => values.only === undefined || c.name === values.only);
if (CASES.length === 0) throw new Error(`--only must be 8x3 or 80x1, got ${values.only}`);

for (const c of CASES) {
  const samples = c.hosts * c.gpus * c.days * 86_400;
  const seconds: number[] = [];
  for (let run = 0; run < Number(values.runs); run++) {
    const out = mkdtempSync(join(tmpdir(), 'gpumon-bench-simulate-'));
    try {
      ensureBundle();
      const meter = new NoiseMeter().start();
      const args = ['--days', String(c.days), '--end', '2026-11-25', '--hosts', String(c.hosts)];
      const m = await measureNode(
        ['bin/gpumon.js', 'simulate', ...args, '--gpus', String(c.gpus), '--out', out],
        { GPUMON_CONFIG: '' },
        { tsx: false, meter },
      );
      const noise = meter.stop();
      seconds.push(m.seconds);
      console.log(
        `${c.hosts * c.gpus} GPUs x ${c.days} day(s): ${fmt(m.seconds)} s, ` +
          `${fmt(samples / m.seconds / 1e6)} M samples/s, ${fmt(m.peakRssMiB, 0)} MiB peak RSS; ${describeNoise(noise)}`,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  if (seconds.length > 1) console.log(`  seconds: ${describeSpread(spread(seconds))}`);
}
