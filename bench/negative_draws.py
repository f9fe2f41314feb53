"""How much the draw of the sampled test negatives moves a finished run's figures.

    .venv/bin/python -m bench.negative_draws RUN_DIR [RUN_DIR ...] [--draws 10] [--data DIR]

The sampled test figures rank each user's held-out song among 99 negatives that ``prepare``
drew once, with its seed. This scores each run's best weights on the stored candidates and on
``--draws`` other draws of 99 negatives per user (the same rule: songs the user never
interacted with in train, validation or test; :func:`coat_tf.data.splits.sample_candidates`),
and prints HR@K and NDCG@K of the stored draw beside the mean, standard deviation and range
over the others. A difference between two models, or from a published figure, that is within
this spread is not a difference of the models.

Each run is scored on the prepared data set its ``config.json`` names, or on ``--data`` where
that folder has moved (its content hash must be the one the run recorded).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

import coat_tf  # noqa: F401  (legacy Keras first)
from coat_tf import evaluation
from coat_tf.data import PreparedDataset, splits
from coat_tf.runs import METRICS_FILE
from coat_tf.trained import load_recommender, read_config


def interacted(data: PreparedDataset) -> list[np.ndarray]:
    """Per user index, the sorted songs of the user's training, validation and test pairs: the
    songs ``prepare`` kept out of the negatives (:func:`coat_tf.data.splits.interacted`)."""
    held_out = [
        pd.DataFrame({"user": split.users, "song": split.items[:, 0]})
        for split in (data.valid, data.test)
    ]
    pairs = pd.concat([data.train[["user", "song"]], *held_out]).drop_duplicates()
    return splits.interacted(pairs, data.num_users)


def main(argv: list[str] | None = None) -> dict[str, dict[str, list[float]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run folders")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--seed", type=int, default=777, help="seeds the other draws")
    parser.add_argument(
        "--data", help="the prepared data set, where the one the runs name has moved"
    )
    args = parser.parse_args(argv)

    results = {}
    datasets: dict[str, tuple[PreparedDataset, list[np.ndarray]]] = {}
    for run_dir in args.runs:
        data_dir = args.data or read_config(run_dir).data_dir
        if data_dir not in datasets:
            data = PreparedDataset.load(data_dir)
            datasets[data_dir] = data, interacted(data)
        data, seen = datasets[data_dir]
        recorded = json.loads((run_dir / METRICS_FILE).read_text()).get("data_hash")
        if recorded and recorded != data.manifest.get("content_hash"):
            parser.error(f"{run_dir} was trained on other data than {data_dir} (content hash)")
        run, recommender = load_recommender(run_dir, data)
        k = run.train.top_k
        test = data.test
        stored = evaluation.sampled(recommender, test.users, test.items, k=k)
        negatives = test.items.shape[1] - 1
        hr, ndcg = [], []
        for draw in range(args.draws):
            candidates = splits.sample_candidates(
                test.users, test.items[:, 0], seen, data.num_songs, negatives, [args.seed, draw]
            )
            figures = evaluation.sampled(recommender, candidates.users, candidates.items, k=k)
            hr.append(figures.hr)
            ndcg.append(figures.ndcg)
        print(f"{run_dir} ({len(test.users)} users, {negatives} negatives, k={k}):")
        for name, first, values in (("HR", stored.hr, hr), ("NDCG", stored.ndcg, ndcg)):
            spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
            print(
                f"  {name}@{k} stored draw {first:.4f}; {len(values)} other draws "
                f"{np.mean(values):.4f} ± {spread:.4f} [{min(values):.4f}, {max(values):.4f}]"
            )
        results[str(run_dir)] = {"hr": [stored.hr, *hr], "ndcg": [stored.ndcg, *ndcg]}
    return results


if __name__ == "__main__":
    main()
