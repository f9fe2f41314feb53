"""``tf.data`` input for training: TFRecord positives plus negatives drawn afresh every epoch.

Per batch of positives ``(u, i)``, ``k`` negatives per positive are drawn uniformly from the
catalogue and every draw that is a training positive of its user (membership of
``u * num_songs + j`` in the sorted training keys, by binary search) is redrawn, until none is.
So a negative is never a song the user has in train. Validation and test songs are not excluded:
they are not positives of training, and excluding them would leak the held-out items into
training (the NCF protocol, which COAT follows, samples the same way). Each pass over the
dataset draws new negatives (the per-batch seeds come from ``Dataset.random`` re-randomised every
iteration), and with ``seed`` set the whole sequence of epochs is reproducible.

Every example carries its song's content, gathered by song index from per-song tables: by
default the chord ids of the chord table (the same values the TFRecords hold); a model that
reads other content (the MFCC frames of the audio baselines) passes its own tables.

Output batches: ``({"user_id": int32 [B], "song_id": int32 [B], <content>: [B, ...]},
label float32 [B])``, each positive followed by its ``k`` negatives; with the default tables the
content is ``"chord_ids": int32 [B, L]``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from coat_tf.data.dataset import PreparedDataset
from coat_tf.schema import CHORD_IDS, SONG_ID, USER_ID


def make_train_dataset(
    data: PreparedDataset,
    batch_size: int,
    negatives: int = 4,
    seed: int | None = None,
    shuffle_buffer: int = 200_000,
    deterministic: bool = False,
    read_parallelism: int = 4,
    song_tables: Mapping[str, np.ndarray] | None = None,
):
    """The training input (see the module docstring).

    Args:
        data: a prepared data set.
        batch_size: examples (positives and negatives together) per batch; the last batch of an
            epoch may be smaller.
        negatives: ``k``, negatives per positive (0 gives positives only).
        seed: seeds file order, shuffling and negatives.
        shuffle_buffer: positives held in the shuffle buffer.
        deterministic: keep element order fixed (parallel stages still run in parallel).
        read_parallelism: TFRecord shards read at once.
        song_tables: content name -> ``[num_songs, ...]`` table gathered per example (default:
            ``{"chord_ids": data.chords}``; ``{}`` for ids only).
    """
    import tensorflow as tf

    if batch_size < 1 or negatives < 0 or shuffle_buffer < 1:
        raise ValueError(
            f"need batch_size >= 1, negatives >= 0, shuffle_buffer >= 1; got {batch_size}, "
            f"{negatives}, {shuffle_buffer}"
        )
    files = [str(p) for p in data.record_files]
    if not files:
        raise FileNotFoundError(f"{data.path / 'tfrecords'}: no TFRecord shards")
    if deterministic and seed is None:
        seed = 0
    num_songs = data.num_songs
    keys = tf.constant(data.train_keys(), dtype=tf.int64)
    if song_tables is None:
        song_tables = {CHORD_IDS: data.chords}
    tables = {name: tf.constant(table) for name, table in song_tables.items()}
    spec = {
        USER_ID: tf.io.FixedLenFeature([], tf.int64),
        SONG_ID: tf.io.FixedLenFeature([], tf.int64),
    }
    compression = data.compression
    options = tf.data.Options()
    options.deterministic = deterministic

    def in_train(users: tf.Tensor, songs: tf.Tensor) -> tf.Tensor:
        query = tf.cast(users, tf.int64)[:, None] * num_songs + tf.cast(songs, tf.int64)
        flat = tf.reshape(query, [-1])
        position = tf.searchsorted(keys, flat)
        position = tf.minimum(position, tf.size(keys, out_type=position.dtype) - 1)
        return tf.reshape(tf.equal(tf.gather(keys, position), flat), tf.shape(query))

    def draw_negatives(users: tf.Tensor, batch_seed: tf.Tensor) -> tf.Tensor:
        shape = tf.stack([tf.shape(users)[0], negatives])

        def draw(step: tf.Tensor) -> tf.Tensor:
            step_seed = tf.random.experimental.stateless_fold_in(batch_seed, step)
            return tf.random.stateless_uniform(
                shape, step_seed, minval=0, maxval=num_songs, dtype=tf.int32
            )

        def body(step, candidates):
            fresh = draw(step)
            return step + 1, tf.where(in_train(users, candidates), fresh, candidates)

        _, candidates = tf.while_loop(
            lambda step, candidates: tf.reduce_any(in_train(users, candidates)),
            body,
            (tf.constant(1), draw(tf.constant(0))),
        )
        return candidates

    def expand(serialized: tf.Tensor, seeds: tf.Tensor):
        parsed = tf.io.parse_example(serialized, spec)
        users = tf.cast(parsed[USER_ID], tf.int32)
        songs = tf.cast(parsed[SONG_ID], tf.int32)
        count = tf.shape(users)[0]
        if negatives:
            negs = draw_negatives(users, tf.cast(seeds, tf.int64))
            songs = tf.reshape(tf.concat([songs[:, None], negs], axis=1), [-1])
            users = tf.repeat(users, negatives + 1)
            labels = tf.concat(
                [tf.ones([count, 1], tf.float32), tf.zeros([count, negatives], tf.float32)], 1
            )
            labels = tf.reshape(labels, [-1])
        else:
            labels = tf.ones([count], tf.float32)
        features = {USER_ID: users, SONG_ID: songs}
        for name, table in tables.items():
            features[name] = tf.gather(table, songs)
        return features, labels

    dataset = tf.data.Dataset.from_tensor_slices(files)
    dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=compression),
        cycle_length=min(read_parallelism, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    per_step = max(1, -(-batch_size // (negatives + 1)))
    dataset = dataset.batch(per_step)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    dataset = tf.data.Dataset.zip((dataset, seeds))
    dataset = dataset.map(expand, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    dataset = dataset.rebatch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def batches_per_pass(data: PreparedDataset, batch_size: int, negatives: int = 4) -> int:
    """Batches in one pass of :func:`make_train_dataset`: ``ceil(P (1 + k) / B)`` for ``P``
    training positives, since every pass ends with its own (possibly short) batch. Training
    counts its epochs in these steps over the repeated input."""
    return -(-len(data.train) * (1 + negatives) // batch_size)


def epoch_arrays(dataset) -> dict[str, np.ndarray]:
    """One pass of ``dataset`` concatenated into numpy arrays (for tests and checks)."""
    parts: dict[str, list[np.ndarray]] = {"label": []}
    for features, labels in dataset.as_numpy_iterator():
        for name, values in features.items():
            parts.setdefault(name, []).append(values)
        parts["label"].append(labels)
    return {name: np.concatenate(values) for name, values in parts.items()}
