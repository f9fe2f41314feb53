"""``python -m coat_tf.chords import TABLE --out DIR``: chord sheets and annotations to the
chord table that ``extract`` writes from audio.

Each song's chords are read (:mod:`coat_tf.chords.sheets`), optionally moved to a common
tonic (``--chord-key relative``, :mod:`coat_tf.chords.key`), and turned into a fixed-length
sequence exactly as extracted chords are (:func:`~coat_tf.chords.sequence.label_changes`,
:func:`~coat_tf.chords.sequence.fix_length`). ``--out`` receives:

- ``vocabulary.json``, ``chords.tsv`` (``song, changes, chords``) and ``summary.json``, as
  ``extract`` writes them;
- ``failures.tsv`` (``song, path, reason``; ``path`` is ``TABLE:LINE``): songs left out of
  ``chords.tsv`` because not one of their tokens is a chord;
- ``unread.tsv`` (``token, count, songs``): every token that is not a chord, most frequent
  first; ``unread_songs.tsv`` (``song, tokens, unread, examples``) per song that has any;
- ``labels.jsonl``: per song ``{"song", "source", "labels"}``, the Harte labels read (after
  the capo, before the key);
- ``keys.tsv`` (``song, key, from, shift``) with ``--chord-key relative``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from coat_tf.chords.cli import AllFailedError, _tsv, _write_json, check_out
from coat_tf.chords.key import key_relative, relative_shift
from coat_tf.chords.sequence import SequenceStats, fix_length, label_changes
from coat_tf.chords.sheets import (
    SYNTAXES,
    Sheet,
    SheetColumns,
    TokenCounts,
    read_sheet,
    read_sheets,
)
from coat_tf.chords.vocabulary import ChordVocabulary
from coat_tf.fileio import atomic_write_text

#: Unread tokens listed in ``summary.json`` (all of them are in ``unread.tsv``).
TOP_UNREAD = 20


def _columns(args: argparse.Namespace) -> SheetColumns:
    return SheetColumns(
        song=args.song_column,
        chords=args.chords_column,
        syntax=args.syntax_column,
        capo=args.capo_column,
        key=args.key_column,
    )


def unread_rows(counts: TokenCounts) -> list[tuple[str, int, int]]:
    """``(token, count, songs)`` of every unread token, most frequent first (``unread.tsv``)."""
    return [(token, n, counts.unread_songs[token]) for token, n in counts.unread.most_common()]


def _unread_song_rows(counts: TokenCounts) -> list[tuple[str, int, int, str]]:
    rows = []
    for song, (tokens, unread) in counts.by_song.items():
        examples = " ".join(dict.fromkeys(unread))
        rows.append((song, tokens, len(unread), examples[:200]))
    return rows


@dataclass
class Imported:
    """The songs read: ``table`` rows ``(song, changes, ids)``, ``failures`` ``(song, TABLE:LINE,
    reason)``, ``labels`` (``labels.jsonl`` lines), ``keys`` ``(song, key, from, shift)``, and
    the token and sequence counts."""

    table: list[tuple[str, int, str]] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    keys: list[tuple[str, str, str, int]] = field(default_factory=list)
    counts: TokenCounts = field(default_factory=TokenCounts)
    stats: SequenceStats = field(default_factory=SequenceStats)


def import_sheets(
    sheets: list[Sheet], vocabulary: ChordVocabulary, length: int, chord_key: str
) -> Imported:
    """Each sheet's chords as a fixed-length id sequence (see the module docstring)."""
    result = Imported()
    for sheet in sheets:
        labels = read_sheet(sheet, result.counts)
        record = {"song": sheet.song, "source": sheet.source, "labels": labels}
        result.labels.append(json.dumps(record, ensure_ascii=False))
        if chord_key == "relative":
            labels, key = key_relative(labels, sheet.key)
            if key is not None:
                origin = "given" if sheet.key is not None else "estimated"
                result.keys.append((sheet.song, str(key), origin, relative_shift(key)))
        changes = label_changes(labels, vocabulary)
        if not changes:
            unread = len(result.counts.by_song.get(sheet.song, (0, []))[1])
            reason = f"no readable chord ({len(sheet.tokens)} tokens, {unread} not chords)"
            result.failures.append((sheet.song, sheet.source, reason))
            continue
        result.stats.add(changes, length)
        ids = " ".join(str(int(i)) for i in fix_length(changes, length))
        result.table.append((sheet.song, len(changes), ids))
    return result


def _summary(
    args: argparse.Namespace,
    sheets: list[Sheet],
    result: Imported,
    vocabulary: ChordVocabulary,
) -> dict[str, Any]:
    counts, stats = result.counts, result.stats
    syntaxes = {
        name: {
            "rows": sum(s.syntax == name for s in sheets),
            "tokens": counts.tokens_by_syntax[name],
            "tokens_read": counts.read_by_syntax[name],
            "share_read": round(
                counts.read_by_syntax[name] / max(counts.tokens_by_syntax[name], 1), 6
            ),
        }
        for name in SYNTAXES
    }
    return {
        "songs": len(result.table),
        "inputs": len(sheets),
        "failed": len(result.failures),
        "no_chord_songs": stats.no_chord,
        "truncated_songs": stats.truncated,
        "repeated_songs": stats.repeated,
        "sequence_length": args.length,
        "vocabulary": vocabulary.name,
        "vocabulary_size": len(vocabulary),
        "chord_key": args.chord_key,
        "table": str(args.table),
        "by_syntax": syntaxes,
        "capo_rows": sum(s.capo != 0 for s in sheets),
        "tokens": counts.tokens,
        "tokens_read": counts.read,
        "tokens_no_chord": counts.no_chord,
        "tokens_unread": counts.tokens - counts.read,
        "share_read": round(counts.share_read, 6),
        "songs_with_unread": len(counts.by_song),
        "unread_distinct": len(counts.unread),
        "most_unread": [[token, n] for token, n in counts.unread.most_common(TOP_UNREAD)],
        "parser": f"pychord {metadata.version('pychord')}",
    }


def _write(out: Path, result: Imported, vocabulary: ChordVocabulary, chord_key: str) -> None:
    """Every file but ``summary.json``, each written atomically."""
    vocabulary.save(out / "vocabulary.json")
    atomic_write_text(out / "chords.tsv", _tsv(("song", "changes", "chords"), result.table))
    atomic_write_text(out / "failures.tsv", _tsv(("song", "path", "reason"), result.failures))
    unread = unread_rows(result.counts)
    atomic_write_text(out / "unread.tsv", _tsv(("token", "count", "songs"), unread))
    atomic_write_text(
        out / "unread_songs.tsv",
        _tsv(("song", "tokens", "unread", "examples"), _unread_song_rows(result.counts)),
    )
    atomic_write_text(out / "labels.jsonl", "".join(line + "\n" for line in result.labels))
    if chord_key == "relative":
        atomic_write_text(out / "keys.tsv", _tsv(("song", "key", "from", "shift"), result.keys))


def run_import(args: argparse.Namespace) -> int:
    """The ``import`` command (see the module docstring); returns 0, raises on bad input
    (ValueError) or when no song has a chord (AllFailedError)."""
    vocabulary = ChordVocabulary.from_name(args.vocabulary)
    sheets = read_sheets(args.table, _columns(args), args.syntax, args.separator)
    out = Path(args.out)
    check_out(out)
    result = import_sheets(sheets, vocabulary, args.length, args.chord_key)
    _write(out, result, vocabulary, args.chord_key)
    _write_json(out / "summary.json", _summary(args, sheets, result, vocabulary))
    if not result.table:
        raise AllFailedError(
            f"none of the {len(sheets)} songs has a readable chord, so {out} holds no results; "
            f"the tokens that could not be read are in {out / 'unread.tsv'}"
        )
    if not args.quiet:
        counts = result.counts
        print(
            f"{len(result.table)} songs written to {out}, {len(result.failures)} without a "
            f"readable chord; {counts.share_read:.2%} of {counts.tokens} tokens read "
            f"({len(counts.unread)} distinct unread tokens in unread.tsv)",
            file=sys.stderr,
        )
    return 0
