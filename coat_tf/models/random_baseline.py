"""Random: seeded scores that know nothing of the user or the song (``--model random``).

The floor every model must clear: a held-out song among ``n`` sampled negatives is ranked first
with probability ``1 / (n + 1)``, so its expected HR@k is ``k / (n + 1)`` (0.1 for the paper's
99 negatives and ``k = 10``).

A score is a 64-bit hash (SplitMix64's finaliser, Steele et al. 2014) of the seed and the ids,
its 53 highest bits read as a float64 in ``[0, 1)``::

    score(u, i)     = hash(seed, "catalogue", u, i)
    score_new(u, c) = hash(seed, "content", u, hash(seed, bytes of the content row c))

so ``score_pairs`` and ``score_all`` give the same score to a pair, every call, in every
process and in an export, and another ``--seed`` gives other scores. A new song is scored from
its content row alone (and the user), whatever the content is: chord ids, MFCC frames or any
other array (integers are hashed as int64 values, floats by their bits), so the same user and
song content always get the same score. Two songs tie with probability about ``2^-53``, so
ties, which the evaluator counts against a model, practically never occur.

:attr:`RandomRecommender.content_input` is ``"chord_ids"``: that is what the new-song
evaluation and the export hand it (the export's ``score_chords`` signature); it reads nothing of
them but their bytes. Its :class:`~coat_tf.models.registry.ModelSpec` reads no content, so it
trains on a data set without chords. The scores are float64 (float32's 24 bits would let two of
a catalogue's songs tie now and then).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.models.fitted import FittedRecommender, unique_pairs
from coat_tf.models.inputs import CHORD_IDS

_GOLDEN = 0x9E3779B97F4A7C15
_MULTIPLIERS = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
#: Separate the catalogue's scores from the new songs' and the content hashes.
_CATALOGUE, _CONTENT, _BYTES = 1, 2, 3


def _u64(value: int | tf.Tensor) -> tf.Tensor:
    """``value`` as uint64 (an int64 tensor's bits, or a Python int modulo ``2^64``)."""
    if isinstance(value, int):
        return tf.constant(value % 2**64, tf.uint64)
    return tf.bitcast(tf.cast(value, tf.int64), tf.uint64)


def mix(x: tf.Tensor) -> tf.Tensor:
    """SplitMix64's finaliser of uint64 ``x`` (elementwise): a bijection whose every output
    bit depends on every input bit."""
    shift = (tf.constant(30, tf.uint64), tf.constant(27, tf.uint64), tf.constant(31, tf.uint64))
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift[0])) * _u64(_MULTIPLIERS[0])
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift[1])) * _u64(_MULTIPLIERS[1])
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift[2]))


def absorb(state: tf.Tensor, value: tf.Tensor) -> tf.Tensor:
    """The hash state after ``value`` (uint64, broadcast against ``state``)."""
    return mix(tf.bitwise.bitwise_xor(state, mix(value + _u64(_GOLDEN))))


def unit_float(state: tf.Tensor) -> tf.Tensor:
    """The 53 highest bits of uint64 ``state`` as a float64 in ``[0, 1)``."""
    high = tf.bitwise.right_shift(state, tf.constant(11, tf.uint64))
    return tf.cast(high, tf.float64) * (1.0 / 2**53)


def content_words(content: tf.Tensor) -> tf.Tensor:
    """Each row of ``content`` ``[N, ...]`` as uint64 words ``[N, D]``: integers by their
    int64 value (so int32 and int64 chord ids hash alike), floats by their bits."""
    content = tf.convert_to_tensor(content)
    shape = tf.shape(content)
    rows = tf.reshape(content, tf.stack([shape[0], tf.reduce_prod(shape[1:])]))  # N may be 0
    if rows.dtype.is_floating:
        unsigned = {2: tf.uint16, 4: tf.uint32, 8: tf.uint64}[rows.dtype.size]
        return tf.cast(tf.bitcast(rows, unsigned), tf.uint64)
    if rows.dtype == tf.bool:
        rows = tf.cast(rows, tf.int64)
    return _u64(rows)


class RandomRecommender(FittedRecommender):
    """Seeded random scores (see the module docstring).

    Args:
        seed: the hash's seed (the run's ``--seed``).
        num_users: the users of the catalogue.
        num_songs: the songs of the catalogue.
        num_chords: the chord ids an export's ``score_chords`` takes (``0 .. num_chords - 1``).
        sequence_length: the chord positions an export's ``score_chords`` takes.
    """

    content_input = CHORD_IDS

    def __init__(
        self,
        seed: int,
        num_users: int,
        num_songs: int,
        num_chords: int = 25,
        sequence_length: int = 100,
    ) -> None:
        for name, value in (
            ("num_users", num_users),
            ("num_songs", num_songs),
            ("num_chords", num_chords),
            ("sequence_length", sequence_length),
        ):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        super().__init__(num_users, num_songs, name="random")
        self.seed = int(seed)
        self.num_chords = int(num_chords)
        self.sequence_length = int(sequence_length)
        key = tf.bitcast(mix(_u64(self.seed)), tf.int64)
        self.key = tf.Variable(key, trainable=False, name="key")  # the seed, mixed

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
    ) -> RandomRecommender:
        unique_pairs(users, songs, config.num_users, config.num_songs)  # checks the indices
        return cls(
            seed, config.num_users, config.num_songs, config.num_chords, config.sequence_length
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "seed": np.int64(self.seed),
            "num_users": np.int64(self.num_users),
            "num_songs": np.int64(self.num_songs),
            "num_chords": np.int64(self.num_chords),
            "sequence_length": np.int64(self.sequence_length),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RandomRecommender:
        names = ("seed", "num_users", "num_songs", "num_chords", "sequence_length")
        return cls(*(int(arrays[name]) for name in names))

    def _catalogue(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        state = absorb(absorb(_u64(self.key), _u64(_CATALOGUE)), _u64(user_ids))
        return unit_float(absorb(state, _u64(song_ids)))

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        return self._catalogue(user_ids, song_ids)

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        users = tf.convert_to_tensor(user_ids)[:, tf.newaxis]
        return self._catalogue(users, tf.range(self.num_songs, dtype=tf.int64)[tf.newaxis, :])

    def content_hash(self, content: tf.Tensor) -> tf.Tensor:
        """uint64 ``[N]``: the seeded hash of each row of ``content`` ``[N, ...]`` (its words
        and their positions, then its length)."""
        words = content_words(content)
        size = tf.shape(words, out_type=tf.int64)[1]
        positions = absorb(absorb(_u64(self.key), _u64(_BYTES)), _u64(tf.range(size)))
        state = tf.reduce_sum(absorb(positions[tf.newaxis, :], words), axis=1)  # mod 2^64
        return absorb(state, _u64(size))

    def score_new_songs(self, user_ids: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
        state = absorb(absorb(_u64(self.key), _u64(_CONTENT)), _u64(user_ids))
        return unit_float(absorb(state, self.content_hash(content)))
