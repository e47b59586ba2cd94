/**
 * bench/telegraf/consume-floor: what `gpumon consume` cannot spend less than per sample with the Kafka client it
 * is built on (@platformatic/kafka, a choice of the brief): a child process of bench/telegraf/consumer.ts that
 * reads a topic from the start with the client set up as src/transport/kafka/group-consumer.ts sets it up
 * (maxWaitTime, highWaterMark, maxBytes, lz4 batches), reading the stream the same way (`read()` until null,
 * then wait for `readable`), and
 * - `kafka`: does nothing with the records (the client's fetch, decompression and record parsing alone);
 * - `decode`: decodes each with the InfluxDB group's decoder (decodeRecordWithLines: the samples and their
 *   lines), and writes nothing.
 * Once it has read `count` records it prints one JSON line: the records and samples read (`decoded`: samples
 * decoded, in `decode` mode), its own CPU (user + system, every thread) and wall time from the first record
 * to the last, and exits.
 *
 *   node --import tsx bench/telegraf/consume-floor.ts BROKERS TOPIC COUNT kafka|decode
 */
import { Consumer, type Message } from '@platformatic/kafka';
import { encodingOf, FETCH_MAX_BYTES, FETCH_MAX_WAIT_MS } from '../../src/transport/kafka/group-consumer.ts';
import { decodeRecordWithLines } from '../../src/transport/kafka/line-decoder.ts';

const [brokers, topic, countArg, mode] = process.argv.slice(2);
if (!brokers || !topic || !countArg || (mode !== 'kafka' && mode !== 'decode'))
  throw new Error('usage: consume-floor.ts BROKERS TOPIC COUNT kafka|decode');
const count = Number(countArg);

const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
  clientId: `gpumon-bench-floor-${process.pid}`,
  bootstrapBrokers: brokers.split(','),
  groupId: `gpumon-bench-floor-${process.pid}-${Date.now()}`,
  autocommit: false,
  maxWaitTime: FETCH_MAX_WAIT_MS,
  // The stream's buffer of records: gpumon's is the transport's maxBatch (5,000 by default).
  highWaterMark: 5_000,
  maxBytes: FETCH_MAX_BYTES,
});
const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });

let seen = 0;
let decoded = 0;
let cpu0: NodeJS.CpuUsage | undefined;
let t0 = 0;
const done = new Promise<void>((resolve, reject) => {
  stream.on('error', reject);
  const drain = () => {
    for (;;) {
      const record = stream.read() as Message<Buffer, Buffer, Buffer, Buffer> | null;
      if (record === null) return;
      if (cpu0 === undefined) {
        cpu0 = process.cpuUsage();
        t0 = performance.now();
      }
      if (mode === 'decode') {
        const result = decodeRecordWithLines(record.value, encodingOf(record));
        if (result.ok) decoded += result.samples.length;
      }
      if (++seen >= count) {
        resolve();
        return;
      }
    }
  };
  stream.on('readable', drain);
});
await done;
const cpu = process.cpuUsage(cpu0);
const seconds = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({ mode, records: seen, decoded, cpuSeconds: (cpu.user + cpu.system) / 1e6, seconds }),
);
process.exit(0);
