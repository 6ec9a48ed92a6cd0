import { describe, expect, it } from "vitest";
import {
  hostToSandbox,
  InvalidPathError,
  isInside,
  resolveToolPath,
  sandboxToHost,
} from "../../.opencode/plugin/sandbox/tools/paths.js";

const HOST = "/home/u/proj";
const SBX = "/workspace/proj";

describe("resolveToolPath", () => {
  it.each([
    // [input, mode, display (what the built-in prints), sandbox path, inProject]
    ["/home/u/proj/src/a.ts", "resolve", "/home/u/proj/src/a.ts", "/workspace/proj/src/a.ts", true],
    ["/home/u/proj", "resolve", "/home/u/proj", "/workspace/proj", true],
    ["/home/u/proj/", "resolve", "/home/u/proj/", "/workspace/proj", true],
    ["src/a.ts", "resolve", "/home/u/proj/src/a.ts", "/workspace/proj/src/a.ts", true],
    ["./src/../b.ts", "resolve", "/home/u/proj/b.ts", "/workspace/proj/b.ts", true],
    ["src/dir/", "join", "/home/u/proj/src/dir/", "/workspace/proj/src/dir", true],
    // absolute input is printed verbatim (like the built-in) but mapped normalised
    ["/home/u/proj/x/../a.txt", "resolve", "/home/u/proj/x/../a.txt", "/workspace/proj/a.txt", true],
    // escapes leave the project: the sandbox's own path, never the host's
    ["/home/u/proj/../../../etc/passwd", "resolve", "/home/u/proj/../../../etc/passwd", "/etc/passwd", false],
    ["../../../etc/passwd", "resolve", "/etc/passwd", "/etc/passwd", false],
    ["../proj-other/a", "resolve", "/home/u/proj-other/a", "/home/u/proj-other/a", false],
    ["/tmp/x", "resolve", "/tmp/x", "/tmp/x", false],
    ["/workspace/proj/a.txt", "resolve", "/workspace/proj/a.txt", "/workspace/proj/a.txt", false],
    // a sibling whose name starts with the project's is not inside it
    ["/home/u/projX/a", "resolve", "/home/u/projX/a", "/home/u/projX/a", false],
    // shell metacharacters are just bytes of a name
    ["/home/u/proj/$(rm -rf ~) 'q' `x`;|&.txt", "resolve", "/home/u/proj/$(rm -rf ~) 'q' `x`;|&.txt", "/workspace/proj/$(rm -rf ~) 'q' `x`;|&.txt", true],
  ] as const)("%s (%s)", (input, mode, display, sandbox, inProject) => {
    const p = resolveToolPath(input, HOST, SBX, mode);
    expect(p.display).toBe(display);
    expect(p.sandbox).toBe(sandbox);
    expect(p.inProject).toBe(inProject);
  });

  it("rejects NUL bytes", () => {
    expect(() => resolveToolPath("/home/u/proj/a\0b", HOST, SBX)).toThrow(InvalidPathError);
    expect(() => resolveToolPath("a\0", HOST, SBX)).toThrow(/NUL/);
  });
});

describe("hostToSandbox / sandboxToHost / isInside", () => {
  it.each([
    ["/home/u/proj/a/b", "/workspace/proj/a/b"],
    ["/home/u/proj", "/workspace/proj"],
    ["/opt/x", "/opt/x"],
  ])("%s ⇄ %s", (host, sbx) => {
    expect(hostToSandbox(host, HOST, SBX)).toBe(sbx);
    if (host.startsWith(HOST)) expect(sandboxToHost(sbx, HOST, SBX)).toBe(host);
  });

  it.each([
    ["/a", "/a", true],
    ["/a", "/a/b", true],
    ["/a", "/ab", false],
    ["/a", "/a/../b", false],
    ["/a/", "/a/..x", true],
  ])("isInside(%s, %s) = %s", (parent, child, expected) => {
    expect(isInside(parent, child)).toBe(expected);
  });
});
