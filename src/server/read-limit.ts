/** Why `ReadLimit.run` refused a task: every slot is taken and the queue is full. */
export class ReadLimitFull extends Error {
  constructor(
    readonly running: number,
    readonly queued: number,
  ) {
    super(`${running} reads running and ${queued} waiting: the server is busy`);
    this.name = 'ReadLimitFull';
  }
}

/**
 * At most `maxRunning` tasks at a time, and at most `maxQueued` waiting for a turn, first come first served;
 * `run` refuses a task beyond both at once (ReadLimitFull), so a flood of requests costs the server a queue
 * entry each, not a query each. A task whose caller gives up (its signal aborts) while waiting leaves the queue.
 */
export class ReadLimit {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    readonly maxRunning: number,
    readonly maxQueued: number,
  ) {
    if (!Number.isSafeInteger(maxRunning) || maxRunning < 1) {
      throw new RangeError(`maxRunning must be a whole number >= 1, got ${maxRunning}`);
    }
    if (!Number.isSafeInteger(maxQueued) || maxQueued < 0) {
      throw new RangeError(`maxQueued must be a whole number >= 0, got ${maxQueued}`);
    }
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.running < this.maxRunning) this.running++;
    else await this.waitForTurn(signal);
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next)
        next(); // the slot passes to the next task as it is
      else this.running--;
    }
  }

  stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  private waitForTurn(signal: AbortSignal | undefined): Promise<void> {
    if (this.queue.length >= this.maxQueued) throw new ReadLimitFull(this.running, this.queue.length);
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = this.queue.indexOf(turn);
        if (at >= 0) this.queue.splice(at, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(turn);
    });
  }
}
