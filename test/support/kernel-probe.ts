/**
 * A Python probe of the kernel calls the local sandbox's seccomp filter refuses, run
 * inside a sandbox (and, as a control, on the host without the filter). Each call is
 * made raw (libc's syscall(), or `int 0x80` for the 32-bit ABI) with arguments that a
 * kernel without the filter answers with something other than EPERM where it can.
 * Usage: python3 kernel-probe.py <target pid>  (the process to ptrace / grab fds from).
 * Prints one JSON object: probe name → "ok" or the errno's name.
 */
export const KERNEL_PROBE_PATH = "/tmp/kernel-probe.py";

export const KERNEL_PROBE_PY = String.raw`
import ctypes, errno, json, mmap, os, platform, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
X64 = platform.machine() == "x86_64"
NR = {  # x86_64, aarch64
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "io_uring_setup": (425, 425), "ptrace": (101, 117), "process_vm_readv": (310, 270),
    "pidfd_open": (434, 434), "pidfd_getfd": (438, 438), "kcmp": (312, 272), "bpf": (321, 280),
    "perf_event_open": (298, 241), "userfaultfd": (323, 282), "unshare": (272, 97), "clone": (56, 220),
    "clone3": (435, 435), "setns": (308, 268), "mount": (165, 40), "init_module": (175, 105),
    "personality": (135, 92), "getpid": (39, 172),
}
TARGET = int(sys.argv[1]) if len(sys.argv) > 1 else -1

def raw(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(NR[name][0 if X64 else 1]), *[a if isinstance(a, (bytes, type(None))) else ctypes.c_long(a) for a in args])
    return r, ctypes.get_errno()

def raw_nr(nr):
    ctypes.set_errno(0)
    return libc.syscall(ctypes.c_long(nr)), ctypes.get_errno()

def named(r, e):
    return "ok" if r >= 0 else errno.errorcode.get(e, str(e))

def call(name, *args):
    return named(*raw(name, *args))

def clone_newuser():
    # SIGCHLD | CLONE_NEWUSER: a child that exits at once if the kernel lets it be born.
    r, e = raw("clone", 0x10000000 | 17, 0, 0, 0, 0)
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
    return named(r, e)

def pidfd_getfd():
    pidfd, _ = raw("pidfd_open", TARGET, 0)
    return call("pidfd_getfd", pidfd, 0, 0)

def personality_no_randomize():
    return call("personality", 0x0040000)

def int80(nr):
    # mov eax, nr; int 0x80; ret: the 32-bit ABI from a 64-bit process (seccomp sees AUDIT_ARCH_I386).
    if not X64:
        return "n/a"
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(b"\xb8" + nr.to_bytes(4, "little") + b"\xcd\x80\xc3")
    r = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
    return "ok" if r >= 0 else errno.errorcode.get(-r, str(r))

def isolated(probe):
    # Each probe in a child of its own: a namespace one succeeded in stays out of the next,
    # and a kernel without 32-bit syscalls answers int 0x80 with a fault (SIGSEGV).
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, probe().encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    said = os.read(read, 100).decode()
    os.close(read)
    return said if os.WIFEXITED(status) else "killed by signal %d" % os.WTERMSIG(status)

probes = {
    "keyctl": lambda: call("keyctl", 0, -3, 0),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "add_key": lambda: call("add_key", b"bogus", b"x", None, 0, -3),
    "request_key": lambda: call("request_key", b"bogus", b"x", None, 0),
    "io_uring_setup": lambda: call("io_uring_setup", 1, 0),
    "ptrace": lambda: call("ptrace", 16, TARGET, 0, 0),  # PTRACE_ATTACH
    "process_vm_readv": lambda: call("process_vm_readv", TARGET, 0, 0, 0, 0, 0),
    "pidfd_getfd": pidfd_getfd,
    "kcmp": lambda: call("kcmp", os.getpid(), TARGET, 0, 0, 0),
    "bpf": lambda: call("bpf", 0, 0, 0),
    "perf_event_open": lambda: call("perf_event_open", 0, 0, -1, -1, 0),
    "userfaultfd": lambda: call("userfaultfd", 1),  # UFFD_USER_MODE_ONLY
    "unshare(CLONE_NEWUSER)": lambda: call("unshare", 0x10000000),
    "unshare(CLONE_NEWNS)": lambda: call("unshare", 0x20000),
    "unshare(CLONE_NEWNET)": lambda: call("unshare", 0x40000000),
    "clone(CLONE_NEWUSER)": clone_newuser,
    "clone3": lambda: call("clone3", 0, 0),
    "setns": lambda: call("setns", -1, 0),
    "mount": lambda: call("mount", b"none", b"/tmp", b"tmpfs", 0, None),
    "init_module": lambda: call("init_module", 0, 0, b""),
    "personality(ADDR_NO_RANDOMIZE)": personality_no_randomize,
    "personality(query)": lambda: call("personality", 0xffffffff),
    "getpid": lambda: call("getpid"),
    "x32 getpid": lambda: named(*raw_nr(0x40000000 + 39)) if X64 else "n/a",
    "int 0x80 keyctl": lambda: int80(288),
    "int 0x80 getpid": lambda: int80(20),
}
print(json.dumps({name: isolated(probe) for name, probe in probes.items()}))
`;
