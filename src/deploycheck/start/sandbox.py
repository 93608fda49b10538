"""Running a program of an image in a bubblewrap sandbox (``bwrap(1)``), as a container runtime would run
it, without a daemon and without host root.

What the program gets (OCI runtime-spec ``config.md`` and the Docker defaults it describes): the image's
root at ``/``, writable as a container's is: Docker and Kubernetes give a container a copy-on-write layer
over the image, discarded with the container. Here that layer is a kernel overlayfs (``overlayfs`` in the
kernel's filesystems documentation; unprivileged in a user namespace since Linux 5.11, its extended
attributes in the ``user.`` namespace: ``userxattr``) whose upper directory lives on a tmpfs of the
sandbox's own mount namespace: a write lands there, never in the cached tree nor anywhere on the host, and
is gone when the sandbox ends. bwrap 0.8 (Debian 12) has no overlay option of its own, so a small helper
(``_LAYER``) mounts it in a new mount namespace and then runs bwrap there. With ``read_only`` (Kubernetes'
``securityContext.readOnlyRootFilesystem: true``, ``docker run --read-only``) the root, ``/tmp`` included,
is read-only as the platform makes it, and only the volumes are writable. Then a tmpfs at ``/tmp`` (unless
read-only) and at each volume the image config declares or the manifest mounts; the private layer and
each tmpfs hold at most the memory limit (tmpfs pages are the host's memory, which no process's is counted
in); ``/proc``; a
minimal ``/dev``; a new session, PID, IPC, UTS and user namespace; the image's ``User`` (``name``,
``uid``, ``uid:gid``, resolved in the image's ``/etc/passwd`` and ``/etc/group``; none: root) inside the
user namespace, mapped to an unprivileged host user (the caller, or SANDBOX_UID when deploycheck runs as
root); as root, Docker's default capabilities, inside its namespaces only; the environment given (the
image's ``Env``, then the deployment's), ``HOME`` and ``PATH`` defaulted as Docker does; the image's
``WorkingDir``; the network namespace of ``network.Network``, with ``/etc/hosts`` naming loopback.

Limits (``setrlimit(2)``, inherited by every process of the sandbox): address space (``RLIMIT_AS``),
processes (``RLIMIT_NPROC``, counted per user: the sandbox's own), open files (``RLIMIT_NOFILE``). Wall
time and the memory of the whole process tree are watched by the caller (``observe``). The arguments,
environment included, reach bwrap through a memory file (``--args``), never the host's process list.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass

from deploycheck.errors import UsageError
from deploycheck.start import inside

SANDBOX_UID = int(os.environ.get("DEPLOYCHECK_SANDBOX_UID", "2000000000"))  # no account uses it
MAX_ID = 2**32 - 2  # the largest uid or gid; 2**32 - 1 is (uid_t) -1, "no id" (credentials(7))
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Docker's default capability set for a container's root (moby's oci/caps/defaults.go).
ROOT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
             "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
             "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
_FIX = ("allow unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 "
        "user.max_user_namespaces=15000 (and kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu)")


def host_owner() -> tuple[int, int] | None:
    """The host user (uid, gid) the sandbox runs as when that is not the caller: SANDBOX_UID as root."""
    return (SANDBOX_UID, SANDBOX_UID) if os.geteuid() == 0 else None


def check_available(network_enter: list[str]) -> None:
    """Raise UsageError, in one line with the fix, when bwrap is missing or user namespaces are refused.
    Never falls back to running unsandboxed."""
    if shutil.which("bwrap") is None:
        raise UsageError("`bwrap` is not installed: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)")
    proc = subprocess.run([*network_enter, *_as_owner(), "bwrap", "--unshare-user", "--ro-bind", "/", "/",
                           "true"], check=False, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["bwrap failed"])[-1]
        raise UsageError(f"the sandbox cannot start: user namespaces are refused ({why}); {_FIX}")


def _as_owner() -> list[str]:
    owner = host_owner()
    if owner is None:
        return []
    return ["nsenter", f"--setuid={owner[0]}", f"--setgid={owner[1]}", "--"]


@dataclass(frozen=True)
class Limits:
    """``memory``: bytes of address space of each process (RLIMIT_AS); ``processes``: processes and threads
    of the sandbox's user (RLIMIT_NPROC); ``open_files``: descriptors of each process (RLIMIT_NOFILE)."""

    memory: int = 2 * 1024**3
    processes: int = 1024
    open_files: int = 65536


class UserNotFound(Exception):
    """The image's ``User`` names an account or group its ``/etc/passwd`` or ``/etc/group`` lacks (a
    container runtime refuses to start the container)."""


def resolve_user(root: str, user: str) -> tuple[int, int, str]:
    """``(uid, gid, home)`` inside the image for its config's ``User`` (``""``: root), as runc resolves it
    (``user``, ``uid``, ``user:group``, ``uid:gid``; a numeric uid absent from ``/etc/passwd`` has gid 0
    and home ``/``). Raises UserNotFound."""
    name, _, group = (user or "0").partition(":")
    passwd = [line.split(":") for line in (inside.read_text(root, "/etc/passwd") or "").splitlines()]
    passwd = [p for p in passwd if len(p) >= 7]
    entry = next((p for p in passwd if p[0] == name or (name.isdigit() and p[2] == name)), None)
    if entry is None and not name.isdigit():
        raise UserNotFound(f"the image's User {user!r}: no account {name!r} in the image's /etc/passwd")
    if entry is not None and not entry[2].isdigit():
        raise UserNotFound(f"the image's User {user!r}: its /etc/passwd line has no numeric uid")
    uid = int(entry[2]) if entry else int(name)
    gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    home = entry[5] if entry else "/"
    if group:
        groups = [line.split(":") for line in (inside.read_text(root, "/etc/group") or "").splitlines()]
        found = next((g for g in groups if len(g) >= 3 and (g[0] == group or g[2] == group)), None)
        if found is None and not group.isdigit():
            raise UserNotFound(f"the image's User {user!r}: no group {group!r} in the image's /etc/group")
        if found is not None and not found[2].isdigit():
            raise UserNotFound(f"the image's User {user!r}: its /etc/group line has no numeric gid")
        gid = int(found[2]) if found else int(group)
    if not (0 <= uid <= MAX_ID and 0 <= gid <= MAX_ID):
        raise UserNotFound(f"the image's User {user!r}: not a user and group id Linux has (0 to {MAX_ID})")
    return uid, gid, home


def environment(image_env: list[str], extra: dict[str, str], home: str) -> dict[str, str]:
    """The process environment: the image's ``Env`` (``NAME=value``), then ``extra`` over it, with ``PATH``
    and ``HOME`` defaulted as Docker does and ``HOSTNAME`` set."""
    env: dict[str, str] = {}
    for item in image_env:
        name, eq, value = item.partition("=")
        if eq and name:
            env[name] = value
    env.update(extra)
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOME", home)
    env.setdefault("HOSTNAME", "deploycheck")
    return env


def refuse_nul(argv: list[str], env: dict[str, str], workdir: str, volumes: list[str]) -> None:
    """Raise UsageError naming the first command argument, variable, working directory or volume that holds
    a NUL character. No process can be given one (``execve(2)`` takes NUL-terminated strings, so a container
    runtime refuses to start such an image), and bwrap's ``--args`` file separates its options by NUL: one
    let through would become options of its own (``--bind / /mnt``: the host's root in the sandbox)."""
    named = [(f"the command's argument {a.split(chr(0), 1)[0][:60]!r}...", a) for a in argv]
    named += [(f"the variable {k.split(chr(0), 1)[0][:60]!r}", k + v) for k, v in env.items()]  # no value: a secret
    named += [(f"the working directory {workdir.split(chr(0), 1)[0][:60]!r}...", workdir)]
    named += [(f"the volume {v.split(chr(0), 1)[0][:60]!r}...", v) for v in volumes]
    for what, value in named:
        if "\0" in value:
            raise UsageError(f"{what} holds a NUL character: no process can be given it (a container runtime "
                             "refuses to start the image)")


def bwrap_args(root: str, env: dict[str, str], workdir: str, uid: int, gid: int, volumes: list[str],
               hosts_fd: int, tmpfs_bytes: int, read_only: bool = False) -> list[str]:
    """bwrap's options (for ``--args``; the command ``argv`` follows them on its command line, as bwrap
    reads it): the sandbox of the module docstring, each tmpfs holding at most ``tmpfs_bytes``. ``root``
    is what bwrap binds at ``/``: the private layer's merged tree (``_LAYER``), or the cached tree itself,
    read-only, when ``read_only``. Raises UsageError for a NUL character in any of them (``refuse_nul``)."""
    refuse_nul([], env, workdir, volumes)
    args = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--uid", str(uid), "--gid", str(gid), "--hostname", env.get("HOSTNAME", "deploycheck"),
            "--ro-bind" if read_only else "--bind", root, "/", "--proc", "/proc", "--dev", "/dev"]
    if not read_only:  # a read-only root has no writable /tmp unless a volume is mounted there
        args += ["--size", str(tmpfs_bytes), "--tmpfs", "/tmp"]
    args += ["--ro-bind-data", str(hosts_fd), "/etc/hosts",
             "--die-with-parent", "--new-session", "--as-pid-1", "--clearenv"]
    for volume in volumes:
        args += ["--size", str(tmpfs_bytes), "--tmpfs", volume]
    if uid == 0:
        for cap in ROOT_CAPS:
            args += ["--cap-add", cap]
    for name, value in env.items():
        args += ["--setenv", name, value]
    return args + ["--chdir", workdir or "/"]


def hosts_file(names: list[str]) -> bytes:
    """``/etc/hosts`` of the sandbox: localhost and each dependency's host name on loopback."""
    extra = " ".join(n for n in names if n and n not in ("localhost",))
    return f"127.0.0.1\tlocalhost {extra}\n::1\tlocalhost ip6-localhost ip6-loopback\n".encode()


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # not close-on-exec: bwrap reads it
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


# Runs (``python -I -S``) in a new mount namespace of the sandbox's user namespace, before bwrap: a tmpfs of
# SIZE bytes over BASE (the directory holding the cached trees: hidden in this namespace only), the upper and
# work directories of an overlay on it, the overlay of TREE (opened before BASE was covered) mounted at
# BASE/m, then the rest of its arguments run. Paths go to the kernel as /proc/self/fd/N, so that no comma or
# colon of a path is read as an option. Its upper directory takes the tree's owner and mode, which the root
# of the overlay shows. It says what failed in one line starting with "deploycheck-layer:".
_LAYER = r"""
import ctypes, os, sys
tree, base, size = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
def mount(fs, target, data):
    if libc.mount(fs.encode(), target.encode(), fs.encode(), 0, data.encode()) != 0:
        err = ctypes.get_errno()
        sys.stderr.write("deploycheck-layer: cannot mount the private %s layer: %s\n" % (fs, os.strerror(err)))
        sys.stderr.flush()
        os._exit(125)
low = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
st = os.fstat(low)
mount("tmpfs", base, "size=%d,mode=0711" % int(size))
top = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
for name in ("u", "w", "m"):
    os.mkdir(os.path.join(base, name), 0o700)
os.chown(os.path.join(base, "u"), st.st_uid, st.st_gid)
os.chmod(os.path.join(base, "u"), st.st_mode & 0o7777)
mount("overlay", os.path.join(base, "m"), "lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d/u,"
      "workdir=/proc/self/fd/%d/w,userxattr" % (low, top, top))
os.close(low)
os.close(top)
os.execvp(sys.argv[5], sys.argv[5:])
"""
# What the tools that set the sandbox up print when they give up, before the program ever runs (bwrap's
# die(): "bwrap: MESSAGE"; util-linux: "nsenter: ...", "unshare: ...", "prlimit: ..."; the layer's helper).
# bwrap's "execvp" is the image's command not found: the program's failure, as a container runtime reports it.
_SETUP_TOOLS = ("bwrap: ", "nsenter: ", "unshare: ", "prlimit: ", "deploycheck-layer: ")


class SetupError(UsageError):
    """The sandbox could not be set up (bwrap refused an option, a mount failed, namespaces were refused):
    not the service's failure, nor the static check's."""


def setup_failure(lines: list[str]) -> str | None:
    """The set-up tool's message when ``lines`` (all a sandboxed program printed before it ended) are only
    a set-up tool giving up before the program ran; None otherwise."""
    said = [line.strip() for line in lines if line.strip()]
    if not said or not all(line.startswith(_SETUP_TOOLS) for line in said):
        return None
    if any(line.startswith("bwrap: execvp ") for line in said):
        return None
    return said[-1]


def setup_error(message: str) -> SetupError:
    """The one-line error for a sandbox that could not be set up (``setup_failure``'s message)."""
    return SetupError(f"the sandbox could not be set up, so the service was not run ({message[:300]}): not a "
                      "failure of the service; check the [tool.deploycheck.start] limits (processes, open-files, "
                      f"memory-limit) and that this host allows the sandbox: {_FIX}; Linux 5.11 or later for "
                      "the private root layer (overlayfs in a user namespace)")


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # not close-on-exec: bwrap reads it
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def spawn(network_enter: list[str], root: str, argv: list[str], env: dict[str, str], workdir: str, uid: int,
          gid: int, volumes: list[str], limits: Limits, dependency_hosts: list[str],
          read_only: bool = False) -> subprocess.Popen:
    """Start ``argv`` in the sandbox; its standard output and error together on the returned process's
    ``stdout`` (bytes). ``root`` is the cached tree: with ``read_only`` bound as it is, else under a private
    layer of at most ``limits.memory`` bytes (``_LAYER``). The process is bwrap's (or the layer's helper,
    which becomes bwrap); ``--as-pid-1`` makes the program its only child, PID 1 of the sandbox, as in a
    container without an init. Raises UsageError for a NUL character in what it is given (``refuse_nul``)
    or a command longer than ``execve(2)`` takes (E2BIG)."""
    refuse_nul(argv, {}, "/", [])
    base = os.path.dirname(os.path.abspath(root))
    shown_root = root if read_only else os.path.join(base, "m")
    hosts = _memfd("hosts", hosts_file(dependency_hosts))
    args = _memfd("args", b"\0".join(a.encode("utf-8", "surrogateescape") for a in
                                     bwrap_args(shown_root, env, workdir, uid, gid, volumes, hosts,
                                                limits.memory, read_only)) + b"\0")
    layer = [] if read_only else ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-I",
                                  "-S", "-c", _LAYER, root, base, str(limits.memory), "--"]

    # prlimit(1) sets the limits in the child (no preexec_fn: deploycheck has threads); without
    # CAP_SYS_RESOURCE no hard limit is raised, so a value above the current one is lowered to it
    bounds = []
    for option, which, value in (("--as", resource.RLIMIT_AS, limits.memory),
                                 ("--nproc", resource.RLIMIT_NPROC, limits.processes),
                                 ("--nofile", resource.RLIMIT_NOFILE, limits.open_files)):
        hard = resource.getrlimit(which)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        bounds.append(f"{option}={value}")
    try:
        return subprocess.Popen(["prlimit", *bounds, "--", *network_enter, *layer, *_as_owner(), "bwrap",
                                 "--args", str(args), "--", *argv],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                pass_fds=(args, hosts), start_new_session=True)
    except OSError as exc:
        if exc.errno != errno.E2BIG:
            raise
        size = sum(len(a.encode("utf-8", "surrogateescape")) + 1 for a in argv)
        raise UsageError(f"the image's command ({len(argv)} arguments, {size} bytes) is longer than the kernel "
                         "lets a program be started with (E2BIG; a container runtime cannot start it either)") from None
    finally:
        os.close(args)
        os.close(hosts)
