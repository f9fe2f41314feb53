"""``python -m coat_tf.data prepare|stats``: prepare a data set, or print a prepared one's stats."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from coat_tf import add_version_option
from coat_tf.chords.key import CHORD_KEYS
from coat_tf.data.errors import DataError
from coat_tf.data.filtering import format_stats, since_timestamp
from coat_tf.data.prepare import prepare
from coat_tf.data.prepare_config import NEW_SONGS_BY, SOURCES, PrepareConfig, check_options


class _Default:
    """An option's default when not given: the source's own default (argparse would run a
    string default through the option's type, and ``None`` means "none", a real choice)."""

    def __repr__(self) -> str:
        return "per-source"


_PER_SOURCE = _Default()


def positive_int_or_none(text: str) -> int | None:
    """argparse type: a positive integer, or ``none`` (the step is turned off)."""
    if text.strip().lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'none' (to turn the step off), got {text!r}"
        )
    return value


def positive_int(text: str) -> int:
    """argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction strictly between 0 and 1 (e.g. 0.1), got {text!r}"
        )
    return value


def date_or_none(text: str) -> str | None:
    """argparse type: a date ``YYYY-MM-DD``, or ``none`` (no date step)."""
    if text.strip().lower() == "none":
        return None
    try:
        since_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date YYYY-MM-DD or 'none', got {text!r}"
        ) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m coat_tf.data", description=__doc__)
    add_version_option(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="raw listening data -> prepared data set")
    p.add_argument("--source", choices=SOURCES, required=True)
    p.add_argument(
        "--input",
        help="file or folder of the source; for ncf the prefix P of P.train.rating, "
        "P.test.rating and P.test.negative (not needed for demo)",
    )
    p.add_argument("--out", required=True, help="folder to create")
    p.add_argument(
        "--since",
        type=date_or_none,
        default=_PER_SOURCE,
        help="YYYY-MM-DD or none (default: 2014-01-01 for lfm1b and events without "
        "--order-column, none otherwise)",
    )
    p.add_argument(
        "--top-songs",
        type=positive_int_or_none,
        default=_PER_SOURCE,
        help="N most played songs, or none (default 10000; none for playlists)",
    )
    p.add_argument(
        "--min-user-interactions",
        type=positive_int_or_none,
        default=_PER_SOURCE,
        help="M, or none (default 10)",
    )
    p.add_argument(
        "--eval-negatives",
        type=positive_int,
        help="sampled negatives per user (default 99; for ncf the number its .test.negative "
        "file holds, which an explicit value must equal)",
    )
    p.add_argument("--seed", type=int)
    p.add_argument("--songs-without-chords", choices=("keep", "drop"))
    p.add_argument("--chord-vocabulary", choices=("majmin", "full"))
    p.add_argument(
        "--chord-key",
        choices=CHORD_KEYS,
        help="absolute: chords as they sound (the paper's, the default); relative: each song "
        "moved to a common tonic (C major / A minor) before the vocabulary",
    )
    p.add_argument(
        "--order-column",
        help="events only: the column that orders each user's events where it is not a "
        "timestamp (integers, e.g. position); --since does not apply then",
    )
    p.add_argument(
        "--chords",
        metavar="DIR",
        help="events only: a chord table (the --out of chords import or chords extract) that "
        "gives the songs' chords instead of audio",
    )
    p.add_argument(
        "--new-songs",
        type=fraction,
        metavar="FRACTION",
        help="hold this fraction of the songs out of the catalogue as new songs, with their "
        "own candidates (new_songs.tsv, new_valid.npz, new_test.npz); see docs/data.md",
    )
    p.add_argument(
        "--new-songs-by",
        choices=NEW_SONGS_BY,
        help="with --new-songs: time, the songs first heard latest (the default; sources "
        "ordered by time only), or random (seeded)",
    )
    p.add_argument("--shards", type=positive_int, dest="num_shards")
    p.add_argument("--compression", choices=("none", "gzip"))
    p.add_argument("--on-error", choices=("raise", "skip"))
    p.add_argument("--mfcc", action="store_true", default=None, help="also compute MFCCs")
    p.add_argument(
        "--validation-in-train",
        action="store_true",
        default=None,
        help="keep the validation items in training too, as NCF's code (a variant for measuring "
        "that; the epoch is then chosen on training items)",
    )
    p.add_argument(
        "--workers", type=positive_int, help="processes for audio work (default all cores)"
    )
    p.add_argument("--cache-dir", help="cache for chords, MFCCs and the demo")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    s = commands.add_parser("stats", help="print a prepared data set's statistics")
    s.add_argument("dir")
    s.add_argument("--json", action="store_true", help="print the manifest counts as JSON")
    return parser


def _prepare(args: argparse.Namespace) -> int:
    overrides = {
        name: getattr(args, name)
        for name in (
            "eval_negatives",
            "seed",
            "songs_without_chords",
            "chord_vocabulary",
            "chord_key",
            "order_column",
            "num_shards",
            "on_error",
            "mfcc",
            "validation_in_train",
            "new_songs",
            "new_songs_by",
        )
        if getattr(args, name) is not None
    }
    # "none" (None) turns a step off, so these are passed on whenever given at all
    for name in ("since", "top_songs", "min_user_interactions"):
        if getattr(args, name) is not _PER_SOURCE:
            overrides[name] = getattr(args, name)
    if args.compression is not None:
        overrides["compression"] = "GZIP" if args.compression == "gzip" else ""
    arguments = ("input", "workers", "cache_dir", "chords")
    check_options(args.source, [*overrides, *(a for a in arguments if getattr(args, a))])
    if args.new_songs_by is not None and args.new_songs is None:
        raise ValueError("--new-songs-by applies only with --new-songs FRACTION")
    config = PrepareConfig.for_source(args.source, **overrides)
    data = prepare(
        args.source,
        args.input,
        args.out,
        config,
        progress=not args.quiet,
        overwrite=args.overwrite,
        cache_dir=args.cache_dir,
        workers=args.workers,
        chords_dir=args.chords,
    )
    _print_stats(data.manifest)
    return 0


def _print_stats(manifest: dict) -> None:
    counts = manifest["counts"]
    print(format_stats(counts))
    print(
        f"train {counts['train']:,}, validation users {counts['valid']:,}, "
        f"test users {counts['test']:,}, songs without chords {counts['songs_without_chords']:,}, "
        f"skipped lines {counts.get('skipped_lines', 0):,}"
    )
    if "new_songs" in counts:
        print(
            f"new songs {counts['new_songs']:,} (valid shelf {counts['new_songs_valid']:,}, "
            f"test shelf {counts['new_songs_test']:,}), new-song rows: validation "
            f"{counts['new_valid']:,} of {counts['new_valid_users']:,} users, test "
            f"{counts['new_test']:,} of {counts['new_test_users']:,} users, "
            f"{counts['new_negatives']:,} negatives per row"
        )
    for step, values in manifest.get("steps", {}).items():
        shown = ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in values.items()
        )
        print(f"  {step}: {shown}")


def _stats(args: argparse.Namespace) -> int:
    """Print the counts, after checking every file and count against the manifest."""
    from coat_tf.data.manifest import read_manifest, verify_counts, verify_files

    manifest = read_manifest(args.dir)
    verify_files(args.dir, manifest)
    verify_counts(args.dir, manifest)
    listed = len(manifest.get("files", {}))
    if listed:
        print(
            f"{args.dir}: all {listed} data files and their counts match the manifest",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(manifest["counts"], indent=2))
    else:
        _print_stats(manifest)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status: 0 done, 2 bad input (an option, the input files,
    ``--out``, or a damaged prepared data set), with a message naming the file and line."""
    args = build_parser().parse_args(argv)
    try:
        return _prepare(args) if args.command == "prepare" else _stats(args)
    except (DataError, FileExistsError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
