import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GpumonError } from '../errors.ts';
import { Sampler } from '../pipeline/sampler.ts';
import { capturingLogger } from '../testing/logger.ts';
import { ReadFailureLog } from './read-failures.ts';

const MINUTE = 60_000;

function failingSource() {
  let now = 1_700_000_000_000;
  const { logger, lines } = capturingLogger();
  const log = new ReadFailureLog({ source: 'rocm-smi', logger, intervalMs: 5 * MINUTE, now: () => now });
  const error = new GpumonError('SOURCE_READ_FAILED', 'rocm-smi source: cannot run rocm-smi', {
    cause: new Error('spawn rocm-smi ENOENT'),
  });
  /** One failed read a second for `seconds`. */
  const failFor = (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      log.failed(error);
      now += 1000;
    }
  };
  return { log, lines, failFor };
}

describe('the log of failed reads', () => {
  it('logs the first failure once, with its message and no stack', () => {
    const { lines, failFor } = failingSource();
    failFor(60);
    assert.equal(lines.length, 1);
    assert.match(lines[0]?.msg ?? '', /^source rocm-smi: read failed; further failures are counted/);
    assert.equal(
      lines[0]?.err,
      '[SOURCE_READ_FAILED] rocm-smi source: cannot run rocm-smi: caused by: spawn rocm-smi ENOENT',
    );
    assert.doesNotMatch(JSON.stringify(lines), /\n\s+at /);
  });

  it('then reports a count every five minutes while the failures go on', () => {
    const { lines, failFor } = failingSource();
    failFor(16 * 60);
    assert.equal(lines.length, 4, lines.map((l) => l.msg).join('\n'));
    const counts = lines.slice(1).map((l) => l.failures);
    assert.deepEqual(counts, [300, 300, 300]);
    assert.match(lines[1]?.msg ?? '', /still failing, 300 more failed reads in the last 300 s/);
    assert.equal(lines[3]?.failingForSeconds, 900);
  });

  it('says once when reads succeed again, and logs the next failure afresh', () => {
    const { log, lines, failFor } = failingSource();
    failFor(10);
    log.succeeded();
    log.succeeded();
    assert.equal(lines.length, 2);
    assert.match(lines[1]?.msg ?? '', /reads again after 10 failed reads/);
    assert.equal(log.failing(), 0);
    failFor(1);
    assert.equal(lines.length, 3);
    assert.match(lines[2]?.msg ?? '', /read failed/);
  });

  it("keeps a sampler's log of a source failing every second for ten minutes to three lines", async () => {
    const { logger, lines } = capturingLogger();
    let now = 1_700_000_000_000;
    const source = {
      name: 'rocm-smi',
      open: async () => {},
      read: async () => {
        throw new GpumonError('SOURCE_READ_FAILED', 'rocm-smi source: cannot run rocm-smi', {
          cause: new Error('spawn rocm-smi ENOENT'),
        });
      },
      health: () => ({
        source: 'rocm-smi',
        lastSuccessMs: null,
        lastReadDurationMs: null,
        errors: {},
        notice: null,
      }),
      close: async () => {},
    };
    const transport = { publish: async () => {}, subscribe: () => {}, close: async () => {} };
    const sampler = new Sampler(source, transport, 1000, logger, () => now);
    for (let i = 0; i <= 600; i++) {
      await sampler.tick(now);
      now += 1000;
    }
    assert.equal(sampler.failedReadCount(), 601);
    assert.deepEqual(
      lines.map((l) => l.msg.replace(/ \d+ /g, ' N ')),
      [
        'source rocm-smi: read failed; further failures are counted and reported every N s',
        'source rocm-smi: still failing, N more failed reads in the last N s',
        'source rocm-smi: still failing, N more failed reads in the last N s',
      ],
    );
    assert.ok(JSON.stringify(lines).length < 2000, 'no stacks');
  });
});
