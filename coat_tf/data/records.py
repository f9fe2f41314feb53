"""Training positives as sharded TFRecords: one ``tf.train.Example`` per (user, song) pair.

Features (all int64): ``user_id`` [1], ``song_id`` [1], ``chord_ids`` [sequence length], the
song's padded chord ids. Shards are named ``train-%05d-of-%05d.tfrecord`` (``.gz`` appended with
GZIP compression) and each is written under a temporary name, then renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from coat_tf.schema import CHORD_IDS, SONG_ID, USER_ID

COMPRESSIONS = ("", "GZIP")


def shard_names(num_shards: int, compression: str = "") -> list[str]:
    suffix = ".tfrecord.gz" if compression == "GZIP" else ".tfrecord"
    return [f"train-{i:05d}-of-{num_shards:05d}{suffix}" for i in range(num_shards)]


def write_records(
    folder: str | os.PathLike,
    users: np.ndarray,
    songs: np.ndarray,
    chords: np.ndarray,
    num_shards: int = 4,
    compression: str = "",
) -> list[Path]:
    """Write the pairs ``(users[i], songs[i])`` with ``chords[songs[i]]``; row i goes to shard
    ``i * num_shards // len(users)`` (contiguous ranges). Returns the shard paths."""
    import tensorflow as tf

    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    if num_shards < 1:
        raise ValueError(f"num_shards must be positive, got {num_shards}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    options = tf.io.TFRecordOptions(compression_type=compression or None)
    bounds = np.linspace(0, len(users), num_shards + 1).astype(np.int64)
    chord_lists = chords.astype(np.int64).tolist()
    paths = []
    for shard, name in enumerate(shard_names(num_shards, compression)):
        path = folder / name
        tmp = folder / f".{name}.tmp"
        with tf.io.TFRecordWriter(str(tmp), options) as writer:
            for i in range(bounds[shard], bounds[shard + 1]):
                user, song = int(users[i]), int(songs[i])
                example = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            USER_ID: _int64([user]),
                            SONG_ID: _int64([song]),
                            CHORD_IDS: _int64(chord_lists[song]),
                        }
                    )
                )
                writer.write(example.SerializeToString())
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _int64(values: list[int]):
    import tensorflow as tf

    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def feature_spec(sequence_length: int) -> dict:
    import tensorflow as tf

    return {
        USER_ID: tf.io.FixedLenFeature([], tf.int64),
        SONG_ID: tf.io.FixedLenFeature([], tf.int64),
        CHORD_IDS: tf.io.FixedLenFeature([sequence_length], tf.int64),
    }


def read_records(paths: list[str | os.PathLike], sequence_length: int, compression: str = ""):
    """All examples of ``paths`` in order, as numpy ``(user_id, song_id, chord_ids)``."""
    import tensorflow as tf

    dataset = tf.data.TFRecordDataset([str(p) for p in paths], compression_type=compression)
    dataset = dataset.batch(4096).map(
        lambda x: tf.io.parse_example(x, feature_spec(sequence_length))
    )
    users, songs, chords = [], [], []
    for batch in dataset.as_numpy_iterator():
        users.append(batch[USER_ID])
        songs.append(batch[SONG_ID])
        chords.append(batch[CHORD_IDS])
    if not users:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, sequence_length)))
    return np.concatenate(users), np.concatenate(songs), np.concatenate(chords)
