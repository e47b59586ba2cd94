#!/usr/bin/env node
// Runs every test of the project with Node's test runner (TypeScript through tsx) and ends with the line
// `N passed, N failed`. Usage: node scripts/test.mjs [path-filter ...]
// Test files: src/**/*.test.ts (unit, no services) and test/**/*.test.ts (integration, end to end).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  // Links are not followed: test data holds trees with links of their own (sysfs captures), some dangling.
  for (const entry of entries) {
    const name = entry.name;
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (entry.isDirectory()) out.push(...findTests(path));
    else if (entry.isFile() && name.endsWith('.test.ts')) out.push(path);
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
// pods), and so do the images' own (test/cluster-images/: each service's image run in podman, about five
// minutes in all, past the main phase's limit under load): they run after the others, one file at a time, so
// that no timed test runs beside them.
const runsAlone = (f) => ['k8s', 'cluster-images'].some((dir) => f.startsWith(`${join('test', dir)}/`));
const phases = [
  { name: 'main', files: files.filter((f) => !runsAlone(f)), concurrency: 2, timeoutMs: 300_000 },
  { name: 'cluster', files: files.filter(runsAlone), concurrency: 1, timeoutMs: 1_800_000 },
].filter((p) => p.files.length > 0);

/**
 * Runs one phase with Node's test runner; resolves to its counts, read from the spec reporter's closing lines
 * (`ℹ pass N`, `ℹ fail N`, `ℹ cancelled N`), which the child writes to its stdout as it ends. Not from a second
 * reporter's file: with --test-force-exit the child may exit before such a file is flushed.
 */
function runPhase(phase) {
  const args = [
    '--import',
    'tsx',
    '--test',
    // A file whose tests are done exits even if a handle is left open (a hung run would outlive CI's time).
    '--test-force-exit',
    `--test-concurrency=${phase.concurrency}`,
    `--test-timeout=${phase.timeoutMs}`,
    '--test-reporter=spec',
    ...phase.files,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TZ: 'UTC', FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
    });
    const summary = new SummaryReader();
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      summary.push(chunk.toString('utf8'));
    });
    child.on('close', (code, signal) => {
      summary.end();
      let { passed, failed } = summary.counts();
      if (!summary.complete()) failed = Math.max(failed, 1);
      if ((code !== 0 || signal) && failed === 0) failed = 1;
      resolve({ passed, failed });
    });
  });
}

/** Reads the spec reporter's closing counts from its output, line by line. */
class SummaryReader {
  #rest = '';
  #found = new Map();
  push(text) {
    const lines = (this.#rest + text).split('\n');
    this.#rest = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }
  end() {
    this.#line(this.#rest);
    this.#rest = '';
  }
  #line(line) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape sequences of a coloured reporter
    const m = /^\u2139 (pass|fail|cancelled) (\d+)\s*$/.exec(line.replace(/\u001b\[[0-9;]*m/g, ''));
    if (m) this.#found.set(m[1], Number(m[2]));
  }
  complete() {
    return this.#found.has('pass') && this.#found.has('fail');
  }
  counts() {
    return {
      passed: this.#found.get('pass') ?? 0,
      failed: (this.#found.get('fail') ?? 0) + (this.#found.get('cancelled') ?? 0),
    };
  }
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
