/**
 * In-process serialisation per key: calls with the same key run one after another,
 * whatever became of the one before. Tools use it so two parallel edits of one file
 * do not lose each other's change (the built-in edit holds a semaphore per path); the
 * file locks use it so a process's own callers queue here and only one of them at a
 * time contends for the lock file with other processes.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
