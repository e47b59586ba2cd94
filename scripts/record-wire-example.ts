/**
 * Records the example record of the current wire encoding version (docs/encoding.md):
 * `src/transport/kafka/testdata/sample-v<N>.json`, a record's value as the agent writes it (from version 3
 * one tick of a simulated node of two GPUs; before, one sample). Run it once,
 * when a catalog change makes a new version; an existing example is never overwritten (it is what the decoder
 * must keep reading), unless `--force` is given while that version has not been released.
 *
 *   node --import tsx scripts/record-wire-example.ts [--force]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Simulator } from '../src/sources/sim/simulator.ts';
import { ENCODING_VERSION, encodeRecords } from '../src/transport/kafka/encoding.ts';

const file = new URL(`../src/transport/kafka/testdata/sample-v${ENCODING_VERSION}.json`, import.meta.url);
if (existsSync(file) && !process.argv.includes('--force')) {
  console.error(
    `${file.pathname} exists: a released version's example is never rewritten (--force to replace)`,
  );
  process.exit(2);
}
const samples = new Simulator({ hosts: 1, gpusPerHost: 2, seed: 1 }).sampleAll(Date.UTC(2026, 11, 1, 12));
const [record, ...more] = encodeRecords(samples);
if (record === undefined || more.length > 0) throw new Error('expected one record of the node');
writeFileSync(file, `${record.value.toString('utf8')}\n`);
console.log(`wrote ${file.pathname}`);
