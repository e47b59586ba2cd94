/**
 * Time as the scheduler sees it: the current instant and one-shot timers. Code that waits goes through a
 * `Clock`, so tests drive hours of schedule in milliseconds with a `FakeClock`.
 *
 * Contract: `setTimeout(callback, ms)` calls `callback` once, no earlier than `ms` after the call (by `now()`),
 * unless `clearTimeout` cancels it first. Timers due at the same instant fire in the order they were set.
 * `clearTimeout` of a timer that already fired or was cleared does nothing.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
}

declare const timerBrand: unique symbol;

/** An opaque handle of a pending timer. */
export interface Timer {
  readonly [timerBrand]: true;
}

/** Node's timers accept at most 2^31 - 1 ms (about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface RealTimer {
  handle: NodeJS.Timeout | undefined;
}

/** The wall clock and Node's timers. A timer keeps the process alive while it is pending. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer: RealTimer = { handle: undefined };
    const due = Date.now() + Math.max(0, ms);
    const arm = (wait: number) => {
      timer.handle = setTimeout(
        () => {
          const left = due - Date.now();
          if (left > 0 && wait === MAX_TIMER_MS) arm(Math.min(left, MAX_TIMER_MS));
          else callback();
        },
        Math.max(0, wait),
      );
    };
    arm(Math.min(Math.max(0, ms), MAX_TIMER_MS));
    return timer as unknown as Timer;
  },
  clearTimeout(timer) {
    if (timer) clearTimeout((timer as unknown as RealTimer).handle);
  },
};

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/**
 * A clock for tests: time stands still until `advance` moves it. `advance` fires the due timers one by one in
 * time order, setting `now()` to each timer's instant, and lets pending promise callbacks run after each one,
 * so an async job started by a timer can reach its next `await` (and set its next timer) before time moves on.
 * It does not wait for real I/O.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<FakeTimer>();

  constructor(start: number | Date | string = '2025-01-01T00:00:00Z') {
    this.#now = typeof start === 'number' ? start : new Date(start).getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const timer: FakeTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback };
    this.#timers.add(timer);
    return timer as unknown as Timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    if (timer) this.#timers.delete(timer as unknown as FakeTimer);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (including ones set meanwhile). */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#now + ms);
  }

  /** Moves time forward to `time` (epoch ms, a Date or an ISO string); never backwards. */
  async advanceTo(time: number | Date | string): Promise<void> {
    const target = typeof time === 'number' ? time : new Date(time).getTime();
    await settle();
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > target) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      await settle();
    }
    this.#now = Math.max(this.#now, target);
  }

  #earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.#timers) {
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}

/** Lets queued promise callbacks (and what they queue in turn) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
