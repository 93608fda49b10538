"""A private network namespace with loopback only, shared by the service and its dependencies.

A small holder process (``unshare --net``, ``unshare(1)``; with ``--user --map-root-user`` when not root)
brings ``lo`` up and sets ``net.ipv4.ip_unprivileged_port_start`` to 0 in the namespace, as Docker does
for its containers, so that a service binds port 80 without any capability; the namespace lives as long
as the holder. Programs join it with ``nsenter(1)``: the sandbox, the dependencies, and the prober that
performs health checks from inside (the host cannot reach the namespace's loopback).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from deploycheck.errors import UsageError

POD_IP = "10.89.0.2"
# Runs in the new namespace: lo up (SIOCGIFFLAGS / SIOCSIFFLAGS, netdevice(7)), POD_IP on the alias lo:0
# (SIOCSIFADDR), privileged ports open to all, then "ready"; exits when its standard input closes
# (deploycheck ended, however).
_HOLDER = r"""
import fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH14s", fcntl.ioctl(s, 0x8913, struct.pack("16sH14s", b"lo", 0, b"")))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 1, b""))
fcntl.ioctl(s, 0x8916, struct.pack("16sH2s4s8s", b"lo:0", socket.AF_INET, b"", socket.inet_aton(sys.argv[1]), b""))
with open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w") as f:
    f.write("0")
print("ready", flush=True)
sys.stdin.read()
"""


class Network:
    """The namespace: ``pid`` of its holder, ``enter`` the argv prefix that runs a program in it (with the
    caller's credentials), ``listening()`` its listening TCP sockets. ``close()`` ends it. Raises
    UsageError when ``unshare`` or ``nsenter`` is missing or namespaces are refused."""

    def __init__(self) -> None:
        for tool in ("unshare", "nsenter"):
            if shutil.which(tool) is None:
                raise UsageError(f"`{tool}` is not installed (Debian package util-linux)")
        self.rootless = os.geteuid() != 0
        user = ["--user", "--map-root-user"] if self.rootless else []
        self.proc = subprocess.Popen(["unshare", *user, "--net", "--", sys.executable, "-I", "-S", "-c", _HOLDER,
                                      POD_IP],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            err = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
            self.close()
            raise UsageError("cannot make a private network namespace ("
                             f"{err[-1] if err else 'unshare failed'})")
        self.pid = self.proc.pid
        self.enter = ["nsenter", f"--target={self.pid}", "--net"]
        if self.rootless:
            self.enter += ["--user", "--preserve-credentials"]

    def listening(self) -> list[tuple[str, int]]:
        """``(address, port)`` of every TCP socket listening in the namespace (``/proc/PID/net/tcp`` and
        ``tcp6``, proc(5)): addresses as ``127.0.0.1``, ``0.0.0.0``, ``::``, ``::1``."""
        out = []
        for name, v6 in (("tcp", False), ("tcp6", True)):
            try:
                with open(f"/proc/{self.pid}/net/{name}") as f:
                    lines = f.read().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) < 4 or fields[3] != "0A":  # TCP_LISTEN
                    continue
                address, _, port = fields[1].partition(":")
                out.append((_address(address, v6), int(port, 16)))
        return sorted(set(out))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


def _address(hexed: str, v6: bool) -> str:
    """An address of ``/proc/net/tcp``: 32-bit words in host (little-endian) byte order."""
    import ipaddress

    raw = bytes.fromhex(hexed)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    addr = ipaddress.ip_address(words)
    if v6 and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)
