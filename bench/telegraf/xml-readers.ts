/**
 * The XML readers side by side (docs/decisions/0011): CPU per pass over every XML capture of the nvidia-smi
 * testdata for fast-xml-parser with its validator (gpumon's reader before), fast-xml-parser without it, and
 * gpumon's tokenizer (src/sources/nvidia-smi/xml/tree.ts), interleaved, each as a ratio to the tokenizer.
 *
 *   node --import tsx bench/telegraf/xml-readers.ts [--passes 100] [--rounds 3]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseXmlTree } from '../../src/sources/nvidia-smi/xml/tree.ts';

const { values } = parseArgs({
  options: { passes: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' } },
});
const passes = Number(values.passes);
const rounds = Number(values.rounds);
const dir = join(import.meta.dirname, '../../src/sources/nvidia-smi/testdata');
const docs = readdirSync(dir)
  .filter((f) => f.endsWith('.xml'))
  .map((f) => readFileSync(join(dir, f), 'utf8'));
const fxp = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  trimValues: true,
  processEntities: false,
});

const readers: Record<string, (doc: string) => unknown> = {
  'fast-xml-parser validate + parse': (doc) => XMLValidator.validate(doc) && fxp.parse(doc),
  'fast-xml-parser parse only': (doc) => fxp.parse(doc),
  'tree.ts (gpumon)': (doc) => parseXmlTree(doc),
};

/** CPU microseconds (user + system) per pass over every capture. */
function cpuPerPass(read: (doc: string) => unknown): number {
  for (let w = 0; w < Math.max(5, passes / 5); w++) for (const doc of docs) read(doc);
  const start = process.cpuUsage();
  for (let p = 0; p < passes; p++) for (const doc of docs) read(doc);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / passes;
}

const samples = new Map<string, number[]>(Object.keys(readers).map((name) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, read] of Object.entries(readers)) samples.get(name)?.push(cpuPerPass(read));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const base = median(samples.get('tree.ts (gpumon)') ?? []);
console.log(
  `${docs.length} captures, ${passes} passes x ${rounds} interleaved rounds; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
);
for (const [name, xs] of samples) {
  const m = median(xs);
  console.log(
    `${name.padEnd(34)} ${m.toFixed(0).padStart(8)} us/pass  (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})  ${(m / base).toFixed(2)}x the tokenizer`,
  );
}
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
