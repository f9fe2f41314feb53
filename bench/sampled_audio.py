"""Sampled-evaluation speed of NeuMF+CNN and NeuMF+LSTM: songs encoded once a call vs per pair.

    .venv/bin/python -m bench.sampled_audio [--songs 10000] [--users 512] [--kinds cnn lstm]

Scores 100 random candidates for each of ``--users`` users, 256 users a call (as
:func:`coat_tf.evaluation.sampled` does), with :meth:`~coat_tf.models.AudioRecommender.
score_pairs` (each distinct song of a call encoded once) and with the Keras model on every pair
(:class:`~coat_tf.models.recommender.KerasRecommender`, the generic path), taking turns for
``--rounds`` rounds. Prints users per second of each, by wall time and by the process's CPU
time (the steadier on a shared machine), and the median of the per-round ratios. Weights and
MFCCs are random: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import coat_tf  # noqa: F401  (legacy Keras first)
from coat_tf import evaluation
from coat_tf.config import ModelConfig
from coat_tf.models.inputs import MFCC
from coat_tf.models.recommender import KerasRecommender
from coat_tf.models.registry import get_spec

CANDIDATES = 100


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=512, help="users scored per round")
    parser.add_argument("--embedding-size", type=int, default=8)
    parser.add_argument("--kinds", nargs="+", default=["cnn", "lstm"], choices=["cnn", "lstm"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    config = ModelConfig(
        num_users=max(args.users, 2), num_songs=args.songs, embedding_size=args.embedding_size
    )
    rng = np.random.default_rng(0)
    mfcc = rng.normal(size=(args.songs, config.mfcc_steps, config.mfcc_coefficients))
    tables = {MFCC: mfcc.astype(np.float32)}
    users = np.arange(args.users)
    candidates = rng.integers(0, args.songs, (args.users, CANDIDATES))
    results = {}
    for kind in args.kinds:
        spec = get_spec(f"neumf-{kind}")
        model = spec.build(config)
        scorers = {
            "once a call": spec.wrap(model, config, tables),
            "every pair": KerasRecommender(model, config.num_users, config.num_songs, tables),
        }
        wall: dict[str, list[float]] = {name: [] for name in scorers}
        cpu: dict[str, list[float]] = {name: [] for name in scorers}
        for scorer in scorers.values():  # warm up
            evaluation.sampled(scorer, users[:2], candidates[:2])
        for _ in range(args.rounds):
            for name, scorer in scorers.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                evaluation.sampled(scorer, users, candidates)
                wall[name].append(args.users / (time.perf_counter() - started))
                cpu[name].append(args.users / (time.process_time() - started_cpu))
        print(f"neumf-{kind}: {args.songs} songs, {args.users} users x {args.rounds} rounds")
        for name in scorers:
            print(
                f"  {name:12s} {statistics.median(wall[name]):9.1f} users/s wall, "
                f"{statistics.median(cpu[name]):9.1f} users per CPU second"
            )
        ratios = {
            clock: statistics.median(
                a / b for a, b in zip(rates["once a call"], rates["every pair"], strict=True)
            )
            for clock, rates in (("wall", wall), ("cpu", cpu))
        }
        print(f"  once a call / every pair: {ratios['wall']:.1f}x wall, {ratios['cpu']:.1f}x CPU")
        results[kind] = ratios
    return results


if __name__ == "__main__":
    main()
