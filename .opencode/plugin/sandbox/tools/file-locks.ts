/**
 * Per-file serialisation: the built-in edit holds a one-permit semaphore per resolved
 * path, so two parallel edits of one file do not lose each other's change. One set
 * per plugin instance, shared by the tools that write.
 */
export class FileLocks {
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
