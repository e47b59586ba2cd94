#!/usr/bin/env node
// A fake nvidia-smi for the tests of the nvidia-smi source: it answers -L, -q -x, --query-compute-apps and
// --query-gpu=... --format=csv,noheader,nounits -lms N from real captures, and can be told to misbehave.
// Environment:
//   FAKE_SMI_CSV      a capture holding a --query-gpu table with a header (values are taken from its last row)
//   FAKE_SMI_GPUS     how many GPUs to pretend (copies of that row, index and uuid changed; default 1)
//   FAKE_SMI_XML      the file to print for -q -x (without it, -q -x fails)
//   FAKE_SMI_LIST     the file to print for -L (without it, one line per GPU of FAKE_SMI_CSV)
//   FAKE_SMI_REJECT   comma-separated fields this "driver" does not know
//   FAKE_SMI_DIE_AFTER / FAKE_SMI_STALL_AFTER   exit(1) / stop printing after N ticks
//   FAKE_SMI_BAD_STARTS  misbehave only on the first N starts of the loop (default: always)
//   FAKE_SMI_STATE    a folder: each loop start appends its pid to `starts` there
//   FAKE_SMI_VALUES   JSON object: --query-gpu fields whose printed value replaces the capture's
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
const args = process.argv.slice(2);
const stripUnit = (name) => name.replace(/\s*\[[^\]]*\]$/, '').trim();
const ALIASES = { 'clocks.sm': 'clocks.current.sm', 'clocks.gr': 'clocks.current.graphics', 'clocks.mem': 'clocks.current.memory' };

function lastTable(text, test) {
  const lines = text.split('\n');
  let found = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('#') || !test(line)) continue;
    const rows = [];
    for (let j = i + 1; j < lines.length && lines[j].trim() !== '' && !lines[j].startsWith('#'); j++) rows.push(lines[j]);
    if (rows.length > 0) found = { header: line.split(',').map((c) => stripUnit(c)), rows: rows.map((r) => r.split(',').map((c) => c.trim())) };
  }
  return found;
}

function gpus() {
  const table = lastTable(readFileSync(env.FAKE_SMI_CSV, 'utf8'), (l) => /(^|, )uuid(,|$)/.test(l.replace(/ \[[^\]]*\]/g, '')));
  const row = table.rows[table.rows.length - 1];
  const byField = new Map(table.header.map((h, i) => [h.replace(/^clocks_throttle_reasons\./, 'clocks_event_reasons.'), row[i]]));
  for (const [field, value] of Object.entries(JSON.parse(env.FAKE_SMI_VALUES ?? '{}'))) byField.set(field, value);
  const count = Number(env.FAKE_SMI_GPUS ?? 1);
  return Array.from({ length: count }, (_, g) => {
    const gpu = new Map(byField);
    gpu.set('index', String(g));
    gpu.set('uuid', `${byField.get('uuid').slice(0, -1)}${g}`);
    return gpu;
  });
}

const nounits = (value) => value.replace(/^(-?[\d.]+) (W|MiB|%|MHz|us)$/, '$1');

if (args[0] === '-L' && env.FAKE_SMI_LIST) {
  process.stdout.write(readFileSync(env.FAKE_SMI_LIST));
} else if (args[0] === '-L') {
  for (const gpu of gpus()) console.log(`GPU ${gpu.get('index')}: ${gpu.get('name')} (UUID: ${gpu.get('uuid')})`);
} else if (args[0] === '-q' && args[1] === '-x') {
  if (!env.FAKE_SMI_XML) {
    console.log('Unable to determine the device handle');
    process.exit(15);
  }
  process.stdout.write(readFileSync(env.FAKE_SMI_XML));
} else if (args[0]?.startsWith('--query-compute-apps=')) {
  const fields = args[0].slice('--query-compute-apps='.length).split(',');
  const table = lastTable(readFileSync(env.FAKE_SMI_CSV, 'utf8'), (l) => l.startsWith('timestamp, gpu_name') && l.includes('pid'));
  for (const row of table?.rows ?? []) {
    console.log(fields.map((f) => nounits(row[table.header.indexOf(f)] ?? '[N/A]')).join(', '));
  }
} else if (args[0]?.startsWith('--query-gpu=')) {
  const fields = args[0].slice('--query-gpu='.length).split(',');
  const unknown = new Set((env.FAKE_SMI_REJECT ?? '').split(',').filter(Boolean));
  const bad = fields.find((f) => unknown.has(f));
  if (bad) {
    console.log(`Field "${bad}" is not a valid field to query.`);
    console.log('');
    console.log("Run 'nvidia-smi --help-query-gpu' for more information.");
    process.exit(2);
  }
  let starts = 1;
  if (env.FAKE_SMI_STATE) {
    const file = join(env.FAKE_SMI_STATE, 'starts');
    appendFileSync(file, `${process.pid}\n`);
    starts = readFileSync(file, 'utf8').trim().split('\n').length;
  }
  const misbehave = starts <= Number(env.FAKE_SMI_BAD_STARTS ?? Number.POSITIVE_INFINITY);
  const every = Number(args[args.indexOf('-lms') + 1] ?? 1000);
  const all = gpus();
  let ticks = 0;
  const tick = () => {
    if (misbehave && env.FAKE_SMI_DIE_AFTER && ticks >= Number(env.FAKE_SMI_DIE_AFTER)) process.exit(1);
    if (misbehave && env.FAKE_SMI_STALL_AFTER && ticks >= Number(env.FAKE_SMI_STALL_AFTER)) return;
    for (const gpu of all) {
      const value = (f) => gpu.get(ALIASES[f] ?? f.replace(/^clocks_throttle_reasons\./, 'clocks_event_reasons.'));
      console.log(fields.map((f) => nounits(value(f) ?? '[N/A]')).join(', '));
    }
    ticks++;
  };
  tick();
  setInterval(tick, every);
} else {
  console.log(`fake nvidia-smi: unknown arguments ${args.join(' ')}`);
  process.exit(2);
}
