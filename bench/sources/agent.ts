/**
 * A minimal agent-like process for bench/sources: the NVML source on the fake library, read once a second
 * (samples and processes) for `--seconds`, nothing else (no pipeline, no DuckDB). `--idle` only waits, for the
 * floor of Node + tsx itself. The fake library and scenario come from the environment (see run.ts).
 */
import { parseArgs } from 'node:util';
import { NvmlSource } from '../../src/sources/nvml/nvml-source.ts';

const { values } = parseArgs({
  options: {
    library: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    idle: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);

if (values.idle) {
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
} else {
  const source = new NvmlSource({ library: values.library as string, host: 'bench' });
  await source.open();
  let samples = 0;
  const started = Date.now();
  for (let tick = 0; tick < seconds; tick++) {
    const due = started + tick * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    samples += (await source.read(Date.now())).length;
    await source.processes();
  }
  await source.close();
  console.log(`samples=${samples}`);
}
