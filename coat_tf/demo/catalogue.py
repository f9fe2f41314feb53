"""The simulated songs: a progression family, a key and a tempo each, and their chord shares.

Catalogue (``num_songs`` songs). Song ``i`` takes a progression family ``f_i`` (``FAMILIES``:
common pop, rock, blues and minor-key progressions, uniform), a tonic ``k_i`` (uniform over 12
pitch classes) and a tempo ``T_i ~ U[tempo_min, tempo_max]`` bpm. The family's chords,
transposed to ``k_i``, are cycled, each lasting the family's beats at ``T_i``, to fill
``song_seconds`` (the last chord is cut short at the end). Songs are rendered with
:mod:`coat_tf.chords.synth` and passed through the real Chordino extraction
(:func:`coat_tf.chords.extract.extract_many`), as real audio would be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coat_tf.chords.synth import TimedLabel
from coat_tf.demo.config import FAMILIES, DemoConfig


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
