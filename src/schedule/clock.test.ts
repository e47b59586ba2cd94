import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, realClock } from './clock.ts';

describe('FakeClock', () => {
  it('fires due timers in time order, setting now() to each timer instant', async () => {
    const clock = new FakeClock(1000);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    clock.setTimeout(() => fired.push(['c', clock.now()]), 200);
    await clock.advance(150);
    assert.deepEqual(fired, [['a', 1100]]);
    assert.equal(clock.now(), 1150);
    await clock.advance(50);
    assert.deepEqual(fired, [
      ['a', 1100],
      ['b', 1200],
      ['c', 1200],
    ]);
  });

  it('fires timers that async work sets while time moves on', async () => {
    const clock = new FakeClock(0);
    const steps: number[] = [];
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    void (async () => {
      await sleep(10);
      steps.push(clock.now());
      await sleep(10);
      steps.push(clock.now());
    })();
    await clock.advance(100);
    assert.deepEqual(steps, [10, 20]);
    assert.equal(clock.now(), 100);
  });

  it('does not fire a cleared timer', async () => {
    const clock = new FakeClock(0);
    let fired = false;
    const timer = clock.setTimeout(() => {
      fired = true;
    }, 10);
    clock.clearTimeout(timer);
    await clock.advance(20);
    assert.equal(fired, false);
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('realClock', () => {
  it('fires a timer after its delay and can clear one', async () => {
    const start = realClock.now();
    let cleared = false;
    realClock.clearTimeout(
      realClock.setTimeout(() => {
        cleared = true;
      }, 1),
    );
    await new Promise<void>((resolve) => realClock.setTimeout(resolve, 20));
    assert.ok(realClock.now() - start >= 19);
    assert.equal(cleared, false);
  });
});
