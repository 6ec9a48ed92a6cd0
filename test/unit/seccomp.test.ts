/**
 * The seccomp filter's decisions, run through a small classic-BPF interpreter (the
 * kernel's semantics for the few instructions the assembler emits). The real filter
 * is attacked from inside a sandbox in test/integration/local-kernel.test.ts.
 */
import { describe, expect, it } from "vitest";
import { assemble, BpfError } from "../../.opencode/plugin/sandbox/providers/local/bpf.js";
import { seccompFilter } from "../../.opencode/plugin/sandbox/providers/local/seccomp.js";
import { SandboxError } from "../../.opencode/plugin/sandbox/providers/provider.js";

const ALLOW = "allow";
const EPERM = "EPERM";
const ENOSYS = "ENOSYS";
const X86_64 = 0xc000003e;
const I386 = 0x40000003;
const AARCH64 = 0xc00000b7;
const ARM = 0x40000028;

/** Runs `filter` on one seccomp_data and names the outcome. */
function run(filter: Buffer, arch: number, nr: number, arg0 = 0n): string {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  data.writeBigUInt64LE(arg0, 16);
  let acc = 0;
  for (let pc = 0; pc < filter.length / 8; pc++) {
    const code = filter.readUInt16LE(pc * 8);
    const jt = filter.readUInt8(pc * 8 + 2);
    const jf = filter.readUInt8(pc * 8 + 3);
    const k = filter.readUInt32LE(pc * 8 + 4);
    if (code === 0x20) acc = data.readUInt32LE(k);
    else if (code === 0x15) pc += acc === k ? jt : jf;
    else if (code === 0x35) pc += acc >= k ? jt : jf;
    else if (code === 0x45) pc += (acc & k) !== 0 ? jt : jf;
    else if (code === 0x06) {
      if (k === 0x7fff0000) return ALLOW;
      if (k === 0x00050001) return EPERM;
      if (k === 0x00050026) return ENOSYS;
      return `ret ${k.toString(16)}`;
    } else throw new Error(`unexpected opcode ${code.toString(16)} at ${pc}`);
  }
  throw new Error("fell off the end");
}

const x64 = seccompFilter("x64", "LE");
const arm64 = seccompFilter("arm64", "LE");

describe("seccomp filter (x86_64)", () => {
  it.each([
    ["keyctl", 250, 0n, EPERM],
    ["add_key", 248, 0n, EPERM],
    ["request_key", 249, 0n, EPERM],
    ["io_uring_setup", 425, 0n, EPERM],
    ["ptrace", 101, 0n, EPERM],
    ["process_vm_readv", 310, 0n, EPERM],
    ["pidfd_getfd", 438, 0n, EPERM],
    ["bpf", 321, 0n, EPERM],
    ["perf_event_open", 298, 0n, EPERM],
    ["userfaultfd", 323, 0n, EPERM],
    ["setns", 308, 0n, EPERM],
    ["mount", 165, 0n, EPERM],
    ["fsopen", 430, 0n, EPERM],
    ["init_module", 175, 0n, EPERM],
    ["clone3", 435, 0n, ENOSYS],
    ["clone a thread", 56, 0x3d0f00n, ALLOW],
    ["clone a process (fork)", 56, 0x1200011n, ALLOW],
    ["clone CLONE_NEWUSER", 56, 0x10000000n, EPERM],
    ["clone CLONE_NEWNET|SIGCHLD", 56, 0x40000011n, EPERM],
    ["clone CLONE_NEWNS", 56, 0x20000n, EPERM],
    ["unshare CLONE_FS", 272, 0x200n, ALLOW],
    ["unshare CLONE_NEWUSER", 272, 0x10000000n, EPERM],
    ["unshare CLONE_NEWTIME", 272, 0x80n, EPERM],
    ["unshare CLONE_NEWPID, high bits set", 272, 0xffffffff20000000n, EPERM],
    ["personality(PER_LINUX)", 135, 0n, ALLOW],
    ["personality query", 135, 0xffffffffn, ALLOW],
    ["personality(ADDR_NO_RANDOMIZE)", 135, 0x40000n, EPERM],
    ["personality(READ_IMPLIES_EXEC)", 135, 0x400000n, EPERM],
    ["read", 0, 0n, ALLOW],
    ["getpid", 39, 0n, ALLOW],
    ["execve", 59, 0n, ALLOW],
    ["seccomp (a browser adds its own filters)", 317, 0n, ALLOW],
    ["x32 getpid", 0x40000000 + 39, 0n, EPERM],
  ])("%s → %s", (_name, nr, arg0, expected) => {
    expect(run(x64, X86_64, nr, arg0)).toBe(expected);
  });

  it.each([
    ["keyctl (i386 288)", 288],
    ["getpid (i386 20)", 20],
    ["a number allowed natively (i386 39 is mkdir)", 39],
  ])("every 32-bit int 0x80 call is refused: %s", (_name, nr) => {
    expect(run(x64, I386, nr)).toBe(EPERM);
  });
});

describe("seccomp filter (aarch64)", () => {
  it.each([
    ["keyctl", 219, 0n, EPERM],
    ["ptrace", 117, 0n, EPERM],
    ["bpf", 280, 0n, EPERM],
    ["mount", 40, 0n, EPERM],
    ["io_uring_enter", 426, 0n, EPERM],
    ["clone3", 435, 0n, ENOSYS],
    ["clone CLONE_NEWUSER", 220, 0x10000000n, EPERM],
    ["clone a thread", 220, 0x3d0f00n, ALLOW],
    ["unshare CLONE_NEWNS", 97, 0x20000n, EPERM],
    ["getpid", 172, 0n, ALLOW],
    ["openat", 56, 0n, ALLOW],
    // x86_64's keyctl number means something else here (fadvise64) and stays allowed.
    ["fadvise64 (223)", 223, 0n, ALLOW],
    ["bit 30 carries no meaning on aarch64 (no x32): an unknown number passes to the kernel", 0x40000000 + 172, 0n, ALLOW],
  ])("%s → %s", (_name, nr, arg0, expected) => {
    expect(run(arm64, AARCH64, nr, arg0)).toBe(expected);
  });

  it("32-bit arm (compat) calls are refused", () => {
    expect(run(arm64, ARM, 20)).toBe(EPERM);
  });
});

describe("seccomp filter: unsupported machines fail closed", () => {
  it.each([
    ["ia32", "LE"],
    ["riscv64", "LE"],
    ["ppc64", "BE"],
    ["x64", "BE"],
  ])("%s (%s): a typed error naming the machine", (arch, order) => {
    let error: unknown;
    try {
      seccompFilter(arch, order);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SandboxError);
    expect((error as SandboxError).kind).toBe("unavailable");
    expect((error as SandboxError).message).toContain(arch);
    expect((error as SandboxError).message).toMatch(/supported: x64, arm64/);
  });
});

describe("BPF assembler", () => {
  it.each([
    ["an unknown label", [{ op: "jeq", k: 1, then: "nowhere", else: 0 }, { op: "ret", k: 0 }], /unknown label nowhere/],
    ["a label too far for an 8-bit offset", [{ op: "jeq", k: 1, then: "far", else: 0 }, ...Array(300).fill({ op: "ret", k: 0 }), { op: "label", name: "far" }, { op: "ret", k: 0 }], /out of reach/],
    ["a backward jump", [{ op: "label", name: "back" }, { op: "ret", k: 0 }, { op: "jeq", k: 1, then: "back", else: 0 }, { op: "ret", k: 0 }], /out of reach/],
    ["no final return", [{ op: "load", offset: 0 }], /must end with a return/],
    ["an empty program", [], /1 to 4096/],
  ] as const)("refuses %s", (_name, program, message) => {
    expect(() => assemble(program as never)).toThrow(BpfError);
    expect(() => assemble(program as never)).toThrow(message);
  });

  it("encodes struct sock_filter: code, jt, jf, k (little endian)", () => {
    const out = assemble([{ op: "load", offset: 4 }, { op: "jeq", k: 0xc000003e, then: 0, else: "x" }, { op: "ret", k: 0x7fff0000 }, { op: "label", name: "x" }, { op: "ret", k: 0x50001 }]);
    expect(out.toString("hex")).toBe("2000000004000000" + "150000013e0000c0" + "060000000000ff7f" + "0600000001000500");
  });
});
