import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type GpuSample, nullIdentity } from '../../metrics/sample.ts';
import { parseDcgmMetrics } from '../../sources/dcgm/dcgm-parser.ts';
import { recordToSample } from '../../sources/gpuz/gpuz-source.ts';
import { parseGpuzLog } from '../../sources/gpuz/parser.ts';
import { parseQueryGpuCsv } from '../../sources/nvidia-smi/csv.ts';
import { parseSmiXml } from '../../sources/nvidia-smi/xml/parse-xml.ts';

const SOURCES = new URL('../../sources/', import.meta.url).pathname;
const testdata = (source: string) =>
  readdirSync(join(SOURCES, source, 'testdata'))
    .filter((f) => !f.endsWith('.md') && !f.endsWith('.mjs'))
    .map((f) => join(SOURCES, source, 'testdata', f));

/**
 * Every sample the parsers read from every real capture in the sources' testdata (nvidia-smi XML and CSV,
 * dcgm-exporter, GPU-Z logs), each file's GPUs under a host of their own, a second apart from `t0`: for the
 * archive's round-trip test and bench/archive-size.
 */
export function captureSamples(t0: number): GpuSample[] {
  const samples: GpuSample[] = [];
  const add = (file: string, parsed: GpuSample[]) => {
    const host = `capture-${file.split('/').pop()}`;
    parsed.forEach((s, i) => {
      samples.push({ ...s, host, ts: t0 + i * 1000 });
    });
  };
  for (const file of testdata('nvidia-smi')) {
    const text = readFileSync(file, 'utf8');
    const options = { host: 'h', now: t0 };
    add(
      file,
      file.endsWith('.xml') ? parseSmiXml(text, options).samples : parseQueryGpuCsv(text, options).samples,
    );
  }
  for (const file of testdata('dcgm'))
    add(file, parseDcgmMetrics(readFileSync(file, 'utf8'), { host: 'h', now: t0 }).samples);
  for (const file of testdata('gpuz')) {
    const identity = {
      ...nullIdentity(),
      host: 'h',
      gpu_index: 0,
      uuid: `GPU-Z-${file.length}`,
      model: 'GPU-Z log',
    };
    add(
      file,
      parseGpuzLog(readFileSync(file)).records.map((r) => recordToSample(r, identity, t0)),
    );
  }
  return samples;
}
