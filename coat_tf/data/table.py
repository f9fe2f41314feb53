"""Reading large delimited text files in blocks, fast where the input is clean, exact where not.

A file is read as raw bytes in blocks of whole lines (a few tens of MiB each, so memory stays
bounded however large the file). Each block is parsed by pandas' C parser with explicit types
(the fast path). A block that fails any check is parsed again line by line (the slow path),
which finds the exact line number and reason of every bad line and reports it to an
:class:`~coat_tf.data.errors.ErrorLog` (raise, or skip and count).

Checks of the fast path: for tab-separated files, a block of ``n`` lines must hold exactly
``n * (columns - 1)`` tabs (so a line with too few or too many columns is caught even where
pandas would pad it); integer columns must parse as integers; timestamps must parse; required
text columns must be non-empty; the bytes must be valid UTF-8; timestamps must be plausible
(see :data:`LATEST_TIMESTAMP`).

A ``.gz`` file that ends early (an interrupted download) or is not gzip data is a
:class:`~coat_tf.data.errors.DataError` naming the file, whatever ``on_error`` says: the lines
after the damage cannot be read, so skipping would silently drop them.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from coat_tf.data.errors import DataError, ErrorLog

#: Column kinds: ``int`` (an integer id), ``unix`` (integer Unix seconds), ``iso`` (ISO 8601
#: date-time, converted to Unix seconds), ``time`` (either of the two), ``str`` (non-empty
#: text), ``opt`` (text that may be empty).
KINDS = ("int", "unix", "iso", "time", "str", "opt")
DEFAULT_BLOCK_BYTES = 32 << 20
#: Timestamps must lie in ``[0, LATEST_TIMESTAMP)`` Unix seconds (before 2100-01-01 UTC). A
#: listening log in milliseconds or microseconds read as seconds lands tens of thousands of
#: years ahead, and would silently decide which song each user's held-out item is.
LATEST_TIMESTAMP = 4_102_444_800
_SECONDS_PER_YEAR = 365.2425 * 86400
#: What a damaged ``.gz`` raises while being read.
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


@dataclass(frozen=True)
class Column:
    """One column of a delimited file: its name, kind, and whether the reader keeps it."""

    name: str
    kind: str
    keep: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column kind must be one of {KINDS}, got {self.kind!r}")


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open ``path`` for reading bytes (``.gz`` decompressed); a missing file is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def count_byte(block: bytes, byte: int) -> int:
    """Occurrences of ``byte`` in ``block`` (vectorised; faster than ``bytes.count``)."""
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == byte))


def iter_blocks(
    handle: IO[bytes], block_bytes: int = DEFAULT_BLOCK_BYTES, first_line: int = 1
) -> Iterator[tuple[int, bytes, int]]:
    """Yield ``(number of the block's first line, block, lines in it)``; every block ends at a
    line end."""
    line = first_line
    rest = b""
    while True:
        data = handle.read(block_bytes)
        if not data:
            break
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        block, rest = data[: cut + 1], data[cut + 1 :]
        lines = count_byte(block, 10)
        yield line, block, lines
        line += lines
    if rest:
        yield line, rest + b"\n", 1


class TableReader:
    """Reads one delimited file into typed DataFrame chunks.

    Args:
        path: the file (``.gz`` allowed).
        columns: the file's columns in order (for a file with a header, the header is checked
            against them).
        sep: the delimiter; ``"\\t"`` files are read without quoting, others with CSV quoting.
        header: whether the first line names the columns.
        log: where bad lines go.
        block_bytes: bytes per block.
        progress: show a progress bar (bytes) on stderr.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        columns: Sequence[Column],
        sep: str = "\t",
        header: bool = False,
        log: ErrorLog | None = None,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        progress: bool = False,
    ) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.sep = sep
        self.header = header
        self.log = log or ErrorLog()
        self.block_bytes = block_bytes
        self.progress = progress
        self.lines_read = 0

    @property
    def kept(self) -> list[Column]:
        return [c for c in self.columns if c.keep]

    def __iter__(self) -> Iterator[pd.DataFrame]:
        try:
            yield from self._blocks()
        except GZIP_ERRORS as error:
            raise damaged_gzip(self.path, error) from None

    def _blocks(self) -> Iterator[pd.DataFrame]:
        from tqdm import tqdm

        size = self.path.stat().st_size if self.path.is_file() else 0
        with open_binary(self.path) as handle:
            raw = handle.fileobj if isinstance(handle, gzip.GzipFile) else handle
            first = 1
            if self.header:
                handle.readline()
                first = 2
            bar = tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc=self.path.name,
                file=sys.stderr,
                disable=not self.progress,
                leave=False,
            )
            with bar:
                for start, block, lines in iter_blocks(handle, self.block_bytes, first):
                    self.lines_read += lines
                    frame = self._fast(block, lines)
                    if frame is None:
                        frame = self._slow(block, start)
                    bar.update(raw.tell() - bar.n)
                    if len(frame):
                        yield frame

    # -- the fast path -------------------------------------------------------------------------

    def _fast(self, block: bytes, lines: int) -> pd.DataFrame | None:
        tsv = self.sep == "\t"
        if tsv and count_byte(block, 9) != (len(self.columns) - 1) * lines:
            return None
        dtypes = {c.name: (np.int64 if c.kind in ("int", "unix") else str) for c in self.kept}
        try:
            frame = pd.read_csv(
                io.BytesIO(block),
                sep=self.sep,
                header=None,
                names=[c.name for c in self.columns],
                usecols=[c.name for c in self.kept],
                dtype=dtypes,
                quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
                na_filter=False,
                encoding="utf-8",
                engine="c",
                skip_blank_lines=False,
            )
            for column in self.kept:
                values = frame[column.name]
                if column.kind in ("iso", "time"):
                    frame[column.name] = values = _times(values)
                if column.kind in ("unix", "iso", "time"):
                    if ((values < 0) | (values >= LATEST_TIMESTAMP)).any():
                        return None  # the slow path names the line
                elif column.kind == "str" and (values == "").any():
                    return None
                elif column.kind == "opt" or column.kind == "str":
                    frame[column.name] = values.astype(object)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
            return None
        return frame

    # -- the slow path -------------------------------------------------------------------------

    def _slow(self, block: bytes, start: int) -> pd.DataFrame:
        rows: dict[str, list] = {c.name: [] for c in self.kept}
        lines = block.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for offset, raw in enumerate(lines):
            number = start + offset
            parsed = self._parse_line(raw, number)
            if parsed is not None:
                for name, value in parsed.items():
                    rows[name].append(value)
        frame = pd.DataFrame(rows)
        for column in self.kept:
            if column.kind in ("int", "unix", "iso", "time"):
                frame[column.name] = frame[column.name].astype(np.int64)
            else:
                frame[column.name] = frame[column.name].astype(object)
        return frame

    def _parse_line(self, raw: bytes, number: int) -> dict | None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            self.log.bad_line(
                self.path, number, f"bad encoding: byte {error.start} is not UTF-8", "encoding"
            )
            return None
        if self.sep == "\t":
            fields = text.split("\t")
        else:
            fields = next(csv.reader([text], delimiter=self.sep), [])
        if len(fields) != len(self.columns):
            self.log.bad_line(
                self.path,
                number,
                f"expected {len(self.columns)} columns, found {len(fields)}",
                "columns",
            )
            return None
        out = {}
        for column, value in zip(self.columns, fields, strict=True):
            if not column.keep:
                continue
            try:
                out[column.name] = _convert(value, column.kind)
            except ValueError as error:
                self.log.bad_line(
                    self.path, number, f"column {column.name!r}: {error}", column.kind
                )
                return None
        return out


def damaged_gzip(path: Path, error: BaseException) -> DataError:
    """The DataError for a ``.gz`` file that cannot be read to its end."""
    what = (
        "ends before its compressed data does (truncated, e.g. an interrupted download?)"
        if isinstance(error, EOFError)
        else f"is not valid gzip data ({error})"
    )
    return DataError(path, f"{what}; nothing was prepared from it. Fetch or compress it again.")


def check_timestamp(seconds: int, text: str | None = None) -> int:
    """``seconds`` if it is a plausible Unix time (see :data:`LATEST_TIMESTAMP`), else a
    ValueError saying what it probably is. ``text``: the date-time as written, if it was."""
    if text is not None and not 0 <= seconds < LATEST_TIMESTAMP:
        raise ValueError(
            f"{text[:40]!r} is not a plausible listening time (before 1970 or after 2099)"
        )
    if seconds < 0:
        raise ValueError(f"{seconds} is before 1970 (a negative Unix time)")
    if seconds >= LATEST_TIMESTAMP:
        year = 1970 + seconds / _SECONDS_PER_YEAR
        raise ValueError(
            f"{seconds} is not plausible as Unix seconds (the year {year:,.0f}); "
            "are the timestamps in milliseconds or microseconds? Convert them to seconds"
        )
    return seconds


def _convert(value: str, kind: str) -> object:
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"not an integer: {value[:40]!r}") from None
    if kind == "unix":
        try:
            seconds = int(value)
        except ValueError:
            raise ValueError(f"not an integer: {value[:40]!r}") from None
        return check_timestamp(seconds)
    if kind in ("iso", "time"):
        if kind == "time" and value.strip().lstrip("-").isdigit():
            return check_timestamp(int(value))
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a timestamp: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return check_timestamp(int(parsed.timestamp()), value.strip())
    if kind == "str" and value == "":
        raise ValueError("empty")
    return value


def _times(values: pd.Series) -> pd.Series:
    """Integer Unix seconds, or ISO 8601 text (naive times are UTC), as int64 Unix seconds."""
    text = values.astype(str)
    if text.str.fullmatch(r"-?\d+").all():
        return text.astype(np.int64)
    stamps = pd.to_datetime(text, format="ISO8601", utc=True)
    return (stamps.astype("datetime64[s, UTC]").astype(np.int64)).astype(np.int64)
