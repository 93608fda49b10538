"""A tar reader for untrusted archives (image layers, ``oci-archive`` and ``docker-archive`` files) that holds
at most a bounded amount of any header in memory.

Python's ``tarfile`` reads a PAX extended header or a GNU long-name record whole, whatever size its header
claims, and follows chains of sparse-map blocks without end: one crafted header costs gigabytes. This reader
looks at each raw 512-byte header first and refuses what is over a bound before reading it. It understands
what image builders and ``tar`` write: POSIX ustar and pax (IEEE Std 1003.1, ``pax`` "ustar Interchange
Format" and "pax Interchange Format": ``path``, ``linkpath``, ``size`` records, global headers), the GNU
extensions (``L``/``K`` long names, base-256 numbers, old ``S`` sparse headers) and old V7 headers. Member
data is streamed, never held.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploycheck.artifact.image.errors import ImageError

BLOCK = 512
MAX_PATH_BYTES = 4095  # Linux PATH_MAX (4096) less its NUL: no longer name or link target can be created
MAX_HEADER_BYTES = 1024 * 1024  # one PAX extended header or GNU long-name record (real ones: a few KiB)
MAX_GLOBAL_BYTES = 1024 * 1024  # all PAX global headers ('g') of one archive together
MAX_SPARSE_BLOCKS = 1024  # extension blocks of an old GNU sparse header (21 map entries each)
_SKIP_CHUNK = 1 << 20
_REGULAR = b"0\x007"  # regular file, old regular file, contiguous file
_HEADER_ONLY = {b"1": "hardlink", b"2": "symlink", b"3": "other", b"4": "other", b"5": "dir", b"6": "other"}
_POSIX_MAGIC = b"ustar\x00"
_HIGH = bytes(range(128, 256))


@dataclass(slots=True)
class Member:
    """One member: ``name`` and ``linkname`` as stored (decoded as UTF-8, undecodable bytes kept as
    surrogate escapes, as ``tarfile`` does); ``kind`` is ``file``, ``dir``, ``symlink``, ``hardlink`` or
    ``other``; ``size`` the bytes of data the archive holds for it; ``offset`` where that data starts in the
    archive; ``sparse`` for GNU sparse files (whose stored data is not their contents); ``mode`` the permission
bits of the header (``0o7777`` at most; POSIX ustar ``mode`` field)."""

    name: str
    kind: str
    size: int
    linkname: str = ""
    offset: int = 0
    sparse: bool = False
    mode: int = 0


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _nts(field: bytes) -> bytes:
    return field.split(b"\x00", 1)[0]


class Reader:
    """Members of the tar archive read from ``stream`` (``read``, ``readinto``; with ``seekable``, ``seek``
    and a known ``length`` in bytes, data not read is skipped by seeking). ``what`` names the archive at the
    start of messages ("layer 2"; "": nothing). Raises ImageError for a corrupt or truncated archive or a
    header over a bound."""

    def __init__(self, stream, what: str, seekable: bool = False, length: int | None = None) -> None:
        self.stream = stream
        self._prefix = f"{what}: " if what else ""
        self.seekable = seekable
        self.length = length
        self.position = 0  # bytes of the archive consumed
        self._left = 0  # data of the current member not read yet
        self._pad = 0  # padding after it
        self._globals: dict[str, bytes] = {}
        self._global_bytes = 0
        self.ended = False

    # -- raw reading ----------------------------------------------------------------------------------------
    def _exact(self, n: int) -> bytes:
        parts, want = [], n
        while want:
            chunk = self.stream.read(want)
            if not chunk:
                break
            parts.append(chunk)
            want -= len(chunk)
        data = b"".join(parts)
        self.position += len(data)
        if len(data) < n:
            raise ImageError(f"{self._prefix}the tar archive is truncated (it ends at byte {self.position})")
        return data

    def _skip(self, n: int) -> None:
        if n <= 0:
            return
        if self.seekable:
            if self.length is not None and self.position + n > self.length:
                raise ImageError(f"{self._prefix}the tar archive is truncated (a member runs past its end)")
            self.stream.seek(n, 1)
            self.position += n
            return
        buffer = memoryview(bytearray(min(n, _SKIP_CHUNK)))
        while n:
            got = self.stream.readinto(buffer[:min(n, len(buffer))])
            if not got:
                raise ImageError(f"{self._prefix}the tar archive is truncated (it ends at byte "
                                 f"{self.position})")
            self.position += got
            n -= got

    def _record(self, size: int) -> bytes:
        data = self._exact(size)
        self._skip(-size % BLOCK)
        return data

    def _header(self) -> bytes | None:
        """The next 512-byte header block; None when the stream ends exactly here."""
        block = self.stream.read(BLOCK)
        if not block:
            return None
        self.position += len(block)
        if len(block) < BLOCK:
            block += self._exact(BLOCK - len(block))
        return block

    def _number(self, field: bytes) -> int:
        if field[:1] in (b"\x80", b"\xff"):  # GNU base-256: big-endian two's complement after the marker
            value = int.from_bytes(field[1:], "big", signed=False)
            if field[0] == 0xFF:
                value -= 1 << (8 * (len(field) - 1))
            return value
        digits = field.split(b"\x00", 1)[0].strip(b" ")
        if not digits:
            return 0
        try:
            return int(digits, 8)
        except ValueError:
            raise self._corrupt("a number field") from None

    # -- members --------------------------------------------------------------------------------------------
    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of the current member's data; b"" at its end."""
        n = min(n, self._left)
        if n <= 0:
            return b""
        data = self._exact(n)
        self._left -= n
        return data

    def next(self) -> Member | None:
        """The next member, its unread data skipped; None at the end of the archive (a zero block, or the
        end of the stream at a block boundary). The end-of-archive blocks and what follows are left unread."""
        if self.ended:
            return None
        self._skip(self._left + self._pad)
        self._left = self._pad = 0
        pending: dict[str, bytes] = {}
        pending_bytes = 0
        long_name = long_link = None
        while True:
            block = self._header()
            if block is None or block.count(0) == BLOCK:
                self.ended = True
                return None
            self._verify(block)
            kind = block[156:157]
            size = self._number(block[124:136])
            if size < 0:
                raise self._corrupt("negative size")
            if kind in (b"x", b"X"):
                pending_bytes += size
                if pending_bytes > MAX_HEADER_BYTES:
                    raise self._over("PAX extended headers for one member", pending_bytes, MAX_HEADER_BYTES)
                pending.update(self._pax(self._record(size)))
                continue
            if kind == b"g":
                self._global_bytes += size
                if self._global_bytes > MAX_GLOBAL_BYTES:
                    raise self._over("PAX global headers", self._global_bytes, MAX_GLOBAL_BYTES)
                self._globals.update(self._pax(self._record(size)))
                continue
            if kind in (b"L", b"K"):
                if size > MAX_PATH_BYTES + 1:
                    raise self._over("a GNU long name record", size, MAX_PATH_BYTES + 1, " (Linux PATH_MAX)")
                record = _nts(self._record(size))
                if kind == b"L":
                    long_name = record
                else:
                    long_link = record
                continue
            return self._member(block, kind, size, {**self._globals, **pending}, long_name, long_link)

    def _corrupt(self, why: str) -> ImageError:
        return ImageError(f"{self._prefix}corrupt tar header at byte {self.position - BLOCK} ({why})")

    def _over(self, what: str, size: int, limit: int, why: str = "") -> ImageError:
        unit = "" if "blocks" in what else " bytes"
        return ImageError(f"{self._prefix}{what} of {size}{unit}, over the limit of {limit}{unit}{why}")

    def _verify(self, block: bytes) -> None:
        stored = self._number(block[148:156])
        rest = block[:148] + block[156:]
        unsigned = sum(rest) + 256  # the checksum field counts as eight spaces
        if stored == unsigned:
            return
        # some old tars summed the bytes as signed chars
        signed = unsigned - 256 * (len(rest) - len(rest.translate(None, _HIGH)))
        if stored != signed:
            raise self._corrupt("bad checksum")

    def _pax(self, data: bytes) -> dict[str, bytes]:
        """Records ``"%d %s=%s\\n"`` (length, keyword, value) of a pax extended header."""
        out: dict[str, bytes] = {}
        pos = 0
        while pos < len(data) and data[pos] != 0:
            space = data.find(b" ", pos, pos + 20)
            length = int(data[pos:space]) if space > pos and data[pos:space].isdigit() else 0
            record = data[pos:pos + length]
            keyword, eq, value = record[space - pos + 1:-1].partition(b"=")
            if length <= space - pos or len(record) < length or not record.endswith(b"\n") or not eq:
                raise ImageError(f"{self._prefix}corrupt PAX header at byte {self.position}")
            out[_text(keyword)] = value
            pos += length
        return out

    def _member(self, block: bytes, kind: bytes, size: int, pax: dict[str, bytes],
                long_name: bytes | None, long_link: bytes | None) -> Member:
        name = _nts(block[0:100])
        if block[257:263] == _POSIX_MAGIC and block[345:346] != b"\x00":  # ustar: a prefix of the name
            name = _nts(block[345:500]) + b"/" + name
        name = pax.get("path", long_name if long_name is not None else name)
        link = pax.get("linkpath", long_link if long_link is not None else _nts(block[157:257]))
        sparse = kind == b"S" or any(k.startswith("GNU.sparse.") for k in pax)
        if kind == b"S":  # old GNU sparse: the map continues in extension blocks while byte 482 is set
            extended, blocks = block[482], 0
            while extended:
                blocks += 1
                if blocks > MAX_SPARSE_BLOCKS:
                    raise self._over("a sparse file map (blocks)", blocks, MAX_SPARSE_BLOCKS)
                extended = self._exact(BLOCK)[504]
        if "GNU.sparse.name" in pax:
            name = pax["GNU.sparse.name"]
        if "size" in pax:
            if not pax["size"].isdigit():
                raise ImageError(f"{self._prefix}corrupt PAX header (its size record is not a number)")
            size = int(pax["size"])
        for what, value in (("member name", name), ("link target", link)):
            if len(value) > MAX_PATH_BYTES:
                raise self._over(f"a {what}", len(value), MAX_PATH_BYTES, " (Linux PATH_MAX)")
        text = _text(name)
        if kind in _REGULAR or kind == b"S":
            member_kind = "dir" if kind == b"\x00" and text.endswith("/") else "file"
        else:
            member_kind = _HEADER_ONLY.get(kind, "other")
        if kind in _HEADER_ONLY or member_kind == "dir":
            size = 0  # no data, whatever the size field says (as tarfile and Go's archive/tar read them)
        self._left, self._pad = size, -size % BLOCK
        linkname = _text(link) if kind in (b"1", b"2") else ""
        try:  # only unpacking reads it: a mode field no reader needed before is no reason to refuse a layer
            mode = self._number(block[100:108]) & 0o7777
        except ImageError:
            mode = 0o644
        return Member(text, member_kind, size, linkname, self.position, sparse, mode)
