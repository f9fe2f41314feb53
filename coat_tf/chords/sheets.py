"""Chord sheets and annotations as input: a table of songs' chords -> Harte labels per song.

The table is tab-separated (``.gz`` allowed) with a header naming its columns: a song id, the
song's chords in order (separated by whitespace, or by ``separator``), and optionally the
chords' ``syntax`` (``harte`` or ``symbol``), the sheet's ``capo`` fret and the song's ``key``
(see :class:`SheetColumns`; the defaults are the columns of the playlists x chords set's
``songs.tsv.gz``).

Each token is read by its row's syntax: chord symbols by :func:`~coat_tf.chords.symbols.
symbol_to_harte` (moved up by the capo), Harte labels by the vocabulary's own reader (moved up
by the capo too, where one is given). A token that cannot be read is counted in
:class:`TokenCounts` (per token and per song) and left out of the song's chords; none is
mapped to a chord. No-chord tokens (``N.C.``, Harte's ``N`` and ``X``) are read, as no chord.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from coat_tf.chords.key import Key, parse_key
from coat_tf.chords.symbols import UnreadableSymbol, symbol_to_harte
from coat_tf.chords.vocabulary import parse_label, transpose_label

SYNTAXES = ("symbol", "harte")
#: Capo frets accepted (a guitar's neck).
MAX_CAPO = 24


@dataclass(frozen=True)
class SheetColumns:
    """The table's column names. ``syntax``, ``capo`` and ``key`` may be absent from the
    table when they are the defaults (every row then has the default syntax, capo 0 and an
    estimated key); a name given explicitly must be there."""

    song: str = "song"
    chords: str = "chords"
    syntax: str = "syntax"
    capo: str = "capo"
    key: str = "key"


@dataclass(frozen=True)
class Sheet:
    """One row of the table: where it is, the song, its tokens and how to read them."""

    source: str
    song: str
    tokens: tuple[str, ...]
    syntax: str
    capo: int
    key: Key | None


@dataclass
class TokenCounts:
    """What the reading found, over all songs.

    Attributes:
        tokens: tokens seen; read: tokens read as a chord or as no chord; no_chord: those
            read as no chord; tokens_by_syntax, read_by_syntax: the same by the rows' syntax;
            unread: unread tokens by token; unread_songs: songs in which
            each unread token occurs; by_song: per song ``(tokens, unread tokens)``, for the
            songs with at least one unread token.
    """

    tokens: int = 0
    read: int = 0
    tokens_by_syntax: Counter = field(default_factory=Counter)
    read_by_syntax: Counter = field(default_factory=Counter)
    no_chord: int = 0
    unread: Counter = field(default_factory=Counter)
    unread_songs: Counter = field(default_factory=Counter)
    by_song: dict[str, tuple[int, list[str]]] = field(default_factory=dict)

    @property
    def share_read(self) -> float:
        """Share of tokens read (1.0 for no tokens)."""
        return self.read / self.tokens if self.tokens else 1.0


def _field(fields: list[str], index: int | None) -> str:
    return fields[index].strip() if index is not None else ""


def _column(header: list[str], name: str, default: str, path: Path, required: bool) -> int | None:
    """The index of column ``name``; a missing default optional column is ``None``."""
    if name in header:
        return header.index(name)
    if required or name != default:
        raise ValueError(
            f"{path}:1: no column {name!r} in the header (columns: {', '.join(header)}); name "
            "the right one with the matching --*-column option"
        )
    return None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a UTF-8 text file, ``.gz`` decompressed; a damaged gzip or a
    line that is not UTF-8 is a ValueError naming the file (and line)."""
    from coat_tf.data.table import GZIP_ERRORS, damaged_gzip, open_binary

    try:
        with open_binary(path) as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield number, raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as error:
                    raise ValueError(
                        f"{path}:{number}: byte {error.start + 1} of the line is not UTF-8"
                    ) from None
    except GZIP_ERRORS as error:
        raise ValueError(str(damaged_gzip(path, error))) from None


def _capo(text: str, where: str) -> int:
    if not text:
        return 0
    try:
        capo = int(text)
    except ValueError:
        raise ValueError(f"{where}: capo {text[:20]!r} is not a whole number of frets") from None
    if not 0 <= capo <= MAX_CAPO:
        raise ValueError(f"{where}: capo {capo} is not a fret from 0 to {MAX_CAPO}")
    return capo


def read_sheets(
    path: str | os.PathLike,
    columns: SheetColumns = SheetColumns(),
    default_syntax: str = "symbol",
    separator: str | None = None,
) -> list[Sheet]:
    """The table's rows, checked (blank lines are skipped).

    Raises:
        ValueError: a missing file or column, a line with too few fields, an empty or repeated
            song id, an unknown syntax, a bad capo or key, a damaged ``.gz``, a table without
            songs (the message names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if default_syntax not in SYNTAXES:
        raise ValueError(f"--syntax must be one of {SYNTAXES}, got {default_syntax!r}")
    defaults = SheetColumns()
    lines = _lines(path)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise ValueError(f"{path}:1: empty; expected a header line naming the columns")
    header = [name.strip() for name in first[1].lstrip("\ufeff").split("\t")]
    song_at = _column(header, columns.song, defaults.song, path, required=True)
    chords_at = _column(header, columns.chords, defaults.chords, path, required=True)
    syntax_at = _column(header, columns.syntax, defaults.syntax, path, required=False)
    capo_at = _column(header, columns.capo, defaults.capo, path, required=False)
    key_at = _column(header, columns.key, defaults.key, path, required=False)
    sheets: list[Sheet] = []
    seen: dict[str, int] = {}
    for number, text in lines:
        if not text.strip():
            continue
        where = f"{path}:{number}"
        fields = text.split("\t")
        if len(fields) != len(header):
            raise ValueError(
                f"{where}: expected {len(header)} tab-separated fields, found {len(fields)}"
            )
        song = _field(fields, song_at)
        if not song:
            raise ValueError(f"{where}: empty song id (column {columns.song!r})")
        if song in seen:
            raise ValueError(
                f"{where}: song id {song!r} appears twice (first on line {seen[song]})"
            )
        seen[song] = number
        syntax = _field(fields, syntax_at).lower() or default_syntax
        if syntax not in SYNTAXES:
            raise ValueError(f"{where}: syntax {syntax!r} is not one of {', '.join(SYNTAXES)}")
        key_text = _field(fields, key_at)
        try:
            key = parse_key(key_text) if key_text else None
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        chords = fields[chords_at]
        tokens = chords.split(separator) if separator else chords.split()
        sheets.append(
            Sheet(
                source=where,
                song=song,
                tokens=tuple(t.strip() for t in tokens if t.strip()),
                syntax=syntax,
                capo=_capo(_field(fields, capo_at), where),
                key=key,
            )
        )
    if not sheets:
        raise ValueError(f"{path}: no songs (only a header and blank lines)")
    return sheets


def read_token(token: str, syntax: str, capo: int = 0) -> str | None:
    """The Harte label of one token, sounding with ``capo``; ``None`` for no chord.

    Raises:
        ValueError: not a chord in this syntax (the message names the token).
    """
    if syntax == "symbol":
        label = symbol_to_harte(token, capo)
        if label is not None:
            parse_label(label)  # a label the vocabularies cannot read is not read
        return label
    if parse_label(token) is None:
        return None
    return transpose_label(token, capo) if capo else token


def read_sheet(sheet: Sheet, counts: TokenCounts) -> list[str]:
    """The Harte labels of a sheet's chords in order (no-chord tokens as ``N``); unread tokens
    are left out and counted in ``counts``."""
    labels: list[str] = []
    unread: list[str] = []
    for token in sheet.tokens:
        try:
            label = read_token(token, sheet.syntax, sheet.capo)
        except (UnreadableSymbol, ValueError):
            unread.append(token)
            continue
        if label is None:
            counts.no_chord += 1
        labels.append("N" if label is None else label)
    counts.tokens += len(sheet.tokens)
    counts.read += len(sheet.tokens) - len(unread)
    counts.tokens_by_syntax[sheet.syntax] += len(sheet.tokens)
    counts.read_by_syntax[sheet.syntax] += len(sheet.tokens) - len(unread)
    if unread:
        counts.unread.update(unread)
        counts.unread_songs.update(set(unread))
        counts.by_song[sheet.song] = (len(sheet.tokens), unread)
    return labels
