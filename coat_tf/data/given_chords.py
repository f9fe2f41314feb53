"""Chords that do not come from audio, for a prepared data set.

- chord sheets (:func:`sheet_chords`, the playlists' ``songs.tsv.gz``): read by ``chords
  import``'s own functions (:func:`coat_tf.chords.importing.import_sheets`), whose report of
  the tokens that are not chords goes with the data set;
- a chord table folder (:func:`table_chords`): the ``--out`` of ``chords import`` or ``chords
  extract``, made with the same vocabulary, chord key and sequence length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coat_tf.data.errors import DataError

#: Unread tokens listed in the manifest (all of them are in ``chords_unread.tsv``).
TOP_UNREAD = 20
#: Songs without a readable chord listed in the manifest.
LISTED_FAILURES = 50


@dataclass
class SongChords:
    """Chords by song from chord sheets or a chord table (not from audio).

    Attributes:
        ids: each song's fixed-length chord ids (int32), for the songs with chords.
        failures: ``(where, reason)`` of the songs left without a chord.
        report: what the manifest records (``chords``), e.g. the share of tokens read.
        unread: ``(token, count, songs)`` of every token that is not a chord, most frequent
            first (chord sheets only; written as ``chords_unread.tsv``).
        names: display names by song (``artist - title``) where the table gives them.
    """

    ids: dict[str, np.ndarray]
    failures: list[tuple[str, str]] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    unread: list[tuple[str, int, int]] | None = None
    names: dict[str, str] = field(default_factory=dict)

    def table(self, songs: list[str], length: int) -> tuple[np.ndarray, np.ndarray]:
        """``(int32 [songs, length], has_chords bool [songs])`` in the order of ``songs``."""
        table = np.zeros((len(songs), length), dtype=np.int32)
        has = np.zeros(len(songs), dtype=bool)
        for row, song in enumerate(songs):
            ids = self.ids.get(song)
            if ids is not None:
                table[row], has[row] = ids, True
        return table, has


def sheet_chords(path: str | Path, songs: list[str], config) -> SongChords:
    """The chords of ``songs`` from the chord-sheet table ``path`` (the columns of ``chords
    import``'s defaults: ``song``, ``chords``, ``syntax``, ``capo``), read as ``chords import``
    reads them, with ``config``'s vocabulary, chord key and sequence length. Rows of other
    songs are checked, not imported (their tokens are not counted).

    Raises:
        DataError: the table cannot be read (the message names its file and line).
    """
    from coat_tf.chords import ChordVocabulary
    from coat_tf.chords.importing import import_sheets, unread_rows
    from coat_tf.chords.sheets import read_sheets

    try:
        sheets = read_sheets(path)
    except ValueError as error:
        raise DataError(None, str(error)) from None
    wanted = set(songs)
    sheets = [sheet for sheet in sheets if sheet.song in wanted]
    vocabulary = ChordVocabulary.from_name(config.chord_vocabulary)
    result = import_sheets(sheets, vocabulary, config.sequence_length, config.chord_key)
    counts = result.counts
    ids = {song: _ids(text) for song, _, text in result.table}
    report = {
        "from": "chord sheets",
        "table": str(path),
        "songs": len(ids),
        "songs_without_readable_chord": len(result.failures),
        "keys_given": sum(1 for _, _, origin, _ in result.keys if origin == "given"),
        "tokens": counts.tokens,
        "tokens_read": counts.read,
        "tokens_no_chord": counts.no_chord,
        "share_read": round(counts.share_read, 6),
        "songs_with_unread": len(counts.by_song),
        "unread_distinct": len(counts.unread),
        "most_unread": [[token, n] for token, n in counts.unread.most_common(TOP_UNREAD)],
    }
    failures = [(where, f"{song}: {reason}") for song, where, reason in result.failures]
    return SongChords(ids, failures, report, unread_rows(counts), _names(path, wanted))


def _names(path: str | Path, songs: set[str]) -> dict[str, str]:
    """``artist - title`` of ``songs`` where the table (already checked) has both columns."""
    import csv

    import pandas as pd

    columns = ("song", "artist", "title")
    table = pd.read_csv(
        path,
        sep="\t",
        usecols=lambda name: name in columns,
        dtype=str,
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
    )
    if not set(columns) <= set(table.columns):
        return {}
    table = table[table["song"].isin(songs)]
    names = table["artist"].str.strip() + " - " + table["title"].str.strip()
    return dict(zip(table["song"], names, strict=True))


def _ids(text: str) -> np.ndarray:
    return np.asarray([int(i) for i in text.split()], dtype=np.int32)


def table_chords(folder: str | Path, config) -> SongChords:
    """The chords of a chord table folder (``chords import`` / ``chords extract`` ``--out``:
    ``summary.json``, ``vocabulary.json``, ``chords.tsv``), checked against ``config``'s
    vocabulary, chord key and sequence length. A song whose ids are all ``N`` has no chords.

    Raises:
        DataError: a missing file, a table made with other settings, or a bad line of
            ``chords.tsv`` (the message names the file, the line and, for settings, the option
            that fits).
    """
    from coat_tf.chords import ChordVocabulary

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            folder, "no such folder (--chords names the --out of chords import or chords extract)"
        )
    summary = _summary(folder / "summary.json")
    vocabulary = ChordVocabulary.from_name(config.chord_vocabulary)
    _same_settings(folder / "summary.json", summary, config)
    try:
        made = ChordVocabulary.load(folder / "vocabulary.json")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(folder / "vocabulary.json", f"not a chord vocabulary ({error})") from None
    if made != vocabulary:
        raise DataError(
            folder / "vocabulary.json",
            f"is not the standard {vocabulary.name} vocabulary (its labels differ); make the "
            "chord table again with this version",
        )
    ids = _read_chords_tsv(folder / "chords.tsv", len(vocabulary), config.sequence_length)
    report = {
        "from": "chord table",
        "table": str(folder),
        "songs": sum(1 for row in ids.values() if row.any()),
        **{k: summary[k] for k in ("share_read", "tokens", "tokens_read") if k in summary},
    }
    return SongChords({s: row for s, row in ids.items() if row.any()}, [], report)


def _summary(path: Path) -> dict:
    if not path.is_file():
        raise DataError(
            path, "no such file; --chords names the --out of chords import or chords extract"
        )
    try:
        summary = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(path, f"not valid JSON ({error})") from None
    if not isinstance(summary, dict):
        raise DataError(path, "not a chord table summary (a JSON object)")
    return summary


def _same_settings(path: Path, summary: dict, config) -> None:
    """Refuse a chord table made with another vocabulary, chord key or sequence length."""
    checks = (
        ("vocabulary", summary.get("vocabulary"), config.chord_vocabulary, "--chord-vocabulary"),
        ("chord_key", summary.get("chord_key", "absolute"), config.chord_key, "--chord-key"),
    )
    for name, made, wanted, option in checks:
        if made != wanted:
            flag = "--" + name.replace("_", "-")
            raise DataError(
                path,
                f"the chord table was made with {name} {made!r}, not {wanted!r}: pass "
                f"{option} {made} to prepare, or make the table again with {flag} {wanted}",
            )
    if summary.get("sequence_length") != config.sequence_length:
        raise DataError(
            path,
            f"the chord table holds {summary.get('sequence_length')!r} chords a song, a prepared "
            f"data set {config.sequence_length}: make the table again with --length "
            f"{config.sequence_length}",
        )


def _read_chords_tsv(path: Path, size: int, length: int) -> dict[str, np.ndarray]:
    """``song -> ids`` of ``chords.tsv`` (``song, changes, chords``), every line checked."""
    if not path.is_file():
        raise DataError(path, "no such file (the chord table)")
    out: dict[str, np.ndarray] = {}
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(path, f"not UTF-8 text (byte {error.start + 1})") from None
    if not lines or lines[0].split("\t") != ["song", "changes", "chords"]:
        raise DataError(path, "expected the header 'song, changes, chords' (tab-separated)", 1)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0].strip():
            raise DataError(path, f"expected 3 tab-separated fields, found {len(fields)}", number)
        song = fields[0].strip()
        if song in out:
            raise DataError(path, f"song {song!r} appears twice", number)
        try:
            ids = _ids(fields[2])
        except ValueError:
            raise DataError(path, "the chords are not whole numbers (chord ids)", number) from None
        if len(ids) != length:
            raise DataError(path, f"{len(ids)} chord ids, expected {length}", number)
        if len(ids) and (ids.min() < 0 or ids.max() >= size):
            bad = int(ids.max() if ids.max() >= size else ids.min())
            raise DataError(
                path, f"chord id {bad} is outside the vocabulary (0..{size - 1})", number
            )
        out[song] = ids
    return out
