/**
 * bench/pipeline baseline (c): a consumer written the original dashboard's way. A Kafka consumer group with
 * auto-commit on (@platformatic/kafka, `autocommit: true`), and for every sample one HTTP request to InfluxDB's
 * /write with one line of line protocol (no batching, no compression, awaited before the next sample).
 * Runs for `seconds` after its first successful write, then prints `BASELINE_POINTS=N BASELINE_SECONDS=S`.
 *
 *   npx tsx bench/pipeline/baseline-consumer.ts BROKERS TOPIC GROUP INFLUX_URL DB SECONDS
 */
import { Consumer } from '@platformatic/kafka';
import { sampleLine } from '../../src/metrics/line-protocol.ts';
import { decodeRecord, ENCODING_HEADER } from '../../src/transport/kafka/encoding.ts';

const [brokers, topic, group, influx, db, secondsArg] = process.argv.slice(2);
if (!brokers || !topic || !group || !influx || !db || !secondsArg) {
  throw new Error('usage: baseline-consumer.ts BROKERS TOPIC GROUP INFLUX_URL DB SECONDS');
}
const seconds = Number(secondsArg);
await fetch(`${influx}/query`, {
  method: 'POST',
  body: new URLSearchParams({ q: `CREATE DATABASE "${db}"` }),
});
const writeUrl = `${influx}/write?db=${encodeURIComponent(db)}&precision=ms`;

const consumer = new Consumer({
  clientId: 'bench-baseline',
  bootstrapBrokers: brokers.split(','),
  groupId: group,
  autocommit: true,
});
const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' });

let points = 0;
let started = 0;
let elapsed = 0;
for await (const message of stream) {
  let encoding: string | undefined;
  for (const [k, v] of message.headers) if (k?.toString() === ENCODING_HEADER) encoding = v?.toString();
  const decoded = decodeRecord(message.value as Buffer, encoding);
  if (!decoded.ok) continue;
  for (const sample of decoded.samples) {
    const line = sampleLine(sample);
    if (line === null) continue;
    const res = await fetch(writeUrl, { method: 'POST', body: line });
    await res.text();
    if (res.status !== 204) throw new Error(`write answered ${res.status}`);
    if (points === 0) started = performance.now();
    points++;
    elapsed = (performance.now() - started) / 1000;
    if (elapsed >= seconds) break;
  }
  if (elapsed >= seconds) break;
}
await stream.close().catch(() => undefined);
await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
console.log(`BASELINE_POINTS=${points} BASELINE_SECONDS=${elapsed}`);
