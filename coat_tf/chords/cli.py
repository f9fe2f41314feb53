"""Command line: ``python -m coat_tf.chords extract|mfcc INPUT --out DIR [options]``, and
``python -m coat_tf.chords import TABLE --out DIR`` for chord sheets and annotations (see
:mod:`coat_tf.chords.importing`).

INPUT is a folder (searched recursively for audio files) or a list file: one audio path per
line, optionally followed by a tab and a song id; relative paths are taken from the list file's
folder; blank lines and lines starting with ``#`` are skipped. A song's id is its path relative
to the folder, or the song id column, or else the path as written in the list.

``extract`` writes into ``--out``:

- ``vocabulary.json``: the chord vocabulary (``ChordVocabulary.load`` reads it);
- ``chords.tsv``: ``song, changes, chords``: the number of chord changes found and the
  fixed-length sequence of chord ids, space-separated (see :mod:`coat_tf.chords.sequence`);
- ``segments.jsonl``: per song ``{"song", "path", "segments": [[label, start, end], ...]}``
  with Chordino's raw labels and times in seconds;
- ``failures.tsv``: ``song, path, reason`` of every file that failed;
- ``summary.json``: counts (songs, extracted, cached, failed, no-chord, truncated, repeated),
  seconds, audio seconds, times real time, workers and settings.

``mfcc`` writes ``mfcc.npy`` (float32 ``[songs, n_mfcc, frames]``), ``songs.tsv`` (``row,
song``), ``failures.tsv`` and ``summary.json``. Cache records go to ``--cache`` (default
``OUT/cache``), so a killed run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coat_tf import add_version_option
from coat_tf.chords.cache import default_workers
from coat_tf.chords.extract import AudioError, ExtractorSettings, extract_many, segments_to_json
from coat_tf.chords.key import CHORD_KEYS, relative_shift
from coat_tf.chords.mfcc import POSITIONS, MfccSettings, mfcc_many
from coat_tf.chords.sequence import (
    SEQUENCE_LENGTH,
    SequenceStats,
    chord_changes,
    fix_length,
    keyed_segments,
)
from coat_tf.chords.vocabulary import VOCABULARY_NAMES, ChordVocabulary
from coat_tf.fileio import atomic_write_bytes, atomic_write_text, remove_stale_temporaries

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".m4a")


def list_inputs(source: str | Path) -> list[tuple[str, str]]:
    """``(song id, audio path)`` pairs from a folder or a list file.

    Raises:
        ValueError: missing input, a malformed list line or a repeated song id (the message
            names the file and line).
    """
    source = Path(source)
    pairs: list[tuple[str, str]] = []
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
                pairs.append((path.relative_to(source).as_posix(), str(path)))
    elif source.is_file():
        for number, raw in enumerate(source.read_bytes().splitlines(), start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{source}:{number}: byte {error.start + 1} of the line is not UTF-8 "
                    "(a list file holds one audio path per line, as UTF-8 text)"
                ) from None
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) > 2 or not fields[0].strip():
                raise ValueError(f"{source}:{number}: expected 'PATH' or 'PATH<TAB>SONG_ID'")
            written = fields[0].strip()
            song = fields[1].strip() if len(fields) == 2 and fields[1].strip() else written
            pairs.append((song, str(source.parent / written)))
    else:
        raise ValueError(f"{source}: no such folder or list file")
    seen: set[str] = set()
    for song, path in pairs:
        if song in seen:
            raise ValueError(f"{source}: song id {song!r} appears twice (last for {path})")
        if "\t" in song or "\n" in song:
            raise ValueError(f"{source}: song id {song!r} contains a tab or newline")
        seen.add(song)
    return pairs


def check_inputs(source: str | Path, pairs: list[tuple[str, str]]) -> None:
    """Refuse an input that names no audio file at all (nothing to do is not success)."""
    if pairs:
        return
    source = Path(source)
    if source.is_dir():
        raise ValueError(
            f"{source}: no audio files in this folder or below it (looked for "
            f"{', '.join(AUDIO_EXTENSIONS)})"
        )
    raise ValueError(f"{source}: the list names no audio files (only blank or # lines)")


def check_out(out: Path) -> None:
    """Create the output folder now, so that a bad ``--out`` fails before any work."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file; --out must name a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {out}: cannot create it ({error.strerror or error})") from None
    remove_stale_temporaries(out)  # left by a killed run


class AllFailedError(Exception):
    """Every input file failed; ``failures.tsv`` says why for each."""


def _all_failed(out: Path, failures: list[tuple[str, str, str]]) -> None:
    if failures:
        reasons = sorted({reason for _, _, reason in failures})
        raise AllFailedError(
            f"all {len(failures)} input files failed, so {out} holds no results; the "
            f"reasons are in {out / 'failures.tsv'} (for example: {reasons[0]})"
        )


def _tsv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["\t".join(header)] + ["\t".join(str(value) for value in row) for row in rows]
    return "\n".join(lines) + "\n"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _run_import(args: argparse.Namespace) -> int:
    from coat_tf.chords.importing import run_import

    return run_import(args)


def run_extract(args: argparse.Namespace) -> int:
    settings = ExtractorSettings(sample_rate=args.sample_rate)
    vocabulary = ChordVocabulary.from_name(args.vocabulary)
    pairs = list_inputs(args.input)
    check_inputs(args.input, pairs)
    out = Path(args.out)
    check_out(out)
    report = extract_many(
        [path for _, path in pairs],
        args.cache or out / "cache",
        settings=settings,
        workers=args.workers,
        stop_on_error=args.stop_on_error,
        progress=not args.quiet,
    )
    failed = dict(report.failures)
    stats = SequenceStats()
    table, segments_lines, failures, keys = [], [], [], []
    for song, path in pairs:
        if path in failed:
            failures.append((song, path, failed[path]))
            continue
        segments = report.chords[path]
        try:
            moved, key = keyed_segments(segments, args.chord_key)
            if key is not None:
                keys.append((song, str(key), "estimated", relative_shift(key)))
            changes = chord_changes(moved, vocabulary)
        except ValueError as error:
            failures.append((song, path, str(error)))
            continue
        stats.add(changes, args.length)
        ids = fix_length(changes, args.length)
        table.append((song, len(changes), " ".join(str(int(i)) for i in ids)))
        record = {"song": song, "path": path, "segments": segments_to_json(segments)}
        segments_lines.append(json.dumps(record, ensure_ascii=False))
    vocabulary.save(out / "vocabulary.json")
    atomic_write_text(out / "chords.tsv", _tsv(("song", "changes", "chords"), table))
    atomic_write_text(out / "segments.jsonl", "".join(line + "\n" for line in segments_lines))
    atomic_write_text(out / "failures.tsv", _tsv(("song", "path", "reason"), failures))
    if args.chord_key == "relative":
        atomic_write_text(out / "keys.tsv", _tsv(("song", "key", "from", "shift"), keys))
    summary = {
        "songs": len(table),
        "inputs": len(pairs),
        "failed": len(failures),
        "chord_key": args.chord_key,
        "extracted": report.extracted,
        "cached": report.cached,
        "copies": report.copies,
        "no_chord_songs": stats.no_chord,
        "truncated_songs": stats.truncated,
        "repeated_songs": stats.repeated,
        "sequence_length": args.length,
        "vocabulary": vocabulary.name,
        "vocabulary_size": len(vocabulary),
        "seconds": round(report.seconds, 3),
        "audio_seconds": round(report.audio_seconds, 3),
        "times_real_time": round(report.times_real_time, 2),
        "workers": args.workers or default_workers(),
        "settings": settings.to_dict(),
        "settings_key": settings.cache_key(),
    }
    _write_json(out / "summary.json", summary)
    if not table:
        _all_failed(out, failures)
    print(
        f"{len(table)} songs written to {out} ({stats.no_chord} without chords, "
        f"{stats.truncated} truncated), {len(failures)} failed",
        file=sys.stderr,
    )
    return 0


def run_mfcc(args: argparse.Namespace) -> int:
    settings = MfccSettings(
        sample_rate=args.sample_rate,
        n_mfcc=args.n_mfcc,
        excerpt_seconds=args.excerpt_seconds,
        position=args.position,
    )
    pairs = list_inputs(args.input)
    check_inputs(args.input, pairs)
    out = Path(args.out)
    check_out(out)
    report = mfcc_many(
        [path for _, path in pairs],
        args.cache or out / "cache",
        settings=settings,
        workers=args.workers,
        stop_on_error=args.stop_on_error,
        progress=not args.quiet,
    )
    failed = dict(report.failures)
    songs = [(song, path) for song, path in pairs if path not in failed]
    failures = [(song, path, failed[path]) for song, path in pairs if path in failed]
    shape = (len(songs), settings.n_mfcc, settings.frames)
    features = np.zeros(shape, dtype=np.float32)
    for row, (_, path) in enumerate(songs):
        features[row] = report.features[path]
    buffer = io.BytesIO()
    np.save(buffer, features, allow_pickle=False)
    atomic_write_bytes(out / "mfcc.npy", buffer.getvalue())
    rows = [(row, song) for row, (song, _) in enumerate(songs)]
    atomic_write_text(out / "songs.tsv", _tsv(("row", "song"), rows))
    atomic_write_text(out / "failures.tsv", _tsv(("song", "path", "reason"), failures))
    summary = {
        "songs": len(songs),
        "inputs": len(pairs),
        "failed": len(failures),
        "extracted": report.extracted,
        "cached": report.cached,
        "copies": report.copies,
        "shape": list(shape),
        "seconds": round(report.seconds, 3),
        "workers": args.workers or default_workers(),
        "settings": settings.to_dict(),
        "settings_key": settings.cache_key(),
    }
    _write_json(out / "summary.json", summary)
    if not songs:
        _all_failed(out, failures)
    print(f"{len(songs)} songs written to {out}, {len(failures)} failed", file=sys.stderr)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _import_doc() -> str:
    from coat_tf.chords import importing

    return importing.__doc__ or ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m coat_tf.chords",
        description="Chord sequences (Chordino, or chord sheets and annotations) and MFCC "
        "excerpts from audio files.",
    )
    add_version_option(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "input",
        help="a folder of audio files (searched recursively) or a list file: one path per "
        "line, optionally PATH<TAB>SONG_ID; relative paths are read from the list's folder",
    )
    common.add_argument("--out", required=True, help="output folder (created if missing)")
    common.add_argument(
        "--cache", default=None, help="folder of resumable cache records (default: OUT/cache)"
    )
    common.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="worker processes (default: all cores; 1 runs in this process)",
    )
    common.add_argument(
        "--sample-rate",
        type=_positive_int,
        default=22050,
        help="audio is resampled to this rate in Hz before analysis (default: 22050)",
    )
    common.add_argument(
        "--stop-on-error",
        action="store_true",
        help="stop at the first unreadable, empty or silent file instead of recording it",
    )
    common.add_argument("--quiet", action="store_true", help="no progress bar or summary line")

    sequences = argparse.ArgumentParser(add_help=False)
    sequences.add_argument(
        "--vocabulary",
        choices=VOCABULARY_NAMES,
        default="majmin",
        help="chord vocabulary: majmin (24 chords + N) or full (12 roots x 17 qualities + N); "
        "default: majmin",
    )
    sequences.add_argument(
        "--length",
        type=_positive_int,
        default=SEQUENCE_LENGTH,
        help=f"chord ids per song: shorter progressions repeat, longer ones keep their first "
        f"changes (default: {SEQUENCE_LENGTH})",
    )
    sequences.add_argument(
        "--chord-key",
        choices=CHORD_KEYS,
        default="absolute",
        help="absolute: chords as they sound (the paper's); relative: each song moved to a "
        "common tonic (C major / A minor) before the vocabulary, its key estimated from its "
        "chords (see coat_tf/chords/key.py) or, for import, taken from the key column "
        "(default: absolute)",
    )
    extract = commands.add_parser(
        "extract",
        parents=[common, sequences],
        help="chord sequences with Chordino",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    extract.set_defaults(run=run_extract)

    sheets = commands.add_parser(
        "import",
        parents=[sequences],
        help="chord sequences from chord sheets or annotations (a table of songs' chords)",
        description=_import_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sheets.add_argument(
        "table",
        help="tab-separated table (.gz allowed) with a header: a song id column, a chords "
        "column (chords in order) and optionally syntax (harte|symbol), capo and key columns",
    )
    sheets.add_argument("--out", required=True, help="output folder (created if missing)")
    for name, default, what in (
        ("song", "song", "song ids"),
        ("chords", "chords", "the chords, in order"),
        ("syntax", "syntax", "harte or symbol per row; if absent, --syntax for every row"),
        ("capo", "capo", "the capo fret per row; if absent, 0"),
        ("key", "key", "the song's key (G, Em, A:min); if absent, estimated"),
    ):
        sheets.add_argument(
            f"--{name}-column", default=default, help=f"column of {what} (default: {default})"
        )
    sheets.add_argument(
        "--syntax",
        choices=("symbol", "harte"),
        default="symbol",
        help="syntax of rows without one: chord symbols (Am7, D/F#) or Harte labels (A:min7, "
        "D:maj/3) (default: symbol)",
    )
    sheets.add_argument(
        "--separator",
        default=None,
        help="what separates the chords in the chords column (default: any whitespace)",
    )
    sheets.add_argument("--quiet", action="store_true", help="no summary line")
    sheets.set_defaults(run=_run_import)

    mfcc = commands.add_parser(
        "mfcc", parents=[common], help="MFCCs of a fixed-length excerpt (audio baselines)"
    )
    mfcc.add_argument("--n-mfcc", type=_positive_int, default=20, help="coefficients (default: 20)")
    mfcc.add_argument(
        "--excerpt-seconds",
        type=float,
        default=30.0,
        help="excerpt length in seconds; shorter songs are looped (default: 30)",
    )
    mfcc.add_argument(
        "--position",
        choices=POSITIONS,
        default="middle",
        help="where the excerpt is taken from (default: middle)",
    )
    mfcc.set_defaults(run=run_mfcc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status: 0 done (some files may have failed: see
    ``failures.tsv``), 1 stopped on a bad file (``--stop-on-error``) or every file failed, 2 bad
    input (no audio files, a bad list file or ``--out``)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (AudioError, AllFailedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
