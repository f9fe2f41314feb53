"""Chord histogram: songs whose chords are like those of the user's songs (``--model
chord-histogram``).

A song's histogram ``h_s`` counts each chord id over its chord sequence (its row of
``chords.npy``), L1-normalised. The sequence holds the song's chord *changes* (the no-chord
``N`` dropped, repeats merged: :mod:`coat_tf.chords.sequence`), repeated in order up to the
sequence length, so the counts keep the proportions of the changes up to the last, partial
repetition. The no-chord id ``N`` (0) is not counted: it only fills the row of a song with no
chord at all, whose histogram is then zero. A user's profile ``p_u`` is the mean of ``h_s`` over
their distinct training songs, and::

    score(u, s) = cos(p_u, h_s) = (p_u . h_s) / (|p_u| |h_s|)      (0 where either is zero)

So a song without chords, or any song for a user none of whose songs has chords, scores 0 (and
ties, which count against the model). The scores lie in ``[0, 1]``. ``score_all`` is one matrix
product of the unit profiles and the unit histograms; ``score_new_songs`` takes the chord ids of
songs outside the catalogue (``content_input`` ``"chord_ids"``) and scores their histograms the
same way: the model learns nothing per song, so a new song is scored exactly as a catalogue
song with the same chords.

Nothing is learned beyond the profiles: the state is the profiles and the catalogue's chord
table. Absolute or key-relative chords are the data set's choice (``prepare --chord-key``); the
histograms count whichever ids ``chords.npy`` holds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.models.fitted import FittedRecommender, unique_pairs
from coat_tf.models.inputs import CHORD_IDS

#: The no-chord id, not counted in a histogram.
NO_CHORD = 0


def chord_histograms(chord_ids: tf.Tensor, num_chords: int) -> tf.Tensor:
    """L1-normalised counts of each chord id per row, ``N`` left out: int ``[N, L]`` ->
    float32 ``[N, num_chords]`` (a zero row for a song with no chord). Ids outside
    ``[0, num_chords)`` are not counted."""
    chord_ids = tf.cast(chord_ids, tf.int64)
    rows = tf.shape(chord_ids, out_type=tf.int64)[0]
    counted = (chord_ids != NO_CHORD) & (chord_ids >= 0) & (chord_ids < num_chords)
    cells = tf.range(rows)[:, tf.newaxis] * num_chords + tf.where(counted, chord_ids, 0)
    counts = tf.math.unsorted_segment_sum(
        tf.reshape(tf.cast(counted, tf.float32), [-1]), tf.reshape(cells, [-1]), rows * num_chords
    )
    counts = tf.reshape(counts, tf.stack([rows, num_chords]))
    return tf.math.divide_no_nan(counts, tf.reduce_sum(counts, axis=1, keepdims=True))


def unit_rows(rows: tf.Tensor) -> tf.Tensor:
    """Each row divided by its Euclidean norm; a zero row stays zero."""
    return tf.math.divide_no_nan(rows, tf.norm(rows, axis=-1, keepdims=True))


class ChordHistogramRecommender(FittedRecommender):
    """Cosine of the user's mean chord histogram and the song's (see the module docstring).

    Args:
        profiles: float ``[num_users, num_chords]``, each user's mean training histogram.
        chords: int ``[num_songs, L]``, the catalogue's chord ids.
    """

    content_input = CHORD_IDS

    def __init__(self, profiles: np.ndarray, chords: np.ndarray) -> None:
        profiles = np.asarray(profiles, dtype=np.float32)
        chords = np.asarray(chords)
        if profiles.ndim != 2 or not np.all(np.isfinite(profiles)) or np.any(profiles < 0):
            raise ValueError("profiles must be a 2-D array of finite non-negative numbers")
        width = profiles.shape[1] if profiles.ndim == 2 else 0
        if chords.ndim != 2 or chords.shape[1] < 1 or not np.issubdtype(chords.dtype, np.integer):
            raise ValueError(
                f"chords must be a 2-D integer array, got {chords.dtype} {chords.shape}"
            )
        if chords.size and (chords.min() < 0 or chords.max() >= width):
            raise ValueError(f"chord ids must lie in [0, {width}), the profiles' width")
        super().__init__(len(profiles), len(chords), name="chord_histogram")
        self.num_chords = int(profiles.shape[1])
        self.sequence_length = int(chords.shape[1])
        self.profiles = tf.Variable(profiles, trainable=False, name="profiles")
        self.chords = tf.Variable(chords.astype(np.int32), trainable=False, name="chords")
        self.unit_profiles = tf.Variable(unit_rows(profiles), trainable=False, name="unit_profiles")
        songs = unit_rows(chord_histograms(self.chords, self.num_chords))
        self.unit_histograms = tf.Variable(songs, trainable=False, name="unit_histograms")

    @classmethod
    def fit(
        cls,
        users: np.ndarray,
        songs: np.ndarray,
        config: ModelConfig,
        threads: int = 0,
        *,
        seed: int = 0,
        song_tables: Mapping[str, np.ndarray] | None = None,
    ) -> ChordHistogramRecommender:
        if not song_tables or CHORD_IDS not in song_tables:
            raise ValueError("chord-histogram needs the catalogue's chord ids (chords.npy)")
        chords = np.asarray(song_tables[CHORD_IDS])
        if len(chords) != config.num_songs:
            raise ValueError(f"the chord table has {len(chords)} rows for {config.num_songs} songs")
        users, songs = unique_pairs(users, songs, config.num_users, config.num_songs)
        histograms = chord_histograms(chords, config.num_chords).numpy()
        sums = np.zeros((config.num_users, config.num_chords), np.float64)
        np.add.at(sums, users, histograms[songs])
        counts = np.bincount(users, minlength=config.num_users)[:, None]
        profiles = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        return cls(profiles, chords)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"profiles": self.profiles.numpy(), "chords": self.chords.numpy()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ChordHistogramRecommender:
        return cls(arrays["profiles"], arrays["chords"])

    def song_chords(self, song_ids: tf.Tensor) -> tf.Tensor:
        """The catalogue's chord ids of ``song_ids``: ``[N] -> [N, L]``."""
        return tf.gather(self.chords, tf.cast(song_ids, tf.int32))

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        users = tf.gather(self.unit_profiles, tf.cast(user_ids, tf.int32))
        songs = tf.gather(self.unit_histograms, tf.cast(song_ids, tf.int32))
        return tf.reduce_sum(users * songs, axis=1)

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        users = tf.gather(self.unit_profiles, tf.cast(user_ids, tf.int32))
        return tf.matmul(users, self.unit_histograms, transpose_b=True)

    def score_new_songs(self, user_ids: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
        users = tf.gather(self.unit_profiles, tf.cast(user_ids, tf.int32))
        songs = unit_rows(chord_histograms(content, self.num_chords))
        return tf.reduce_sum(users * songs, axis=1)
