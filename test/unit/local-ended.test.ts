/**
 * A local sandbox's end: reported by bubblewrap's exit event, or — when that event never
 * comes — seen in /proc and run by the waiter. A stop once hung forever waiting on the
 * event alone. Real processes (`sleep`), no fake clock.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { ending, waitEnded } from "../../.opencode/plugin/sandbox/providers/local/ended.js";
import { ref } from "../../.opencode/plugin/sandbox/util/process-ref.js";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

function sleeper() {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  children.push(child);
  const proc = ref(child.pid!);
  expect(proc).not.toBeNull();
  return { child, proc };
}

function recorder(fail = false) {
  const calls: string[] = [];
  const errors: string[] = [];
  const e = ending(
    async (how) => {
      calls.push(how);
      if (fail) throw new Error("tidying failed");
    },
    (error) => errors.push(error.message),
  );
  return { e, calls, errors };
}

describe("a local sandbox's end", () => {
  it("the exit event ends it, once, however often it is reported", async () => {
    const { child, proc } = sleeper();
    const { e, calls } = recorder();
    child.once("exit", (_code, signal) => void e.end(`signal ${signal}`));
    child.kill("SIGKILL");
    expect(await waitEnded(e, proc, 30_000)).toBe(true);
    await e.end("again");
    expect(calls).toEqual(["signal SIGKILL"]);
  });

  it("a process gone without its exit event is ended from /proc", async () => {
    const { child, proc } = sleeper();
    const { e, calls } = recorder();
    child.kill("SIGKILL"); // nobody listens for "exit": the lost event
    expect(await waitEnded(e, proc, 30_000)).toBe(true);
    expect(calls).toEqual(["ended; its exit was not reported"]);
  });

  it("a process still running is not ended: the wait gives up at its bound", async () => {
    const { proc } = sleeper();
    const { e, calls } = recorder();
    expect(await waitEnded(e, proc, 300)).toBe(false);
    expect(calls).toEqual([]);
  });

  it("a failing clean-up still ends it, and the failure is reported", async () => {
    const { child, proc } = sleeper();
    const { e, calls, errors } = recorder(true);
    child.kill("SIGKILL");
    expect(await waitEnded(e, proc, 30_000)).toBe(true);
    await e.ended;
    expect(calls).toHaveLength(1);
    expect(errors).toEqual(["tidying failed"]);
  });
});
