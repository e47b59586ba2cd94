import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const COMMANDS = ['up', 'simulate', 'analyze', 'runs', 'serve', 'agent', 'consume'];

/** Runs `gpumon ARGS` as a process; resolves with its exit status and stderr. */
function gpumon(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GPUMON_LOG_LEVEL: 'silent', GPUMON_SOURCE_ROCM_SMI_PATH: 'rocm-smi-absent' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('gpumon usage errors', () => {
  it('exit with status 2 and point at the help of the command, on every command', async () => {
    const results = await Promise.all(COMMANDS.map((command) => gpumon(command, '--bogus')));
    COMMANDS.forEach((command, i) => {
      const { code, stderr } = results[i] as { code: number | null; stderr: string };
      assert.equal(code, 2, `${command}: ${stderr}`);
      assert.match(stderr, /unknown option '--bogus'/, command);
      assert.ok(stderr.includes(`see 'gpumon ${command} --help'`), `${command}: ${stderr}`);
    });
  });

  it('exit with status 2 for an unknown command and a flag without its value', async () => {
    const [unknown, missing] = await Promise.all([gpumon('nosuch'), gpumon('analyze', '--date')]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown command 'nosuch'/);
    assert.ok(unknown.stderr.includes("see 'gpumon --help'"), unknown.stderr);
    assert.equal(missing.code, 2, missing.stderr);
    assert.ok(missing.stderr.includes("see 'gpumon analyze --help'"), missing.stderr);
  });

  it('exit with status 2 and the hint for a bad flag value found by the command itself', async () => {
    const { code, stderr } = await gpumon('analyze', '--date', '2026-13-01', '--archive', '/nonexistent');
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--date/);
    assert.ok(stderr.includes("see 'gpumon analyze --help'"), stderr);
  });

  it('name a flag given a bad value as it was typed, without the validator dump', async () => {
    const { code, stderr } = await gpumon('serve', '--port', '70000');
    assert.equal(code, 2, stderr);
    assert.match(stderr, /config key server\.port \(from flag --port\) must be integer 0\.\.65535/);
    assert.doesNotMatch(stderr, /"code":|too_big|\[\s*\{/);
    assert.ok(stderr.includes("see 'gpumon serve --help'"), stderr);
  });

  it('still exit 0 for --help and --version', async () => {
    const [help, version] = await Promise.all([gpumon('runs', '--help'), gpumon('--version')]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: gpumon runs/);
    assert.equal(version.code, 0, version.stderr);
  });
});

describe('gpumon with a source that is not there', () => {
  it('stops at start naming the missing rocm-smi, instead of failing every second', async () => {
    const started = Date.now();
    const dir = await mkdtemp(join(tmpdir(), 'gpumon-no-rocm-'));
    try {
      const { code, stdout, stderr } = await gpumon(
        'up',
        '--source',
        'rocm-smi',
        '--port',
        '0',
        '--archive',
        join(dir, 'archive'),
        '--config',
        '/dev/null',
      ).then((r) => r);
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /\[SOURCE_UNAVAILABLE\] rocm-smi source: cannot run rocm-smi-absent: not found on PATH/,
      );
      assert.doesNotMatch(stdout, /dashboard at/);
      assert.ok(stderr.length < 1000, `a short message, no stacks: ${stderr.length} bytes`);
      assert.ok(Date.now() - started < 30_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
