/**
 * The seccomp filter every local sandbox runs under, its agent included (bubblewrap
 * loads it with `--seccomp FD` just before it execs the agent, and on its own init).
 *
 * Refused with EPERM: the families Docker's default profile denies to an unprivileged
 * container — the kernel keyring, io_uring, ptrace and reading or writing other
 * processes (process_vm_*, pidfd_getfd, kcmp, process_madvise), bpf, perf events,
 * userfaultfd, namespaces (setns; clone/unshare with a namespace flag), mounting,
 * kexec, kernel modules, reboot, swap, accounting, the kernel log, the clock, raw
 * I/O ports, file handles, fanotify, quotas, and personality beyond Docker's values.
 * clone3 gets ENOSYS: its flags sit in memory a filter cannot read, and glibc falls
 * back to clone, whose flags it can. Everything else is allowed: compilers,
 * package managers, servers and a browser run normally.
 *
 * The architecture is checked first: only the native one passes. On x86_64 that
 * refuses every 32-bit `int 0x80` call (their numbers mean other syscalls) and the
 * x32 ABI; 32-bit programs do not run in a sandbox.
 */
import { endianness } from "node:os";
import { SandboxError } from "../provider.js";
import { assemble, type Insn } from "./bpf.js";

const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
const X32_SYSCALL_BIT = 0x40000000;
/** seccomp_data: nr at 0, arch at 4, args at 16 + 8*i (the low 32 bits first: little endian). */
const NR = 0;
const ARCH = 4;
const ARG0_LOW = 16;

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_NEWTIME = 0x00000080;
/** clone's flags: CLONE_NEWTIME shares its bit with the exit signal there, and clone cannot ask for it. */
const CLONE_NAMESPACES = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
const UNSHARE_NAMESPACES = CLONE_NAMESPACES | CLONE_NEWTIME;
/** personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 with each, and the query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** Refused outright (EPERM). */
export const REFUSED_SYSCALLS = [
  "keyctl", "add_key", "request_key",
  "io_uring_setup", "io_uring_enter", "io_uring_register",
  "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "process_madvise",
  "bpf", "perf_event_open", "userfaultfd",
  "setns",
  "mount", "umount2", "pivot_root", "open_tree", "open_tree_attr", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
  "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
  "create_module", "get_kernel_syms", "query_module",
  "reboot", "swapon", "swapoff", "acct", "syslog", "vhangup",
  "settimeofday", "clock_settime", "clock_adjtime",
  "iopl", "ioperm", "uselib", "_sysctl", "lookup_dcookie", "nfsservctl",
  "quotactl", "quotactl_fd", "open_by_handle_at", "fanotify_init",
] as const;

type Syscall = (typeof REFUSED_SYSCALLS)[number] | "clone" | "clone3" | "unshare" | "personality";

interface ArchTable {
  /** AUDIT_ARCH_* as seccomp_data.arch reports it. */
  audit: number;
  /** x86_64 also answers x32 numbers (bit 30 set) under its own arch value. */
  x32: boolean;
  /** Syscall numbers; a syscall the architecture lacks is absent. */
  nr: Partial<Record<Syscall, number>>;
}

/** Numbers that are the same on every architecture (added to the kernel after 5.1). */
const UNIFIED: Partial<Record<Syscall, number>> = {
  io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
  open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433,
  clone3: 435, pidfd_getfd: 438, process_madvise: 440, mount_setattr: 442, quotactl_fd: 443, open_tree_attr: 467,
};

/** Keyed by Node's `process.arch`. */
const ARCHES: Record<string, ArchTable> = {
  x64: {
    audit: 0xc000003e,
    x32: true,
    nr: {
      ...UNIFIED,
      keyctl: 250, add_key: 248, request_key: 249,
      ptrace: 101, process_vm_readv: 310, process_vm_writev: 311, kcmp: 312,
      bpf: 321, perf_event_open: 298, userfaultfd: 323,
      clone: 56, unshare: 272, setns: 308, personality: 135,
      mount: 165, umount2: 166, pivot_root: 155,
      kexec_load: 246, kexec_file_load: 320, init_module: 175, finit_module: 313, delete_module: 176,
      create_module: 174, get_kernel_syms: 177, query_module: 178,
      reboot: 169, swapon: 167, swapoff: 168, acct: 163, syslog: 103, vhangup: 153,
      settimeofday: 164, clock_settime: 227, clock_adjtime: 305,
      iopl: 172, ioperm: 173, uselib: 134, _sysctl: 156, lookup_dcookie: 212, nfsservctl: 180,
      quotactl: 179, open_by_handle_at: 304, fanotify_init: 300,
    },
  },
  arm64: {
    audit: 0xc00000b7,
    x32: false,
    nr: {
      ...UNIFIED,
      keyctl: 219, add_key: 217, request_key: 218,
      ptrace: 117, process_vm_readv: 270, process_vm_writev: 271, kcmp: 272,
      bpf: 280, perf_event_open: 241, userfaultfd: 282,
      // The generic order: flags are clone's first argument here too.
      clone: 220, unshare: 97, setns: 268, personality: 92,
      mount: 40, umount2: 39, pivot_root: 41,
      kexec_load: 104, kexec_file_load: 294, init_module: 105, finit_module: 273, delete_module: 106,
      reboot: 142, swapon: 224, swapoff: 225, acct: 89, syslog: 116, vhangup: 58,
      settimeofday: 170, clock_settime: 112, clock_adjtime: 266,
      lookup_dcookie: 18, nfsservctl: 42,
      quotactl: 60, open_by_handle_at: 265, fanotify_init: 262,
    },
  },
};

export const SECCOMP_ARCHES = Object.keys(ARCHES);

/** The filter's program for `arch` (Node's name), as bubblewrap reads it from a descriptor. */
export function seccompFilter(arch: string = process.arch, byteOrder: string = endianness()): Buffer {
  const table = ARCHES[arch];
  if (!table || byteOrder !== "LE")
    throw new SandboxError(
      "unavailable",
      `Local sandbox unavailable: no seccomp filter for this machine (${arch}, ${byteOrder === "LE" ? "little" : "big"} endian); supported: ${SECCOMP_ARCHES.join(", ")}.`,
    );
  const nr = (name: Syscall) => table.nr[name];
  const program: Insn[] = [
    { op: "load", offset: ARCH },
    { op: "jeq", k: table.audit, then: 0, else: "refuse" },
    { op: "load", offset: NR },
  ];
  if (table.x32) program.push({ op: "jge", k: X32_SYSCALL_BIT, then: "refuse", else: 0 });
  for (const name of REFUSED_SYSCALLS) {
    const n = nr(name);
    if (n !== undefined) program.push({ op: "jeq", k: n, then: "refuse", else: 0 });
  }
  program.push(
    { op: "jeq", k: nr("clone3")!, then: "nosys", else: 0 },
    { op: "jeq", k: nr("clone")!, then: "clone", else: 0 },
    { op: "jeq", k: nr("unshare")!, then: "unshare", else: 0 },
    { op: "jeq", k: nr("personality")!, then: "personality", else: 0 },
    { op: "ret", k: SECCOMP_RET_ALLOW },
    { op: "label", name: "clone" },
    { op: "load", offset: ARG0_LOW },
    { op: "jset", k: CLONE_NAMESPACES, then: "refuse", else: "allow" },
    { op: "label", name: "unshare" },
    { op: "load", offset: ARG0_LOW },
    { op: "jset", k: UNSHARE_NAMESPACES, then: "refuse", else: "allow" },
    { op: "label", name: "personality" },
    { op: "load", offset: ARG0_LOW },
    ...PERSONALITIES.map((k): Insn => ({ op: "jeq", k, then: "allow", else: 0 })),
    { op: "label", name: "refuse" },
    { op: "ret", k: SECCOMP_RET_ERRNO | EPERM },
    { op: "label", name: "allow" },
    { op: "ret", k: SECCOMP_RET_ALLOW },
    { op: "label", name: "nosys" },
    { op: "ret", k: SECCOMP_RET_ERRNO | ENOSYS },
  );
  return assemble(program);
}
