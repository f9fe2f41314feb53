"""Throughput of the tf.data training input (examples per second, negatives included).

    .venv/bin/python -m bench.input_pipeline [--data DIR] [--batch-size 1024] [--negatives 4]

``--data`` is a prepared data set; without it MovieLens-1M from the shared data folder is
prepared into ``--work`` (default ``/tmp/coat_bench/ml1m``) first. Each configuration runs
``--epochs`` passes after one warm-up pass and reports the median examples per second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def prepared_data(data: str | None, work: str) -> Path:
    """``data`` (a prepared folder) if given, else MovieLens-1M from the shared data folder,
    prepared into ``work`` the first time."""
    from coat_tf.data import PrepareConfig, prepare
    from coat_tf.paths import shared_data_dir

    if data:
        return Path(data)
    folder = Path(work)
    if not (folder / "manifest.json").is_file():
        source = shared_data_dir() / "movielens-1m"
        prepare("movielens", source, folder, PrepareConfig.for_source("movielens"), overwrite=True)
    return folder


def _epoch(dataset) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    for _, labels in dataset:
        count += int(labels.shape[0])
    return count, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--work", default="/tmp/coat_bench/ml1m")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)

    import coat_tf  # noqa: F401
    from coat_tf.data import PreparedDataset, make_train_dataset

    data = PreparedDataset.load(prepared_data(args.data, args.work))
    print(
        f"{data.path}: {len(data.train):,} training positives, {data.num_users:,} users, "
        f"{data.num_songs:,} songs; batch {args.batch_size}, {args.negatives} negatives each"
    )
    for deterministic in (False, True):
        dataset = make_train_dataset(
            data, args.batch_size, args.negatives, seed=0, deterministic=deterministic
        )
        _epoch(dataset)  # warm-up: builds the pipeline and fills the shuffle buffer once
        rates = []
        for _ in range(args.epochs):
            count, seconds = _epoch(dataset)
            rates.append(count / seconds)
        print(
            f"deterministic={deterministic}: {count:,} examples per epoch, median "
            f"{statistics.median(rates):,.0f} examples/s (epochs: "
            f"{', '.join(f'{r:,.0f}' for r in rates)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
