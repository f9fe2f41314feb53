"""Building the demo folder: render the songs, extract their chords, draw the listeners.

The folder (:func:`build_demo`): ``events.tsv`` (``user_id track_id timestamp audio_path``),
``audio/<track_id>.flac``, ``labels/<track_id>.lab`` (true timed chords), ``catalogue.tsv``,
``chords.tsv`` (the extracted chords), ``planted.json`` (planted chords, which users carry
which, the strength, ``share_i(c)`` and the measured over-representation), ``demo_config.json``,
``README.txt``, and ``chord_cache/`` (the extraction cache) unless another cache was given.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from coat_tf.chords.synth import SynthSettings, TimedLabel, render, write_audio
from coat_tf.demo.catalogue import Song, make_catalogue
from coat_tf.demo.config import DEMO_VERSION, DemoConfig
from coat_tf.demo.listeners import Listening, over_representation, simulate_listening
from coat_tf.fileio import atomic_directory, atomic_write_text
from coat_tf.paths import cache_dir


def _render_song(job: tuple[Song, str, SynthSettings, float]) -> str:
    """Worker body: render one song to its audio file; returns the track id."""
    song, path, settings, seconds = job
    write_audio(path, render(song.segments, settings, duration=seconds), settings.sample_rate)
    return song.track_id


def _render_all(jobs: list, workers: int, progress: bool) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="render", unit="song", file=sys.stderr, disable=not progress)
    with bar:
        if workers <= 1:
            for job in jobs:
                _render_song(job)
                bar.update(1)
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for _ in pool.map(_render_song, jobs, chunksize=4):
                bar.update(1)


def _agreement(truth: Sequence[TimedLabel], segments: Sequence, seconds: float) -> float:
    """Share of a 10 Hz time grid where the extracted chord equals the true one (``majmin``)."""
    from coat_tf.chords.vocabulary import ChordVocabulary

    vocabulary = ChordVocabulary.from_name("majmin")
    grid = np.arange(0.0, seconds, 0.1)

    def at(items: Sequence[tuple[float, float, str]]) -> np.ndarray:
        labels = np.full(len(grid), "N", dtype=object)
        for start, end, label in items:
            labels[(grid >= start) & (grid < end)] = vocabulary.normalize(label)
        return labels

    extracted = [(s.start, s.end, s.label) for s in segments]
    return float(np.mean(at(truth) == at(extracted))) if len(grid) else 0.0


README_TEXT = """SIMULATED DEMO DATA for coat_tf: nothing here was recorded or really listened to.

The songs are synthesised from common chord progressions in random keys; the listeners and
their listening events are random draws from a documented model (latent tastes, popularity, and
a planted preference for particular chords). See coat_tf/demo/listeners.py for the model.

events.tsv      user_id, track_id, timestamp (Unix seconds), audio_path (relative to this folder)
catalogue.tsv   track_id, key, family, chords (one cycle of the true progression), tempo, seconds
audio/          the rendered songs;  labels/  their true timed chords (.lab, Harte syntax)
chords.tsv      track_id, start, end, label: the chords Chordino extracted from audio/
planted.json    the planted chords, which users carry them, the strength, share_i(c) per song,
                and the measured over-representation
demo_config.json  the settings (DemoConfig, synthesizer, extractor)
"""


def build_demo(
    out_dir: str | os.PathLike,
    config: DemoConfig | None = None,
    workers: int | None = None,
    chord_cache_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Simulate, render and extract the demo data set into ``out_dir`` (atomically).

    Args:
        out_dir: the folder to create.
        config: the simulation settings (default ``DemoConfig()``).
        workers: processes for rendering and extraction; ``None`` means all cores.
        chord_cache_dir: extraction cache; ``None`` keeps it in ``out_dir/chord_cache``. A cache
            outside ``out_dir`` lets a killed build resume without extracting again.
        overwrite: replace an existing ``out_dir``.
        progress: progress bars on stderr.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is false.
    """
    from coat_tf.chords.cache import default_workers
    from coat_tf.chords.extract import ExtractorSettings, extract_many

    out_dir = Path(out_dir)
    config = config or DemoConfig()
    workers = workers or default_workers()
    synth, extractor = SynthSettings(), ExtractorSettings()
    started = time.perf_counter()
    if progress:
        print(f"building SIMULATED demo data in {out_dir}", file=sys.stderr)
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        songs = make_catalogue(config)
        paths = {s.track_id: tmp / "audio" / f"{s.track_id}.flac" for s in songs}
        (tmp / "audio").mkdir()
        jobs = [
            (s, str(paths[s.track_id]), dataclasses.replace(synth, seed=i), config.song_seconds)
            for i, s in enumerate(songs)
        ]
        _render_all(jobs, workers, progress)
        cache = Path(chord_cache_dir) if chord_cache_dir else tmp / "chord_cache"
        report = extract_many(
            [str(p) for p in paths.values()], cache, extractor, workers=workers, progress=progress
        )
        listening = simulate_listening(songs, config)
        _write_tables(tmp, songs, listening, report, config)
        agreement = [
            _agreement(s.segments, report.chords[str(paths[s.track_id])], config.song_seconds)
            for s in songs
            if str(paths[s.track_id]) in report.chords
        ]
        planted = _planted_record(songs, listening, config)
        planted["extraction"] = {
            "songs": len(report.chords),
            "failures": [[Path(p).name, reason] for p, reason in report.failures],
            "majmin_agreement_mean": float(np.mean(agreement)) if agreement else None,
        }
        atomic_write_text(tmp / "planted.json", json.dumps(planted, indent=1) + "\n")
        settings = {
            "description": "SIMULATED demo data (coat_tf.demo)",
            "demo_version": DEMO_VERSION,
            "demo": config.to_dict(),
            "synth": dataclasses.asdict(synth),
            "extractor": extractor.to_dict(),
            "build_seconds": round(time.perf_counter() - started, 1),
        }
        atomic_write_text(tmp / "demo_config.json", json.dumps(settings, indent=1) + "\n")
        atomic_write_text(tmp / "README.txt", README_TEXT)
    if progress:
        print(
            f"built SIMULATED demo data in {time.perf_counter() - started:.1f} s: "
            f"{len(songs)} songs, {len(listening.users)} events",
            file=sys.stderr,
        )
    return out_dir


def _write_tables(folder: Path, songs, listening: Listening, report, config: DemoConfig) -> None:
    """events.tsv, catalogue.tsv, chords.tsv and labels/*.lab."""
    ids = [s.track_id for s in songs]
    width = len(str(config.num_users))
    rows = ["user_id\ttrack_id\ttimestamp\taudio_path"]
    rows += [
        f"u{u:0{width}d}\t{ids[i]}\t{t}\taudio/{ids[i]}.flac"
        for u, i, t in zip(listening.users, listening.songs, listening.timestamps, strict=True)
    ]
    atomic_write_text(folder / "events.tsv", "\n".join(rows) + "\n")
    rows = ["track_id\tkey\tfamily\tchords\ttempo\tseconds"]
    rows += [
        f"{s.track_id}\t{s.key}\t{s.family}\t{' '.join(s.progression)}\t{s.tempo}\t"
        f"{config.song_seconds}"
        for s in songs
    ]
    atomic_write_text(folder / "catalogue.tsv", "\n".join(rows) + "\n")
    rows = ["track_id\tstart\tend\tlabel"]
    for s in songs:
        for seg in report.chords.get(str(folder / "audio" / f"{s.track_id}.flac"), []):
            rows.append(f"{s.track_id}\t{seg.start}\t{seg.end}\t{seg.label}")
    atomic_write_text(folder / "chords.tsv", "\n".join(rows) + "\n")
    for s in songs:
        lab = "".join(f"{a:.4f}\t{b:.4f}\t{label}\n" for a, b, label in s.segments)
        atomic_write_text(folder / "labels" / f"{s.track_id}.lab", lab)


def _planted_record(songs, listening: Listening, config: DemoConfig) -> dict:
    width = len(str(config.num_users))
    chords = list(config.planted_chords)
    measured = over_representation(listening)
    return {
        "description": "SIMULATED listeners: the planted chord preference of coat_tf.demo",
        "vocabulary": "majmin",
        "formula": "logit(u,i) = taste_weight*<x_u,y_i>/sqrt(k) + b_i"
        " + strength*share_i(chord_u)  [last term for carriers only]",
        "chords": chords,
        "strength": config.planted_strength,
        "user_share": config.planted_user_share,
        "users": {
            c: [f"u{u:0{width}d}" for u in np.flatnonzero(listening.planted == j)]
            for j, c in enumerate(chords)
        },
        "song_share": {
            c: {
                s.track_id: round(float(listening.shares[i, j]), 4)
                for i, s in enumerate(songs)
                if listening.shares[i, j] > 0
            }
            for j, c in enumerate(chords)
        },
        "over_representation": {c: measured[str(j)] for j, c in enumerate(chords)},
    }


def get_demo(
    config: DemoConfig | None = None,
    cache_root: str | os.PathLike | None = None,
    workers: int | None = None,
) -> Path:
    """The demo folder for ``config`` (default ``DemoConfig()``), built on first use.

    The folder is ``cache_root/demo-<config.key()>``; the extraction cache is shared in
    ``cache_root/chord_cache``, so an interrupted build resumes its extraction.
    """
    config = config or DemoConfig()
    root = Path(cache_root) if cache_root else cache_dir()
    folder = root / f"demo-{config.key()}"
    if (folder / "events.tsv").is_file():
        return folder
    return build_demo(folder, config, workers, chord_cache_dir=root / "chord_cache", overwrite=True)
