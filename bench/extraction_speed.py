"""Chord extraction speed in times real time, with one worker and with all workers.

Command (from the project root)::

    .venv/bin/python -m bench.extraction_speed                 # the four real recordings
    .venv/bin/python -m bench.extraction_speed --copies 4      # 16 files, enough to fill a pool
    .venv/bin/python -m bench.extraction_speed --audio DIR --workers 4 --rounds 3

Each measurement runs :func:`coat_tf.chords.extract.extract_many` into a fresh, empty cache, so
every file is decoded and run through Chordino. "1 worker" runs in this process after one
warm-up extraction (library imports and Chordino's first call are not counted): the speed of
one core. "N workers" starts a pool of N processes and counts everything, pool start-up and
each worker's warm-up included: what a user waits for. Figures are the best of ``--rounds``.
With ``--copies K`` every file is decoded once and written K times as 16-bit WAV at a slightly
different gain (so each copy has its own content hash and is really extracted): more files
than a handful are needed before a pool's start-up is paid back.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import coat_tf  # noqa: F401  (before anything that may import TensorFlow)
from coat_tf.chords.cache import default_workers
from coat_tf.chords.cli import AUDIO_EXTENSIONS
from coat_tf.chords.extract import ExtractorSettings, extract_file, extract_many
from coat_tf.paths import shared_data_dir


def measure(paths: list[Path], workers: int, settings: ExtractorSettings) -> tuple[float, float]:
    """(audio seconds, wall seconds) of one uncached extraction of ``paths``."""
    with tempfile.TemporaryDirectory(prefix="extraction_speed_") as cache:
        started = time.perf_counter()
        report = extract_many(paths, cache, settings, workers=workers, progress=False)
        seconds = time.perf_counter() - started
    if report.failures:
        raise SystemExit(f"extraction failed: {report.failures}")
    return report.audio_seconds, seconds


def make_copies(paths: list[Path], copies: int, folder: Path, sample_rate: int) -> list[Path]:
    """``copies`` WAV renditions of each file, each at its own gain (distinct content)."""
    import soundfile

    from coat_tf.chords.extract import load_audio

    out = []
    for path in paths:
        samples = load_audio(path, sample_rate)
        for copy in range(copies):
            target = folder / f"{path.stem}.{copy}.wav"
            soundfile.write(target, samples * (1.0 - 1e-3 * copy), sample_rate, subtype="PCM_16")
            out.append(target)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--audio",
        type=Path,
        default=shared_data_dir() / "audio",
        help="folder of audio files (default: the shared real recordings)",
    )
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="pool size (default: all cores)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="repeat and keep the best")
    parser.add_argument("--copies", type=int, default=1, help="WAV copies of each file")
    parser.add_argument("--sample-rate", type=int, default=22050, help="Hz (default: 22050)")
    args = parser.parse_args(argv)

    paths = sorted(p for p in args.audio.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not paths:
        raise SystemExit(f"no audio files in {args.audio}")
    settings = ExtractorSettings(sample_rate=args.sample_rate)
    extract_file(paths[0], settings)  # warm-up for the in-process measurement
    with tempfile.TemporaryDirectory(prefix="extraction_copies_") as folder:
        if args.copies > 1:
            paths = make_copies(paths, args.copies, Path(folder), args.sample_rate)
        run(paths, args, settings)
    return 0


def run(paths: list[Path], args: argparse.Namespace, settings: ExtractorSettings) -> None:
    print(f"{len(paths)} files from {args.audio}, sample rate {args.sample_rate} Hz")
    for workers in sorted({1, args.workers}):
        best = None
        for _ in range(args.rounds):
            audio, seconds = measure(paths, workers, settings)
            best = seconds if best is None else min(best, seconds)
        speed = audio / best
        print(
            f"{workers} worker{'s' if workers > 1 else ' '}: {audio:7.1f} s of audio in "
            f"{best:6.2f} s = {speed:6.1f}x real time ({speed / workers:6.1f}x per worker)"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
