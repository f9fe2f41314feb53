"""Chord-recognition accuracy of the extraction against real annotations (McGill Billboard).

For each song, its full-vocabulary annotation (``labs/NNNN.full.lab``, Harte syntax) is rendered
to audio with :mod:`coat_tf.chords.synth`, the audio goes through the project's Chordino
extraction (:func:`coat_tf.chords.extract.extract_many`), and the extracted chords are scored
against the annotation with mir_eval's MIREX ``majmin`` measure, duration-weighted:

    score(song) = sum_k d_k [ref_k == est_k] / sum_k d_k

over the intervals ``k`` of the merged reference and estimate segmentations, where ``d_k`` is
the interval's duration and only intervals whose reference reduces to major, minor or ``N`` count
(mir_eval ignores the others, such as ``sus4``, ``X`` and power chords). Chordino's labels
(``Bbm7``, ``C/E``) are mapped to Harte syntax by the ``full`` chord vocabulary
(:meth:`ChordVocabulary.normalize`: ``A#:min7``, ``C:maj``); ``majmin`` ignores the bass.

Two figures are printed: the mean of the per-song scores, and the overall duration-weighted
score (every scored second of every song counts the same). The audio is synthetic, so the score
measures the extraction on clean, known chords, not on real recordings.

Usage::

    python -m bench.billboard_accuracy --songs 100 --workers 2 [--json results.json]

Rendered audio and the extraction cache live in ``--work-dir`` (default
``$COAT_CACHE_DIR/billboard``, else ``~/.cache/coat_tf/billboard``): a killed run resumes.
Rendered audio is deleted at the end unless ``--keep-audio``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import coat_tf  # noqa: F401  (environment guard)
from coat_tf.chords.synth import SynthSettings, TimedLabel, read_lab, render_lab
from coat_tf.fileio import atomic_write_text

T = TypeVar("T")


@dataclass
class SongScore:
    """One song: its id, majmin score, and the seconds that were scored."""

    song_id: str
    score: float
    scored_seconds: float


@dataclass
class BillboardResult:
    """Per-song scores, skipped songs ``(id, reason)``, and timings."""

    songs: list[SongScore] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    render_seconds: float = 0.0
    extract_seconds: float = 0.0
    audio_seconds: float = 0.0

    @property
    def mean(self) -> float:
        """Mean of the per-song scores."""
        return float(np.mean([s.score for s in self.songs])) if self.songs else float("nan")

    @property
    def overall(self) -> float:
        """Duration-weighted score over all scored seconds of all songs."""
        weights = np.array([s.scored_seconds for s in self.songs])
        if not self.songs or weights.sum() <= 0:
            return float("nan")
        return float(np.average([s.score for s in self.songs], weights=weights))


def song_ids(billboard_dir: Path) -> list[str]:
    """Ids of the songs that have a full-vocabulary annotation, in numeric order."""
    labs = Path(billboard_dir) / "labs"
    if not labs.is_dir():
        raise FileNotFoundError(f"{labs}: no such folder (expected the McGill Billboard labs)")
    ids = [p.name.split(".")[0] for p in labs.glob("*.full.lab")]
    return sorted(ids, key=lambda s: (len(s), s))


def majmin_score(reference: Sequence[TimedLabel], estimate: Sequence) -> tuple[float, float]:
    """MIREX ``majmin`` of extracted segments against reference labels, duration-weighted.

    Args:
        reference: ``(start, end, Harte label)`` triples.
        estimate: :class:`~coat_tf.chords.extract.ChordSegment` items (Chordino labels).

    Returns:
        ``(score, scored_seconds)``; the score is 0 when nothing could be scored.
    """
    import mir_eval

    from coat_tf.chords.vocabulary import ChordVocabulary

    vocabulary = ChordVocabulary.from_name("full")
    ref_intervals = np.array([[s, e] for s, e, _ in reference], dtype=float)
    ref_labels = [label for _, _, label in reference]
    est_intervals = np.array([[s.start, s.end] for s in estimate], dtype=float).reshape(-1, 2)
    est_labels = [vocabulary.normalize(s.label) for s in estimate]
    if not len(est_labels):
        est_intervals, est_labels = ref_intervals[:1].copy(), ["N"]
    low, high = ref_intervals.min(), ref_intervals.max()
    est_intervals, est_labels = mir_eval.util.adjust_intervals(
        est_intervals, est_labels, low, high, "N", "N"
    )
    intervals, ref, est = mir_eval.util.merge_labeled_intervals(
        ref_intervals, ref_labels, est_intervals, est_labels
    )
    durations = mir_eval.util.intervals_to_durations(intervals)
    comparisons = mir_eval.chord.majmin(ref, est)
    scored = float(durations[comparisons >= 0].sum())
    if scored <= 0:
        return 0.0, 0.0
    return float(mir_eval.chord.weighted_accuracy(comparisons, durations)), scored


def _render_job(job: tuple[str, str, SynthSettings]) -> tuple[str, float | None, str | None]:
    lab, out, settings = job
    try:
        return lab, render_lab(lab, out, settings), None
    except (ValueError, OSError) as error:
        return lab, None, str(error)


def _ticking(items: Iterable[T], bar: Any) -> Iterator[T]:
    """Pass ``items`` through, ticking the progress bar once per item."""
    for item in items:
        bar.update(1)
        yield item


def run_benchmark(
    billboard_dir: Path,
    ids: Sequence[str],
    work_dir: Path,
    workers: int = 1,
    keep_audio: bool = False,
    progress: bool = True,
) -> BillboardResult:
    """Render, extract and score the given songs (see the module docstring)."""
    from tqdm import tqdm

    from coat_tf.chords.extract import ExtractorSettings, extract_many

    result = BillboardResult()
    audio_dir = Path(work_dir) / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    labs = {i: Path(billboard_dir) / "labs" / f"{i}.full.lab" for i in ids}
    audio = {i: audio_dir / f"{i}.flac" for i in ids}
    started = time.perf_counter()
    jobs = [(str(labs[i]), str(audio[i]), SynthSettings()) for i in ids if not audio[i].is_file()]
    bar = tqdm(total=len(jobs), desc="render", unit="song", file=sys.stderr, disable=not progress)
    failed: dict[str, str] = {}
    with bar:
        if workers > 1 and len(jobs) > 1:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                outcomes = list(_ticking(pool.map(_render_job, jobs), bar))
        else:
            outcomes = list(_ticking(map(_render_job, jobs), bar))
    for lab, _, error in outcomes:
        if error is not None:
            failed[Path(lab).name.split(".")[0]] = error
    result.render_seconds = time.perf_counter() - started

    started = time.perf_counter()
    wanted = [i for i in ids if i not in failed]
    report = extract_many(
        [str(audio[i]) for i in wanted],
        Path(work_dir) / "chord_cache",
        ExtractorSettings(),
        workers=workers,
        progress=progress,
    )
    result.extract_seconds = time.perf_counter() - started
    result.audio_seconds = report.audio_seconds
    failed.update({Path(p).name.split(".")[0]: reason for p, reason in report.failures})
    for i in ids:
        if i in failed:
            result.skipped.append((i, failed[i]))
            continue
        score, seconds = majmin_score(read_lab(labs[i]), report.chords[str(audio[i])])
        if seconds <= 0:
            result.skipped.append((i, "no major/minor/N reference to score"))
            continue
        result.songs.append(SongScore(i, score, seconds))
    if not keep_audio:
        for path in audio.values():
            path.unlink(missing_ok=True)
    return result


def main(argv: Sequence[str] | None = None) -> BillboardResult:
    from coat_tf.chords.cache import default_workers
    from coat_tf.paths import cache_dir, shared_data_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=100, help="first N annotated songs (100)")
    parser.add_argument("--workers", type=int, default=None, help="processes (all cores)")
    parser.add_argument("--billboard", type=Path, default=None, help="McGill Billboard folder")
    parser.add_argument("--work-dir", type=Path, default=None, help="audio and cache folder")
    parser.add_argument("--keep-audio", action="store_true", help="keep the rendered audio")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--verbose", action="store_true", help="print every song's score")
    args = parser.parse_args(argv)
    if args.songs < 1:
        parser.error(f"--songs must be >= 1, got {args.songs}")
    billboard = args.billboard or shared_data_dir() / "billboard"
    work_dir = args.work_dir or cache_dir() / "billboard"
    ids = song_ids(billboard)[: args.songs]
    workers = args.workers or default_workers()
    started = time.perf_counter()
    result = run_benchmark(billboard, ids, work_dir, workers, keep_audio=args.keep_audio)
    total = time.perf_counter() - started
    if args.verbose:
        for song in result.songs:
            print(f"{song.song_id}\t{song.score:.4f}\t{song.scored_seconds:.1f} s")
    for song_id, reason in result.skipped:
        print(f"skipped {song_id}: {reason}", file=sys.stderr)
    print(
        "Billboard chord accuracy (synthesised audio, Chordino, mir_eval MIREX majmin, "
        "duration-weighted)"
    )
    print(f"songs scored: {len(result.songs)} (skipped {len(result.skipped)}), workers {workers}")
    print(f"mean per-song majmin: {result.mean:.4f}")
    print(f"overall duration-weighted majmin: {result.overall:.4f}")
    print(
        f"time: {total:.1f} s (render {result.render_seconds:.1f} s, extract "
        f"{result.extract_seconds:.1f} s for {result.audio_seconds:.0f} s of audio)"
    )
    if args.json:
        payload = {
            "songs": [asdict(s) for s in result.songs],
            "skipped": result.skipped,
            "mean": result.mean,
            "overall": result.overall,
            "count": len(result.songs),
            "seconds": total,
        }
        atomic_write_text(args.json, json.dumps(payload, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
