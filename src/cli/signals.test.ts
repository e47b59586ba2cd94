import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const HUNG_STOP = fileURLToPath(new URL('./testdata/hung-stop.ts', import.meta.url));

/** Starts the hung-stop command; resolves once it printed `line`. */
async function started() {
  const child = spawn(process.execPath, ['--import', 'tsx', HUNG_STOP], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const printed = async (line: string) => {
    const until = Date.now() + 20_000;
    while (!out.includes(line)) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`no "${line}": ${out} ${err}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await printed('running');
  return { child, printed, stderr: () => err };
}

describe('a command that is stopping', () => {
  for (const [first, second] of [
    ['SIGINT', 'SIGINT'],
    ['SIGINT', 'SIGTERM'],
    ['SIGTERM', 'SIGINT'],
  ] as const) {
    it(`exits at once with status 130 on ${second} after ${first}, saying what it gives up`, async () => {
      const { child, printed, stderr } = await started();
      const exited = once(child, 'exit');
      child.kill(first);
      await printed(`stopping after ${first}`);
      child.kill(second);
      const [code] = await exited;
      assert.equal(code, 130);
      assert.match(stderr(), /hung-stop: stopping now/);
    });
  }
});
