"""The import probe of ``deploycheck start``: every module the static check finds firmly imported at start-up,
imported for real by the image's own interpreter inside the sandbox.

What is imported: ``deploycheck check`` runs on the image (its command's entries, what the framework
loaders say start-up loads); of its import closure, the modules with nothing between an entry and their
import (``index.program.Node.firm``) whose module-level code runs at import or at start-up
(``index.program.PHASES``). The modules the command runs as ``__main__`` (``python -m pkg``, ``python
script.py``) are not imported: that would start the service, which the smoke start does. Start-up modules
are imported after the framework's own set-up when the probe knows it (Django: ``django.setup()``, which
needs ``DJANGO_SETTINGS_MODULE``); without it they are left out, and counted, since importing them bare would
fail where the service does not.

How: in batches of BATCH modules, each batch a fresh process of the image's interpreter in the sandbox, with
the service's environment, working directory and search path (the entries' directories first, as ``python
-m`` puts its working directory first). The process reports each import on a private copy of its standard
output (the modules' own output is discarded); a batch that runs out of time (BATCH_SECONDS) or ends during
an import reports that module as failed, and the rest run in a new process. The whole probe is bounded by
the start's wait (``--timeout``, at least BATCH_SECONDS): what is left then is counted, not imported. A failure is kept with the last
frames of its traceback; failures raised at the same statement with the same exception are one, listing the
modules whose import reached it. Each is compared with the static check's findings: the deepest frame of
the traceback where ``check`` reported something is named (``check agreed``), else none.

Cached, in the check's cache: what ``check`` found (``Static``) per image (``cache_key``: its config, layers,
platform and the analyzer's version), and that a probe imported every step without a failure per image,
plan and sandbox (``probe_key``, keyed: the environment holds secrets), so that a warm start with the same inputs neither checks nor imports again.
A probe with a failure is never remembered.
"""

from __future__ import annotations

import json
import os
import posixpath
import secrets
import select
import stat
import time
from dataclasses import dataclass, field

from deploycheck.errors import UsageError

BATCH = 60  # modules per process
BATCH_SECONDS = 60.0  # wall time of one process
MAX_FRAMES = 5
MAX_OUTPUT = 4 * 1024 * 1024  # bytes of reports read from one process
DJANGO_SETUP = "django.setup()"

# Runs in the image's interpreter (any Python 3): argv[1] is JSON {"mark", "path", "argv", "steps", "frames"}.
_RUNNER = r"""
import importlib, json, os, sys, traceback
spec = json.loads(sys.argv[1])
out = os.fdopen(os.dup(1), "w")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 1)
os.dup2(null, 2)
sys.path[0:0] = spec["path"]
sys.argv = spec["argv"]
def say(d):
    out.write(spec["mark"] + json.dumps(d) + "\n")
    out.flush()
def django_setup():
    import django
    django.setup()
for step in spec["steps"]:
    say({"begin": step})
    try:
        if step == "django.setup()":
            django_setup()
        else:
            importlib.import_module(step)
        say({"ok": step})
    except BaseException as exc:
        frames = [[f[0], f[1], f[2], f[3] or ""] for f in traceback.extract_tb(exc.__traceback__)
                  if not f[0].startswith(("<frozen ", "<string>"))
                  and not (f[2] == "import_module" and f[0].endswith("importlib/__init__.py"))]
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        say({"failed": step, "exception": last[:2000], "frames": frames[-spec["frames"]:]})
say({"done": True})
out.close()
os._exit(0)
"""


@dataclass
class Plan:
    """What to import: ``python`` the image's interpreter (a path in the image), ``path`` the directories put
    first on its search path, ``steps`` module names in closure order (``DJANGO_SETUP`` before the start-up
    modules), ``left_out`` the start-up modules not imported (framework set-up unknown), ``check`` the
    static check's findings as ``(code, path, line)``."""

    python: str
    path: list[str]
    argv: list[str]
    steps: list[str]
    left_out: list[str] = field(default_factory=list)
    check: list[tuple[str, str, int]] = field(default_factory=list)


CACHE_SPACE = "start-plan"


@dataclass
class Static:
    """What the import probe takes from ``deploycheck check`` on the image: ``python`` its interpreter,
    ``roots`` the entries' directories, ``closure`` module name -> shield (0: imported with nothing between
    an entry and the import), ``phases`` module name -> ``index.program.PHASES`` entry, ``found`` the
    findings as ``(code, path, line)``."""

    python: str
    roots: list[str]
    closure: dict[str, int]
    phases: dict[str, str]
    found: list[tuple[str, str, int]]

    def to_json(self) -> bytes:
        return json.dumps([self.python, self.roots, self.closure, self.phases, self.found]).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Static | None:
        try:
            python, roots, closure, phases, found = json.loads(data)
            return cls(python, roots, closure, phases, [(c, p, int(n)) for c, p, n in found])
        except (ValueError, TypeError):
            return None  # an entry another version wrote: checked again


def cache_key(config: dict, layers: list[str], platform: str, entries: list[str] = ()) -> str:
    """The key of an image's ``Static`` in the check's cache: a digest of the image's config, its layers
    (``rootfs.key``: each blob's digest and diff_id, checked when read) and platform, the entries given
    (``--entry``), and of deploycheck's version and ``ANALYZER_VERSION``, so that a new analyzer checks the
    image again."""
    import hashlib

    from deploycheck import ANALYZER_VERSION, __version__

    doc = json.dumps([config, layers, platform, __version__, ANALYZER_VERSION] + ([list(entries)] if entries else []),
                     sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()


def static(image: str, platform: str, tls_verify: bool | None, key: str, cache, cache_dir: str | None,
           no_cache: bool, entries: list[str] = ()) -> Static:
    """``Static`` of ``image``: from ``cache`` (an ``index.store.Cache``) under ``key`` (``cache_key``), else
    by running ``deploycheck check`` on it (with ``cache_dir``/``no_cache`` for its summaries, ``entries``
    as its ``--entry``, none: the image's command) and storing the answer. Raises UsageError or ImageError
    as ``check.run`` does."""
    got = cache.get_many(CACHE_SPACE, [key]).get(key)
    known = Static.from_json(got) if got is not None else None
    if known is not None:
        return known
    from deploycheck import check  # the analyzer is loaded only when its answer is not cached

    result = check.run(check.Options(path=image, platform=platform, tls_verify=tls_verify, cache_dir=cache_dir,
                                     no_cache=no_cache, entries=list(entries)))
    out = Static(result.interp.executable, list(result.project.roots),
                 {name: shield for name, (_origin, shield) in result.closure.items()},
                 dict(result.phases), [(f.code, f.path, f.line) for f in result.findings])
    cache.put(CACHE_SPACE, key, out.to_json())
    cache.flush()
    return out


PROBED_SPACE = "start-imports"


KEY_FILE = "start-probe-key"  # in the cache directory: the key of probe_key's HMAC
KEY_BYTES = 32


def probe_secret(cache_dir: str | None) -> bytes:
    """The key of ``probe_key``: ``KEY_BYTES`` random bytes kept in ``cache_dir/KEY_FILE``, made with mode
    0600 when missing (``O_EXCL``: two runs never make two). A key that is not a regular file of this user,
    readable by no one else and of the right size is not used, nor is one that cannot be made; then, as
    with no cache directory, a fresh key of this run only (nothing it remembers is found again)."""
    fresh = os.urandom(KEY_BYTES)
    if cache_dir is None:
        return fresh
    path = os.path.join(cache_dir, KEY_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError:
        return fresh
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(fresh)
        return fresh
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return fresh
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        key = f.read(KEY_BYTES + 1)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077 or len(key) != KEY_BYTES:
        return fresh
    return key


def probe_key(static_key: str, p: Plan, sandbox: list, secret: bytes) -> str:
    """The key of an import probe that imported every step of ``p`` without a failure: the image
    (``static_key``), the plan, and ``sandbox``, everything else the imports can see (the environment, the
    working directory, the user, the volumes, the throwaway services started). An HMAC-SHA-256 (RFC 2104)
    under ``secret`` (``probe_secret``), not a plain digest: the environment holds secrets, and a plain
    digest of it in the cache would let anyone who reads the cache test guesses of a weak password."""
    import hashlib
    import hmac

    doc = json.dumps([static_key, p.python, p.path, p.argv, p.steps, sandbox], sort_keys=True, default=str)
    return hmac.new(secret, doc.encode(), hashlib.sha256).hexdigest()


def plan(analyze, config: dict, env: dict[str, str]) -> tuple[Plan | None, str]:
    """The plan for an image (its config ``config``; ``env`` the service's environment) from
    ``analyze()`` (its ``Static``), or None and why not (a one-line note: no Python interpreter on the
    image's PATH, a command that starts no Python module ``check`` recognizes...)."""
    from deploycheck.artifact.image.errors import ImageError
    from deploycheck.environment import image_python, launcher
    from deploycheck.index.program import IMPORT, STARTUP

    try:
        result = analyze()
    except (UsageError, ImageError) as exc:  # no Python the check recognizes: the smoke start still runs
        return None, f"not run: {exc}"
    workdir = config.get("WorkingDir") or "/"
    launch = launcher.entries(config.get("Entrypoint"), config.get("Cmd"), image_python.environment(config),
                              workdir)
    as_main = {e.module for e in launch if e.module and e.launcher.startswith("python -m")}
    as_main |= {posixpath.basename(e.script)[:-3] for e in launch if e.script and e.script.endswith(".py")}
    as_main.add(launcher.CONFIG_MODULE)  # gunicorn runs its configuration file by path, not by this name
    firm = [(name, result.phases.get(name, IMPORT)) for name, shield in result.closure.items()
            if shield == 0 and name not in as_main]
    steps = [name for name, phase in firm if phase == IMPORT]
    startup = [name for name, phase in firm if phase == STARTUP]
    left_out: list[str] = []
    if startup and "django" in result.closure and env.get("DJANGO_SETTINGS_MODULE"):
        steps += [DJANGO_SETUP, *startup]
    else:
        left_out = startup
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    return Plan(result.python, list(result.roots), argv[:1], steps, left_out, list(result.found)), ""


@dataclass
class Failure:
    """One failing statement: ``modules`` whose import (or ``django.setup()``) reached it, ``exception`` the
    last line of the traceback, ``frames`` its last frames ``[path, line, function, statement]``,
    ``check`` what the static check said there (``DC102 at /app/x.py:3``), empty when it said nothing."""

    modules: list[str]
    exception: str
    frames: list[list]
    check: str = ""

    def to_json(self) -> dict:
        """The failure as JSON-ready data (``Observation.import_failures`` holds these)."""
        return {"modules": self.modules, "exception": self.exception, "frames": self.frames, "check": self.check}


def run(p: Plan, spawn, scrub, seconds: float) -> tuple[list[Failure], int]:
    """Import ``p.steps`` in batches; ``spawn(argv)`` starts a program in the sandbox (a ``Popen`` whose
    ``stdout`` carries its output), ``scrub(text)`` masks secrets; no batch starts or runs past ``seconds``
    from now. Returns the failures and how many steps were attempted (the rest: out of time). Raises
    ``sandbox.SetupError`` when the sandbox could not be set up (``sandbox.setup_failure``): that is no
    module's failure."""
    todo = list(p.steps)
    failures: dict[tuple, Failure] = {}
    attempted = 0
    deadline = time.monotonic() + seconds
    while todo and time.monotonic() < deadline:
        batch, todo = todo[:BATCH], todo[BATCH:]
        reports, ended = _batch(p, batch, spawn, min(BATCH_SECONDS, deadline - time.monotonic()))
        began = [r["begin"] for r in reports if "begin" in r]
        if not began:  # the interpreter did not run the probe at all: once, not for every module
            _add(failures, batch[0], scrub(ended), [], scrub).modules = list(batch + todo)
            attempted += len(batch) + len(todo)
            break
        attempted += len(began)
        finished = set()
        for r in reports:
            if "failed" in r:
                _add(failures, r["failed"], scrub(str(r.get("exception", ""))), r.get("frames") or [], scrub)
            if "ok" in r or "failed" in r:
                finished.add(r.get("ok") or r.get("failed"))
        if not any("done" in r for r in reports):
            if began[-1] not in finished:
                _add(failures, began[-1], scrub(ended), [], scrub)
            todo = [m for m in batch if m not in began] + todo
    found = list(failures.values())
    for f in found:
        f.check = _agreed(f.frames, p.check)
    return found, attempted


def _add(failures: dict, module: str, exception: str, frames: list, scrub) -> Failure:
    frames = [[scrub(str(fr[0])), int(fr[1]), str(fr[2]), scrub(str(fr[3]))] for fr in frames
              if isinstance(fr, list) and len(fr) == 4 and str(fr[1]).isdigit()]
    key = (exception, tuple(frames[-1][:2]) if frames else module)
    if key in failures:
        failures[key].modules.append(module)
        return failures[key]
    # a module failing with no frame of its own (an extension module that does not load) is the failure
    # seen at the statement importing it, whichever came first
    same = [k for k in failures if k[0] == exception and (not frames or isinstance(k[1], str))]
    if same:
        old = failures.pop(same[0])
        key = key if frames else same[0]
        failures[key] = Failure(old.modules + [module], exception, frames or old.frames)
    else:
        failures[key] = Failure([module], exception, frames)
    return failures[key]


def _agreed(frames: list[list], found: list[tuple[str, str, int]]) -> str:
    """What ``check`` reported at the deepest frame it reported anything at."""
    for path, line, _function, _statement in reversed(frames):
        codes = sorted({code for code, p, n in found if p == path and n == line})
        if codes:
            return f"{', '.join(codes)} at {path}:{line}"
    return ""


def _batch(p: Plan, batch: list[str], spawn, seconds: float) -> tuple[list[dict], str]:
    """Run one process over ``batch`` for at most ``seconds``: its reports, and why it ended early when it
    did."""
    mark = f"@deploycheck-{secrets.token_hex(8)}@"
    spec = json.dumps({"mark": mark, "path": p.path, "argv": p.argv, "steps": batch,
                       "frames": MAX_FRAMES})
    proc = spawn([p.python, "-c", _RUNNER, spec])
    reports: list[dict] = []
    buffer = b""
    read = 0
    deadline = time.monotonic() + seconds
    ended = ""
    other: list[str] = []  # output before the probe took the standard output: the interpreter's own errors
    try:
        fd = proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                ended = f"TimeoutError: the import did not finish within {seconds:.3g} s"
                break
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            read += len(chunk)
            if read > MAX_OUTPUT:
                ended = "the probe's output was too large"
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                text = line.decode("utf-8", "replace")
                if text.startswith(mark):
                    try:
                        reports.append(json.loads(text[len(mark):]))
                    except ValueError:
                        continue
                elif text.strip():
                    other = (other + [text[:500]])[-3:]
    finally:
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        proc.stdout.close()
    if not reports and not ended:
        from deploycheck.start import sandbox

        failed = sandbox.setup_failure(other)
        if failed is not None:  # the sandbox was never set up: no module was imported, none failed
            raise sandbox.setup_error(failed)
    if not ended:
        ended = f"the interpreter ended with code {128 - code if code < 0 else code}"
        if other:
            ended += f": {' | '.join(other)}"
    return reports, ended
