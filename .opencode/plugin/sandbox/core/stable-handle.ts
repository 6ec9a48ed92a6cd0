/**
 * A handle that outlives the sandbox behind it: a call that fails because the sandbox
 * went away (stopped, deleted) gets the current one and is tried once more there —
 * where it cannot have run, since its sandbox was not there.
 */
import { isSandboxGone, type Sandbox } from "../providers/provider.js";

export interface HandleSource {
  /** The session's sandbox now (reconnecting, starting or re-creating it as needed). */
  current(): Promise<Sandbox>;
  /** `sandbox` went away under a call: forget it. */
  gone(sandbox: Sandbox, error: Error): void;
}

export function stableHandle(initial: Sandbox, source: HandleSource): Sandbox {
  let last = initial;
  const call = async <T>(fn: (s: Sandbox) => Promise<T>): Promise<T> => {
    const first = (last = await source.current());
    try {
      return await fn(first);
    } catch (error) {
      if (!isSandboxGone(error)) throw error;
      source.gone(first, error as Error);
      return fn((last = await source.current()));
    }
  };
  return {
    get id() { return last.id; },
    get provider() { return last.provider; },
    get projectDir() { return last.projectDir; },
    exec: (command, options) => call((s) => s.exec(command, options)),
    readFile: (path) => call((s) => s.readFile(path)),
    writeFile: (path, data, options) => call((s) => s.writeFile(path, data, options)),
    stat: (path) => call((s) => s.stat(path)),
    readDir: (path) => call((s) => s.readDir(path)),
    remove: (path) => call((s) => s.remove(path)),
    startProcess: (command, options) => call((s) => s.startProcess(command, options)),
    readProcess: (id, options) => call((s) => s.readProcess(id, options)),
    stopProcess: (id) => call((s) => s.stopProcess(id)),
    previewUrl: (port) => call((s) => s.previewUrl(port)),
  };
}
