"""What the abuse tests measure about a server process, read from /proc (Linux only):
memory (VmRSS, VmData), open file descriptors, CPU time, and how many bytes of one TCP
connection the server has actually read (as opposed to bytes still waiting in kernel
buffers, which can hold tens of MB on loopback: net.ipv4.tcp_rmem goes up to 32 MiB here).
"""

from __future__ import annotations

import fcntl
import os
import resource
import socket
import struct
import termios
from dataclasses import dataclass

MB = 1_000_000
MiB = 1 << 20


def status_field(pid: int, name: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmData, VmHWM…) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(f"{name} not in /proc/{pid}/status")


def rss(pid: int) -> int:
    return status_field(pid, "VmRSS")


def vmdata(pid: int) -> int:
    return status_field(pid, "VmData")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)


@dataclass
class MemorySample:
    rss: int
    vmdata: int

    @staticmethod
    def of(pid: int) -> "MemorySample":
        return MemorySample(rss(pid), vmdata(pid))

    def growth_since(self, before: "MemorySample") -> "MemorySample":
        return MemorySample(self.rss - before.rss, self.vmdata - before.vmdata)

    def __str__(self) -> str:
        return f"VmRSS {self.rss / MB:.1f} MB, VmData {self.vmdata / MB:.1f} MB"


def raise_nofile(want: int = 1 << 20) -> int:
    """Raises this process's RLIMIT_NOFILE soft limit to `want` (also the hard limit when
    allowed, as root); otherwise to the hard limit. Returns the soft limit now in force.
    Child processes (the servers) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------- TCP queues


def _proc_net_addr(host: str, port: int) -> str:
    """127.0.0.1:8080 as /proc/net/tcp writes it: 0100007F:1F90."""
    packed = socket.inet_aton(host)
    return f"{struct.unpack('<I', packed)[0]:08X}:{port:04X}"


def server_receive_queue(client: socket.socket) -> int | None:
    """Bytes the server's end of `client`'s connection has received but its process has not
    read yet (the rx_queue column of the server socket in /proc/net/tcp); None if gone."""
    client_host, client_port = client.getsockname()[:2]
    server_host, server_port = client.getpeername()[:2]
    local, remote = _proc_net_addr(server_host, server_port), _proc_net_addr(client_host, client_port)
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == local and cols[2] == remote:
                return int(cols[4].split(":")[1], 16)
    return None


def client_send_queue(client: socket.socket) -> int:
    """Bytes written to `client` that the peer's kernel has not acknowledged yet (SIOCOUTQ)."""
    buf = struct.pack("i", 0)
    return struct.unpack("i", fcntl.ioctl(client.fileno(), termios.TIOCOUTQ, buf))[0]


def bytes_read_by_server(client: socket.socket, sent: int) -> int:
    """Of `sent` bytes written to `client`, how many the server process has read: what
    left the client's send queue minus what still waits in the server's receive queue."""
    waiting = server_receive_queue(client)
    if waiting is None:
        return sent - client_send_queue(client)
    return sent - client_send_queue(client) - waiting
