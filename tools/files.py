"""Reading and writing the files people give us and the files we keep.

`read_text` reads a text file people made (a workspace's CSV and YAML, a tracker's export) whatever
encoding a spreadsheet saved it in, if that encoding can be known: UTF-8 (with or without a byte-order
mark) or UTF-16 with one. Anything else is refused as an `Unreadable` value that names the line of the
first byte that cannot be read and says how to convert the file. `write_atomic` writes so that a crash
never leaves half of a file: what the ledgers, credentials and syncs share.
"""

from __future__ import annotations

import codecs
import os
import sys
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
MAX_YAML_BYTES = 10 * MB
"""The largest YAML file read: settings and clients, never data in bulk."""
MAX_CSV_BYTES = 256 * MB
"""The largest CSV file read (a million time entries are about 150 MB)."""

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class Unreadable:
    """Why a file could not be read as text: the line it happened on (None: the whole file), and what to do."""

    line: int | None
    message: str


def read_text(path: Path, *, limit: int) -> str | Unreadable:
    """The text of `path` (UTF-8, UTF-8 with a BOM, UTF-16 with a BOM), or why it cannot be read.

    Files larger than `limit` bytes are refused before they are read. Line ends are left as they are
    (the csv module wants them so).
    """
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            raw = handle.read(limit + 1) if size <= limit else b""
    except OSError as exc:
        return Unreadable(None, f"cannot be read: {exc.strerror or exc}")
    if size > limit or len(raw) > limit:
        return Unreadable(None, f"is {_size(max(size, len(raw)))}, more than the {_size(limit)} such a file may hold: "
                                "is it the right file?")
    return decode_text(raw, path.name)


def decode_text(raw: bytes, name: str) -> str | Unreadable:
    """`raw` as text if its encoding can be known (see `read_text`); `name` is used in the advice."""
    encoding = next((codec for bom, codec in _BOMS if raw.startswith(bom)), "utf-8")
    if raw.startswith(codecs.BOM_UTF32_LE) or raw.startswith(codecs.BOM_UTF32_BE):
        return Unreadable(1, f"is UTF-32 text; {_advice(name, 'utf-32')}")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].decode(encoding, errors="replace").count("\n") + 1
        if encoding == "utf-16":
            return Unreadable(line, f"is not valid UTF-16 text (from byte {exc.start}); {_advice(name, 'utf-16')}")
        bad = f"byte 0x{raw[exc.start]:02x} is not UTF-8"
        if _binary(raw):
            return Unreadable(line, f"is not a text file ({bad}): is it the right file? It must be text saved as "
                                    "UTF-8")
        encoding = "latin-1" if _not_cp1252(raw) else "cp1252"
        return Unreadable(line, f"is not UTF-8 text ({bad}; the file looks like {encoding}); "
                                f"{_advice(name, encoding)}")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        guess = "utf-16le" if raw[1:2] == b"\x00" else "utf-16be" if raw[:1] == b"\x00" else ""
        if not guess:
            return Unreadable(line, "holds NUL bytes: it is not a text file; is it the right file? It must be text "
                                    "saved as UTF-8")
        return Unreadable(line, f"holds NUL bytes: it looks like UTF-16 without a byte-order mark; "
                                f"{_advice(name, guess)}")
    return text


def _binary(raw: bytes) -> bool:
    """Whether `raw` looks like no text at all: NUL bytes, or many control characters early on."""
    return b"\x00" in raw or sum(1 for b in raw[:4096] if b < 9 or 13 < b < 32) > 4


def _not_cp1252(raw: bytes) -> bool:
    """Windows' cp1252 leaves five bytes undefined; a file holding one is latin-1 (ISO 8859-1) instead."""
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return True
    return False


def _advice(name: str, encoding: str) -> str:
    how = "save it as UTF-8 (a spreadsheet's \"CSV UTF-8\")" if name.lower().endswith(".csv") else "save it as UTF-8"
    return f"{how}, or: iconv -f {encoding} -t utf-8 {name} > {name}.utf8"


def _size(size: int) -> str:
    """`size` in MB to a tenth, rounded up (10 MB and a byte is "10.1 MB"), or in bytes below 1 MB."""
    if size < MB:
        return f"{size} bytes"
    return f"{-(-size * 10 // MB) / 10:.1f} MB".replace(".0 MB", " MB")


def write_atomic(path: Path, data: bytes | str, *, mode: int = 0o644) -> None:
    """Write `data` (text as UTF-8) to `path` so that readers see the old file or the whole new one.

    A temporary file beside it is written, flushed to disk and renamed over it; the rename itself is made
    durable too, so after a crash the file is either as before or complete.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if sys.platform != "win32":
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def read_workspace_text(path: Path, *, limit: int = MAX_YAML_BYTES) -> str:
    """The text of a workspace file read again after the workspace loaded (so it is readable); raises
    `WorkspaceError` naming the file and line if it changed under us and no longer is."""
    text = read_text(path, limit=limit)
    if isinstance(text, Unreadable):
        from tools.domain import Issue
        from tools.errors import WorkspaceError

        raise WorkspaceError(str(path.parent), [Issue(file=path.name, line=text.line, message=text.message)])
    return text
