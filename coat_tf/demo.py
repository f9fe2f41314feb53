"""The embedded demo data set: simulated songs and listeners with a planted chord preference.

Everything in it is **simulated**: the songs are synthesised from chord progressions and the
listeners are random draws from the model below. It exists so that the main job runs out of the
box and so that a known, planted structure can be looked for in what COAT learns.

Catalogue (``num_songs`` songs). Song ``i`` takes a progression family ``f_i`` (``FAMILIES``:
common pop, rock, blues and minor-key progressions, uniform), a tonic ``k_i`` (uniform over 12
pitch classes) and a tempo ``T_i ~ U[tempo_min, tempo_max]`` bpm. The family's chords,
transposed to ``k_i``, are cycled, each lasting the family's beats at ``T_i``, to fill
``song_seconds`` (the last chord is cut short at the end). Songs are rendered with
:mod:`coat_tf.chords.synth` and passed through the real Chordino extraction
(:func:`coat_tf.chords.extract.extract_many`), as real audio would be.

Listeners (``num_users``). With ``k = taste_dim``:

- taste ``x_u ~ N(0, I_k)``; song factor ``y_i = sqrt(rho) z_{f_i} + sqrt(1 - rho) e_i`` with
  ``z_f, e_i ~ N(0, I_k)`` and ``rho = family_taste`` (tastes are partly about style);
- popularity ``b_i ~ N(0, popularity_sd^2)``;
- a share ``planted_user_share`` of listeners carries one planted chord ``c_u``, uniform over
  ``planted_chords`` (canonical ``majmin`` labels);
- ``share_i(c)``: the fraction of song ``i``'s chord changes (``majmin``, counted as
  :func:`coat_tf.chords.sequence.chord_changes` counts them, so as the model's chord sequence
  shows them) that are ``c``;
- ``logit(u, i) = taste_weight <x_u, y_i> / sqrt(k) + b_i + planted_strength share_i(c_u)``, the
  last term only for planted listeners.

Listener ``u`` picks ``n_u = min_songs + Poisson(mean_extra_songs)`` distinct songs without
replacement, each draw with probability proportional to ``exp(logit)`` among the songs left
(Gumbel top-k). Each picked song is played ``1 + Poisson(replay_rate)`` times; the plays are
shuffled and get strictly increasing timestamps (Unix seconds) uniform in ``[s_u, end]``, with
``s_u`` uniform in the first half of the span ``[start_timestamp, + span_days]``.

Folder (see :func:`build_demo`): ``events.tsv`` (``user_id track_id timestamp audio_path``),
``audio/<track_id>.flac``, ``labels/<track_id>.lab`` (true timed chords), ``catalogue.tsv``,
``chords.tsv`` (the extracted chords), ``planted.json`` (planted chords, which users carry
which, the strength, ``share_i(c)`` and the measured over-representation), ``demo_config.json``,
``README.txt``, and ``chord_cache/`` (the extraction cache) unless another cache was given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coat_tf.chords.synth import SynthSettings, TimedLabel, render, write_audio
from coat_tf.fileio import atomic_directory, atomic_write_text

DEMO_VERSION = 1
CACHE_ENV = "COAT_CACHE_DIR"

#: name -> (mode, beats per chord, chords as (semitones above the tonic, quality)).
FAMILIES: dict[str, tuple[str, int, tuple[tuple[int, str], ...]]] = {
    "I-V-vi-IV": ("maj", 4, ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj"))),
    "I-vi-IV-V": ("maj", 4, ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj"))),
    "vi-IV-I-V": ("maj", 4, ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj"))),
    "I-IV-V-IV": ("maj", 4, ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj"))),
    "ii-V-I-vi": ("maj", 4, ((2, "min"), (7, "maj"), (0, "maj"), (9, "min"))),
    "I-bVII-IV-IV": ("maj", 4, ((0, "maj"), (10, "maj"), (5, "maj"), (5, "maj"))),
    "12-bar blues": ("maj", 2, tuple((s, "maj") for s in (0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7))),
    "i-bVII-bVI-V": ("min", 4, ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj"))),
    "i-bVI-bIII-bVII": ("min", 4, ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj"))),
    "i-iv-i-v": ("min", 4, ((0, "min"), (5, "min"), (0, "min"), (7, "min"))),
}


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the simulated demo data (see the module docstring for the model)."""

    seed: int = 0
    num_songs: int = 300
    num_users: int = 1500
    song_seconds: float = 20.0
    tempo_min: float = 96.0
    tempo_max: float = 144.0
    taste_dim: int = 8
    taste_weight: float = 2.0
    family_taste: float = 0.6
    popularity_sd: float = 1.0
    planted_chords: tuple[str, ...] = ("E:min", "A#:maj", "F:maj")
    planted_user_share: float = 0.3
    planted_strength: float = 6.0
    min_songs: int = 15
    mean_extra_songs: float = 15.0
    replay_rate: float = 0.3
    start_timestamp: int = 1388534400  # 2014-01-01
    span_days: float = 365.0

    def __post_init__(self) -> None:
        from coat_tf.chords.vocabulary import ChordVocabulary

        object.__setattr__(self, "planted_chords", tuple(self.planted_chords))
        if self.num_songs < 1 or self.num_users < 1:
            raise ValueError(
                f"num_songs and num_users must be >= 1, got {self.num_songs}, {self.num_users}"
            )
        if not 1 <= self.min_songs <= self.num_songs:
            raise ValueError(f"min_songs must be in 1..num_songs, got {self.min_songs}")
        if not 0 < self.tempo_min <= self.tempo_max:
            raise ValueError(
                f"need 0 < tempo_min <= tempo_max, got {self.tempo_min}, {self.tempo_max}"
            )
        if self.song_seconds <= 0 or self.span_days <= 0 or self.taste_dim < 1:
            raise ValueError("song_seconds, span_days and taste_dim must be positive")
        if not 0 <= self.family_taste <= 1 or not 0 <= self.planted_user_share <= 1:
            raise ValueError("family_taste and planted_user_share must be in [0, 1]")
        if min(self.popularity_sd, self.mean_extra_songs, self.replay_rate) < 0:
            raise ValueError("popularity_sd, mean_extra_songs and replay_rate must be >= 0")
        labels = ChordVocabulary.from_name("majmin").labels[1:]
        bad = [c for c in self.planted_chords if c not in labels]
        if bad or not self.planted_chords:
            raise ValueError(
                f"planted_chords must be canonical majmin labels such as 'E:min', "
                f"got {list(self.planted_chords)}"
            )

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "planted_chords": list(self.planted_chords)}

    def key(self) -> str:
        """Stable 16-hex-digit hash of the settings and the generator's version."""
        payload = json.dumps({"demo": DEMO_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Song:
    """One simulated song: its progression (one cycle, canonical labels) and timed chords."""

    track_id: str
    family: str
    key: str
    tempo: float
    progression: tuple[str, ...]
    segments: tuple[TimedLabel, ...]


def make_catalogue(config: DemoConfig) -> list[Song]:
    """The simulated songs, deterministic under ``config.seed``."""
    from coat_tf.chords.vocabulary import PITCH_NAMES

    rng = np.random.default_rng([config.seed, 1])
    names = list(FAMILIES)
    width = len(str(config.num_songs))
    songs = []
    for i in range(config.num_songs):
        family = names[rng.integers(len(names))]
        tonic = int(rng.integers(12))
        tempo = round(float(rng.uniform(config.tempo_min, config.tempo_max)), 1)
        mode, beats, chords = FAMILIES[family]
        progression = tuple(f"{PITCH_NAMES[(tonic + s) % 12]}:{q}" for s, q in chords)
        step = beats * 60.0 / tempo
        count = int(np.ceil(config.song_seconds / step - 1e-9))
        segments = tuple(
            (
                round(j * step, 4),
                round(min((j + 1) * step, config.song_seconds), 4),
                progression[j % len(progression)],
            )
            for j in range(count)
        )
        key = f"{PITCH_NAMES[tonic]}:{mode}"
        songs.append(Song(f"t{i:0{width}d}", family, key, tempo, progression, segments))
    return songs


def chord_shares(songs: Sequence[Song], chords: Sequence[str]) -> np.ndarray:
    """``share_i(c)``: float64 ``[songs, chords]``, the fraction of each song's chord changes
    (``majmin``, consecutive repeats merged, as the model's chord sequence counts them) that are
    ``c``."""
    from coat_tf.chords.extract import ChordSegment
    from coat_tf.chords.sequence import chord_changes
    from coat_tf.chords.vocabulary import ChordVocabulary

    vocabulary = ChordVocabulary.from_name("majmin")
    ids = [vocabulary.encode(c) for c in chords]
    shares = np.zeros((len(songs), len(chords)))
    for i, song in enumerate(songs):
        changes = chord_changes([ChordSegment(c, a, b) for a, b, c in song.segments], vocabulary)
        for j, index in enumerate(ids):
            shares[i, j] = changes.count(index) / max(len(changes), 1)
    return shares


@dataclass
class Listening:
    """Simulated plays (parallel arrays, sorted by user then time) and the planted truth.

    Attributes:
        users, songs, timestamps: int64 ``[plays]``: user index, song index, Unix seconds.
        planted: int64 ``[num_users]``: index into ``planted_chords``, or -1 (no preference).
        shares: ``share_i(c)`` for the planted chords, ``[num_songs, len(planted_chords)]``.
    """

    users: np.ndarray
    songs: np.ndarray
    timestamps: np.ndarray
    planted: np.ndarray
    shares: np.ndarray


def simulate_listening(songs: Sequence[Song], config: DemoConfig) -> Listening:
    """Draw every listener's plays (see the module docstring), deterministic under the seed."""
    rng = np.random.default_rng([config.seed, 2])
    families = sorted(FAMILIES)
    k, n_songs, n_users = config.taste_dim, len(songs), config.num_users
    z = rng.standard_normal((len(families), k))
    family_index = np.array([families.index(song.family) for song in songs])
    y = np.sqrt(config.family_taste) * z[family_index] + np.sqrt(
        1 - config.family_taste
    ) * rng.standard_normal((n_songs, k))
    x = rng.standard_normal((n_users, k))
    popularity = config.popularity_sd * rng.standard_normal(n_songs)
    shares = chord_shares(songs, config.planted_chords)
    planted = np.where(
        rng.random(n_users) < config.planted_user_share,
        rng.integers(len(config.planted_chords), size=n_users),
        -1,
    )
    logits = config.taste_weight * (x @ y.T) / np.sqrt(k) + popularity[None, :]
    carriers = planted >= 0
    logits[carriers] += config.planted_strength * shares[:, planted[carriers]].T
    keys = logits + rng.gumbel(size=logits.shape)
    order = np.argsort(-keys, axis=1)
    counts = np.minimum(config.min_songs + rng.poisson(config.mean_extra_songs, n_users), n_songs)
    start, span = config.start_timestamp, int(config.span_days * 86400)
    users, plays, stamps = [], [], []
    for u in range(n_users):
        picked = order[u, : counts[u]]
        repeats = 1 + rng.poisson(config.replay_rate, len(picked))
        songs_u = rng.permutation(np.repeat(picked, repeats))
        first = start + int(rng.integers(span // 2))
        t = np.sort(rng.integers(first, start + span, size=len(songs_u)))
        t = np.maximum.accumulate(t - np.arange(len(t))) + np.arange(len(t))  # strictly rising
        users.append(np.full(len(t), u))
        plays.append(songs_u)
        stamps.append(t)
    return Listening(
        np.concatenate(users), np.concatenate(plays), np.concatenate(stamps), planted, shares
    )


def over_representation(listening: Listening) -> dict[str, dict[str, float]]:
    """Per planted chord: mean ``share_i(c)`` over the distinct songs its carriers picked, and
    over the songs every other listener picked; their ratio should clearly exceed 1."""
    pairs = np.unique(np.stack([listening.users, listening.songs], axis=1), axis=0)
    result = {}
    for j in range(listening.shares.shape[1]):
        share = listening.shares[pairs[:, 1], j]
        carrier = listening.planted[pairs[:, 0]] == j
        inside = float(share[carrier].mean()) if carrier.any() else float("nan")
        outside = float(share[~carrier].mean()) if (~carrier).any() else float("nan")
        result[str(j)] = {
            "carriers_mean_share": inside,
            "others_mean_share": outside,
            "ratio": inside / outside if outside > 0 else float("nan"),
        }
    return result


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
a planted preference for particular chords). See coat_tf/demo.py for the model.

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
    config: DemoConfig = DemoConfig(),
    workers: int | None = None,
    chord_cache_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Simulate, render and extract the demo data set into ``out_dir`` (atomically).

    Args:
        out_dir: the folder to create.
        config: the simulation settings.
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


def default_cache_root() -> Path:
    """``$COAT_CACHE_DIR``, else ``~/.cache/coat_tf``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "coat_tf"


def get_demo(
    config: DemoConfig = DemoConfig(),
    cache_root: str | os.PathLike | None = None,
    workers: int | None = None,
) -> Path:
    """The demo folder for ``config``, built on first use under ``cache_root``.

    The folder is ``cache_root/demo-<config.key()>``; the extraction cache is shared in
    ``cache_root/chord_cache``, so an interrupted build resumes its extraction.
    """
    root = Path(cache_root) if cache_root else default_cache_root()
    folder = root / f"demo-{config.key()}"
    if (folder / "events.tsv").is_file():
        return folder
    return build_demo(folder, config, workers, chord_cache_dir=root / "chord_cache", overwrite=True)
