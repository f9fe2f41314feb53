"""Training throughput: split vs literal attention, and COAT vs NeuMF, side by side.

    .venv/bin/python -m bench.layers [--embedding-size 64] [--batch-size 1024] [--rounds 5]

Every model trains on the same random batches at the paper's scale (30,753 users, 10,000 songs,
25 chords, sequences of 100). The models take turns, one round of ``--steps`` training steps
each, so that a drift in the machine's speed touches all of them alike; the ratios are computed
round by round and their medians printed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf

import coat_tf  # noqa: F401  (legacy Keras first)
from coat_tf.config import ModelConfig
from coat_tf.models import build_coat_model, build_neumf_model
from coat_tf.schema import CHORD_IDS, SONG_ID, USER_ID


def _batches(config: ModelConfig, batch_size: int, count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        features = {
            USER_ID: rng.integers(0, config.num_users, batch_size).astype("int32"),
            SONG_ID: rng.integers(0, config.num_songs, batch_size).astype("int32"),
            CHORD_IDS: rng.integers(
                0, config.num_chords, (batch_size, config.sequence_length)
            ).astype("int32"),
        }
        labels = (rng.random(batch_size) < 0.2).astype("float32")
        out.append((features, labels))
    return out


def _train_step_fn(model: tf.keras.Model):  # noqa: ANN202
    optimizer = tf.keras.optimizers.Adam(1e-3)
    loss_fn = tf.keras.losses.BinaryCrossentropy()
    names = set(model.input_names)

    @tf.function
    def step(features, labels):  # noqa: ANN001, ANN202
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(features, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return loss

    return lambda f, y: step({k: v for k, v in f.items() if k in names}, y)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=30_753)
    parser.add_argument("--songs", type=int, default=10_000)
    args = parser.parse_args(argv)

    config = ModelConfig(
        num_users=args.users,
        num_songs=args.songs,
        num_chords=25,
        embedding_size=args.embedding_size,
    )
    models = {
        "coat_split": build_coat_model(config),
        "coat_concat": build_coat_model(config, implementation="concat"),
        "neumf": build_neumf_model(config),
    }
    steps = {name: _train_step_fn(model) for name, model in models.items()}
    batches = [
        {k: tf.constant(v) for k, v in f.items()} | {"labels": tf.constant(y)}
        for f, y in _batches(config, args.batch_size, args.steps, seed=0)
    ]
    for step in steps.values():  # trace and warm up
        for b in batches[:3]:
            step(b, b["labels"])

    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for b in batches:
                loss = step(b, b["labels"])
            float(loss)
            rates[name].append(args.steps * args.batch_size / (time.perf_counter() - start))

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))

    print(
        f"embedding {args.embedding_size}, batch {args.batch_size}, "
        f"{args.rounds} rounds x {args.steps} steps"
    )
    for name, values in rates.items():
        print(
            f"{name:12s} median {statistics.median(values):10.0f} examples/s "
            f"(min {min(values):.0f}, max {max(values):.0f})"
        )
    result = {
        "split_over_concat": ratio("coat_split", "coat_concat"),
        "coat_over_neumf": ratio("coat_split", "neumf"),
    }
    print(f"split / concat attention: {result['split_over_concat']:.2f}x")
    print(f"COAT (split) / NeuMF:     {result['coat_over_neumf']:.2f}x")
    return result


if __name__ == "__main__":
    main()
