"""Summaries on disk, keyed by file content hash, analyzer version and target facts; parsed in parallel.

The cache is one SQLite file so thousands of summaries load with one open. Any cache trouble (read-only
directory, corrupt file, a concurrent writer) falls back to parsing: the cache can only make a run faster.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import os
import sqlite3
import sys
from typing import TYPE_CHECKING

from deploycheck import ANALYZER_VERSION
from deploycheck.index.conditions import Facts
from deploycheck.index.summary import Summary

if TYPE_CHECKING:
    from deploycheck.index.parsing import Parser

# The parser pool and the syntax walker are imported when a file is parsed: the key-value Cache alone (the
# warm path of `deploycheck start`) needs neither.

_BATCH = 512
# File contents held at once while waiting to be parsed, in bytes (each file is at most MAX_SOURCE_BYTES).
LOAD_BYTES = 64 * 1024 * 1024


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/deploycheck`` or ``~/.cache/deploycheck`` (the XDG base directory convention)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "deploycheck")


class Cache:
    """Key-value store of bytes in ``DIR/cache-v1.sqlite``; ``None`` directory means no cache."""

    def __init__(self, directory: str | None) -> None:
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, str, bytes]] = []
        if directory is None:
            return
        try:
            os.makedirs(directory, exist_ok=True)
            self._db = sqlite3.connect(os.path.join(directory, "cache-v1.sqlite"), timeout=5)
            self._db.execute("CREATE TABLE IF NOT EXISTS kv (space TEXT, key TEXT, value BLOB, PRIMARY KEY (space, key))")
        except (OSError, sqlite3.Error) as exc:
            # Not fatal (a read-only home in CI still gets its check), but said: a cache silently off is slow.
            self._db = None
            reason = "a file, not a directory" if isinstance(exc, FileExistsError) else \
                exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            sys.stderr.write(f"deploycheck: warning: cache directory {directory} cannot be used ({reason}); "
                             "checking without a cache\n")

    def get_many(self, space: str, keys: list[str]) -> dict[str, bytes]:
        if self._db is None or not keys:
            return {}
        out: dict[str, bytes] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                q = f"SELECT key, value FROM kv WHERE space = ? AND key IN ({','.join('?' * len(chunk))})"
                out.update(self._db.execute(q, [space, *chunk]).fetchall())
        except sqlite3.Error:
            return out
        return out

    def put(self, space: str, key: str, value: bytes) -> None:
        if self._db is not None:
            self._pending.append((space, key, value))

    def flush(self) -> None:
        if self._db is None or not self._pending:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", self._pending)
        except sqlite3.Error:
            pass
        self._pending.clear()

    def close(self) -> None:
        """Flush and close the database (a cache used once in a long run need not stay open)."""
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def content_key(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _work(item: tuple[str, bytes, Facts]) -> tuple[str, bytes]:
    """``(path, source, facts) -> (path, the summary as marshal bytes)``: the form the cache keeps, made in the
    parse worker so the main process only loads it (bytes cross the pipe for less than the objects would)."""
    path, data, facts = item
    from deploycheck.index.walker import summarize

    return path, marshal.dumps(summarize(data, facts).to_plain())


class SummaryStore:
    """Summaries by file path for one target. ``load(paths)`` fills ``summaries`` (missing or unreadable
    files get an empty summary with ``syntax_error`` set, and so do files whose syntax tree does not fit in
    the parse memory budget: ``index.parsing``) and ``hashes`` (of the files analyzed)."""

    def __init__(self, facts: Facts, cache: Cache, read_bytes) -> None:
        self.facts = facts
        self.cache = cache
        self.read_bytes = read_bytes
        self.summaries: dict[str, Summary] = {}
        self.hashes: dict[str, str] = {}
        self.parsed = 0
        self.unreadable = 0  # files that could not be read (too large, not a regular file): neither parsed nor cached
        self._parser: Parser | None = None
        self._space = f"summary-{ANALYZER_VERSION}-{facts.key}"

    def load(self, paths: list[str]) -> None:
        # Summaries are acyclic (tuples, lists and dicts from marshal) and live as long as the run: collecting
        # while they are made only costs time (a tenth of a warm run on Django's tree), and once made they are
        # moved out of the collector's sight (``gc.freeze``) so no later collection walks them again.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._load(paths)
        finally:
            if enabled:
                gc.enable()
            gc.freeze()

    def _load(self, paths: list[str]) -> None:
        todo = [p for p in dict.fromkeys(paths) if p not in self.summaries]
        # In groups, so that the file contents waiting to be parsed stay bounded on huge frontiers.
        group: dict[str, bytes] = {}
        held = 0
        for p in todo:
            try:
                data = self.read_bytes(p)
            except (OSError, ValueError) as exc:
                msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.summaries[p] = Summary(syntax_error=(f"cannot read file: {msg}", 1, 0), dynamic=["unreadable"])
                self.unreadable += 1
                continue
            group[p] = data
            held += len(data)
            if len(group) >= _BATCH or held >= LOAD_BYTES:
                self._load_group(group)
                group, held = {}, 0
        if group:
            self._load_group(group)

    def _load_group(self, data: dict[str, bytes]) -> None:
        for p, d in data.items():
            self.hashes[p] = content_key(d)
        cached = self.cache.get_many(self._space, list({self.hashes[p] for p in data}))
        misses: list[tuple[str, bytes, Facts]] = []
        for p, d in data.items():
            blob = cached.get(self.hashes[p])
            if blob is not None:
                try:
                    self.summaries[p] = Summary.from_plain(marshal.loads(blob))
                    continue
                except Exception:  # a damaged or foreign entry: parse again (and overwrite it)
                    pass
            misses.append((p, d, self.facts))
        sizes = [len(d) for _, d, _ in misses]
        paths = [p for p, _, _ in misses]
        data.clear()
        del cached
        self.parsed += len(misses)
        # Syntax trees are large, acyclic and short-lived: the cyclic garbage collector only costs time here
        # (it made parsing 1.5 times slower in measurements), so it is paused while parsing.
        results = self._parsing().map(misses, sizes)  # the collector is paused (load)
        del misses
        from deploycheck.index.parsing import NEEDS_MEMORY, TOO_NESTED, not_analyzed_reason

        for p, result in zip(paths, results, strict=True):
            if result == TOO_NESTED:  # as summarize reports the parser's other nesting limits
                result = (p, marshal.dumps(Summary(syntax_error=("too deeply nested for the parser", 1, 0)).to_plain()))
            elif result == NEEDS_MEMORY:
                # Not cached (the outcome depends on the limit), not handed to ruff: nothing in it is checked.
                self.summaries[p] = Summary(syntax_error=(f"not analyzed: {not_analyzed_reason()}", 1, 0),
                                            dynamic=["not analyzed"])
                del self.hashes[p]
                continue
            blob = result[1]
            self.summaries[p] = Summary.from_plain(marshal.loads(blob))
            self.cache.put(self._space, self.hashes[p], blob)

    def _parsing(self) -> Parser:
        if self._parser is None:
            from deploycheck.index import walker  # noqa: F401 - before the workers fork: they inherit it
            from deploycheck.index.parsing import Parser

            self._parser = Parser(_work)
        return self._parser

    def close(self) -> None:
        """Release the parser, and give what ``load`` froze back to the collector: a process that runs many
        checks (a test session, ``migrate``'s re-checks) must not keep the cyclic garbage of each."""
        if self._parser is not None:
            self._parser.close()
            self._parser = None
        gc.unfreeze()
