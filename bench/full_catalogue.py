"""Full-catalogue scoring speed of COAT: users per second, precomputed vs pairwise.

    .venv/bin/python -m bench.full_catalogue [--songs 10000] [--embedding-size 64] [--users 32]

Scores every song for ``--users`` users with :meth:`~coat_tf.models.CoatRecommender.score_all`
(attention scores per (chord, position), gathered per song) and with the generic path,
:func:`~coat_tf.models.recommender.pairwise_score_all` (the whole model on every pair), taking
turns for ``--rounds`` rounds, and prints users per second of each and their ratio (median of
the per-round ratios). Weights are random: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf

import coat_tf  # noqa: F401  (legacy Keras first)
from coat_tf.config import ModelConfig
from coat_tf.models import CoatRecommender, build_coat_model
from coat_tf.models.recommender import pairwise_score_all
from coat_tf.schema import CHORD_IDS


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=10_000)
    parser.add_argument("--chords", type=int, default=25)
    parser.add_argument("--embedding-size", type=int, default=64)
    parser.add_argument("--users", type=int, default=32, help="users scored per round")
    parser.add_argument("--batch", type=int, default=16, help="users per score_all call")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    config = ModelConfig(
        num_users=30_753,
        num_songs=args.songs,
        num_chords=args.chords,
        embedding_size=args.embedding_size,
    )
    model = build_coat_model(config)
    chords = np.random.default_rng(0).integers(0, args.chords, (args.songs, 100)).astype("int32")
    recommender = CoatRecommender(model, config.num_users, args.songs, {CHORD_IDS: chords})
    scorers = {
        "precomputed": recommender.score_all,
        "pairwise": lambda users: pairwise_score_all(recommender, users),
    }
    users = np.arange(args.users, dtype=np.int32)
    for score_all in scorers.values():  # warm up
        score_all(tf.constant(users[:2]))
    rates: dict[str, list[float]] = {name: [] for name in scorers}
    for _ in range(args.rounds):
        for name, score_all in scorers.items():
            started = time.perf_counter()
            for start in range(0, len(users), args.batch):
                score_all(tf.constant(users[start : start + args.batch])).numpy()
            rates[name].append(len(users) / (time.perf_counter() - started))
    print(
        f"{args.songs} songs, {args.chords} chords, d={args.embedding_size}, "
        f"{args.users} users x {args.rounds} rounds"
    )
    for name, values in rates.items():
        print(
            f"{name:12s} median {statistics.median(values):8.2f} users/s "
            f"(min {min(values):.2f}, max {max(values):.2f})"
        )
    ratio = statistics.median(
        a / b for a, b in zip(rates["precomputed"], rates["pairwise"], strict=True)
    )
    print(f"precomputed / pairwise: {ratio:.1f}x")
    return {"precomputed": statistics.median(rates["precomputed"]), "ratio": ratio}


if __name__ == "__main__":
    main()
