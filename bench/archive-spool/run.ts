/**
 * bench/archive-spool: what the archive spool (the write-ahead log of `gpumon up`, Batcher's journal) costs
 * a sampling tick, against the same tick without it, measured in the same run: the simulated source read,
 * published through the in-process transport into the pipeline's batcher (a sink that keeps nothing, flushed
 * every 60 s as by default), with and without every delivery appended and fdatasync-ed to the spool.
 *
 *   npx tsx bench/archive-spool/run.ts [--ticks 300] [--gpus 8,1000] [--dir /var/tmp]
 *
 * Reports per tick: the time the sampler waits (the tick itself: the journal is appended off the tick), the
 * CPU of the whole process (encoding and writing included), and the time from a tick to its delivery being
 * on disk (fdatasync): the window a SIGKILL can lose, on top of a read in progress.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Spool } from '../../src/agent/spool.ts';
import { Pipeline } from '../../src/pipeline/pipeline.ts';
import { Sampler } from '../../src/pipeline/sampler.ts';
import type { Sink } from '../../src/sinks/sink.ts';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { MemoryTransport } from '../../src/transport/memory-transport.ts';
import { fmt } from '../harness.ts';

const { values } = parseArgs({
  options: {
    ticks: { type: 'string', default: '300' },
    gpus: { type: 'string', default: '8,1000' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const ticks = Number(values.ticks);

const nowhere: Sink = { name: 'nowhere', write: async () => {}, close: async () => {} };

interface Figures {
  tickMs: number;
  cpuMs: number;
  onDiskP50Ms: number;
  onDiskP99Ms: number;
}

async function run(gpus: number, withJournal: boolean): Promise<Figures> {
  const dir = mkdtempSync(join(values.dir, 'gpumon-spool-bench-'));
  const source = new SimSource({ hosts: Math.ceil(gpus / 8), gpusPerHost: Math.min(gpus, 8) });
  await source.open();
  const transport = new MemoryTransport();
  const journal = withJournal ? await Spool.open({ dir, maxBytes: 4 * 1024 ** 3 }) : undefined;
  const pipeline = new Pipeline({
    transport,
    group: 'bench',
    sinks: [
      {
        sink: nowhere,
        batching: {
          maxRows: 10_000_000,
          maxAgeMs: 60_000,
          maxBuffered: 100_000_000,
          ...(journal ? { journal } : {}),
        },
      },
    ],
  });
  const sampler = new Sampler(source, transport, 1000);
  const onDisk: number[] = [];
  let tickMs = 0;
  const cpu = process.cpuUsage();
  for (let i = 0; i < ticks; i++) {
    const started = performance.now();
    await sampler.tick(1_800_000_000_000 + i * 1000);
    tickMs += performance.now() - started;
    if (journal) {
      // an empty append queues behind the tick's: it resolves once the tick's delivery is on disk
      await journal.cut();
      onDisk.push(performance.now() - started);
    }
  }
  const used = process.cpuUsage(cpu);
  await pipeline.close();
  await source.close();
  rmSync(dir, { recursive: true, force: true });
  onDisk.sort((a, b) => a - b);
  const pct = (p: number) => onDisk[Math.min(onDisk.length - 1, Math.floor(p * onDisk.length))] ?? 0;
  return {
    tickMs: tickMs / ticks,
    cpuMs: (used.user + used.system) / 1000 / ticks,
    onDiskP50Ms: pct(0.5),
    onDiskP99Ms: pct(0.99),
  };
}

console.log(`bench/archive-spool: ${ticks} ticks each, spool under ${values.dir}`);
for (const gpus of values.gpus.split(',').map(Number)) {
  const base = await run(gpus, false);
  const spool = await run(gpus, true);
  console.log(
    `${gpus} GPUs/tick: tick ${fmt(base.tickMs)} -> ${fmt(spool.tickMs)} ms (x${fmt(spool.tickMs / base.tickMs)}), ` +
      `CPU ${fmt(base.cpuMs)} -> ${fmt(spool.cpuMs)} ms/tick (x${fmt(spool.cpuMs / base.cpuMs)}), ` +
      `on disk after p50 ${fmt(spool.onDiskP50Ms)} ms, p99 ${fmt(spool.onDiskP99Ms)} ms`,
  );
}
