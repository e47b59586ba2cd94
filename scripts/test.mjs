#!/usr/bin/env node
// Runs every test of the project with Node's test runner (TypeScript through tsx) and ends with the line
// `N passed, N failed`. Usage: node scripts/test.mjs [path-filter ...]
// Test files: src/**/*.test.ts (unit, no services) and test/**/*.test.ts (integration, end to end).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = [...findTests(join(root, 'src')), ...findTests(join(root, 'test'))]
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

mkdirSync(join(root, '.tmp'), { recursive: true });

// The tests on the Kubernetes cluster (test/k8s/) load the whole machine (a dozen JVMs and Node processes in
// pods): they run after the others, one file at a time, so that no timed test runs beside them.
const onCluster = (f) => f.startsWith(join('test', 'k8s') + '/');
const phases = [
  { name: 'main', files: files.filter((f) => !onCluster(f)), concurrency: 2, timeoutMs: 300_000 },
  { name: 'cluster', files: files.filter(onCluster), concurrency: 1, timeoutMs: 1_800_000 },
].filter((p) => p.files.length > 0);

/** Runs one phase with Node's test runner; resolves to its counts, read from its TAP file. */
function runPhase(phase) {
  const tapFile = join(root, '.tmp', `test-results-${phase.name}.tap`);
  const args = [
    '--import',
    'tsx',
    '--test',
    // A file whose tests are done exits even if a handle is left open (a hung run would outlive CI's time).
    '--test-force-exit',
    `--test-concurrency=${phase.concurrency}`,
    `--test-timeout=${phase.timeoutMs}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...phase.files,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, TZ: 'UTC' },
    });
    child.on('exit', (code, signal) => {
      let passed = 0;
      let failed = 0;
      try {
        const tap = readFileSync(tapFile, 'utf8');
        passed = Number(/^# pass (\d+)$/m.exec(tap)?.[1] ?? 0);
        failed = Number(/^# fail (\d+)$/m.exec(tap)?.[1] ?? 0);
        failed += Number(/^# cancelled (\d+)$/m.exec(tap)?.[1] ?? 0);
      } catch {
        failed = Math.max(failed, 1);
      }
      if ((code !== 0 || signal) && failed === 0) failed = 1;
      resolve({ passed, failed });
    });
  });
}

let passed = 0;
let failed = 0;
for (const phase of phases) {
  if (phases.length > 1) console.log(`# ${phase.name} phase: ${phase.files.length} test file(s)`);
  const counts = await runPhase(phase);
  passed += counts.passed;
  failed += counts.failed;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
