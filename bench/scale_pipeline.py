"""The ``pipeline`` section of ``python -m bench.scale``: the tf.data training input beside the
models that consume it.

A data set of the paper's shape is generated and prepared once (``--pipeline-data``, kept for
later runs): 30,753 listeners with about 48 interactions each (log-normal, at least 10), drawn
from 10,000 songs with Zipf popularity, about 1.5 million interactions, prepared by ``python -m
coat_tf.data prepare --source events`` and given random chord sequences of 100 (the values do
not change the speed). Then, on that data set:

- **input alone**: :func:`coat_tf.data.make_train_dataset` (4 negatives a positive, batch
  ``--training-batch-size``) read for ``--pipeline-batches`` batches after a warm-up, with chord
  sequences (what COAT reads) and with ids only (NeuMF, GMF, MLP), in examples per second;
- **model on the input**: each model (``--pipeline-models``, default COAT and NeuMF at d = 64)
  trained by Keras's ``fit`` on that pipeline, against the same model on batches already in
  memory (:func:`bench.scale_models.compiled`, as the ``training`` section does), in turns.

``x_model`` is the input's rate over the model's: the target is 5 or more. ``on_input`` over
``in_memory`` near 1 says the input does not slow training down.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from bench import scale_models

PIPELINE_MODELS = ("coat", "neumf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pipeline section")
    group.add_argument(
        "--pipeline-data", type=Path,
        help="folder for the generated events and prepared data (kept; default: a temporary one)",
    )  # fmt: skip
    group.add_argument(
        "--pipeline-models", nargs="+", choices=("coat", "neumf", "gmf", "mlp"),
        metavar="MODEL", help=f"models fed by the pipeline (default {' '.join(PIPELINE_MODELS)})",
    )  # fmt: skip
    group.add_argument("--pipeline-batches", type=int, help="batches timed (default 1000)")
    group.add_argument("--pipeline-rounds", type=int, help="keep the median of (default 3)")


def run(args: argparse.Namespace) -> dict:
    import tempfile

    if args.pipeline_data is not None:
        return _run(args, args.pipeline_data)
    with tempfile.TemporaryDirectory(prefix="coat_scale_pipeline_") as folder:
        return _run(args, Path(folder))


def _run(args: argparse.Namespace, folder: Path) -> dict:
    import tensorflow as tf

    from coat_tf.data import PreparedDataset, make_train_dataset
    from coat_tf.models.registry import content_shapes

    users, songs = (300, 400) if args.tiny else (scale_models.PAPER_USERS, scale_models.PAPER_SONGS)
    batch_size = args.training_batch_size or (64 if args.tiny else 1024)
    count = args.pipeline_batches or (5 if args.tiny else 1000)
    rounds = args.pipeline_rounds or (1 if args.tiny else 3)
    xla = scale_models.configured_xla(args)
    started = time.perf_counter()
    data = PreparedDataset.load(prepared(folder / f"paper_shape_{users}x{songs}", users, songs))
    prepare_seconds = time.perf_counter() - started
    inputs = {
        "chords": make_train_dataset(data, batch_size, 4, seed=0).repeat(),
        "ids": make_train_dataset(data, batch_size, 4, seed=0, song_tables={}).repeat(),
    }
    # one iterator each, read on and on: a new one would fill the shuffle buffer again
    inputs = {name: iter(dataset) for name, dataset in inputs.items()}
    rows = []
    for name, iterator in inputs.items():
        rates = [_read_rate(iterator, count) for _ in range(rounds + 1)][1:]  # first: warm-up
        rows.append(
            {
                "what": f"input alone ({name})",
                "examples_per_s": round(statistics.median(rates)),
            }
        )
    input_rate = {row["what"]: row["examples_per_s"] for row in rows}
    size = 8 if args.tiny else 64
    config = dataclasses.replace(scale_models.model_config(args, size), **content_shapes(data))
    names = list(args.pipeline_models or PIPELINE_MODELS)
    memory = scale_models.batches(config, names, batch_size, 2 if args.tiny else 8)
    steps = min(count, 5 if args.tiny else 50)
    for name in names:
        tf.keras.backend.clear_session()
        model, in_memory = scale_models.compiled(name, config, memory, xla)
        kind = "chords" if name.startswith("coat") else "ids"  # what the model reads
        feed = inputs[kind]
        model.fit(feed, steps_per_epoch=2, epochs=1, verbose=0)  # warm-up on this iterator
        on_input, alone = [], []
        for _ in range(rounds):
            for source, rates in ((feed, on_input), (in_memory, alone)):
                began = time.perf_counter()
                model.fit(source, steps_per_epoch=steps, epochs=1, verbose=0)
                rates.append(steps * batch_size / (time.perf_counter() - began))
        model_rate = statistics.median(alone)
        pipeline = input_rate[f"input alone ({kind})"]
        rows.append(
            {
                "what": f"{name}, d = {size}",
                "examples_per_s": round(statistics.median(on_input)),
                "in_memory_examples_per_s": round(model_rate),
                "on_input_over_in_memory": round(statistics.median(on_input) / model_rate, 2),
                "x_model": round(pipeline / model_rate, 1),
            }
        )
    return {
        "title": "Training input (tf.data) beside the models",
        "rows": rows,
        "peak_rss_mib": scale_models.peak_rss_mib(),
        "notes": [
            f"Data: {data.num_users:,} users, {data.num_songs:,} songs, {len(data.train):,} "
            f"training positives ({prepare_seconds:.0f} s to load, generating and preparing "
            f"it the first time). Batch {batch_size}, 4 negatives a positive; input alone: "
            f"median of {rounds} reads of {count} batches after a warm-up; models: {rounds} "
            f"turns of {steps} steps on the input and on {batch_size}-example batches in "
            f"memory, XLA {'on' if xla else 'off'}. x_model: the input's examples per second "
            "over the model's (in memory). Peak RSS of the process after the section: "
            f"{scale_models.peak_rss_mib():,} MiB (run the section alone for the memory of "
            "loading the data set and training on it)."
        ],
    }


def _read_rate(iterator, batches: int) -> float:  # noqa: ANN001
    """Examples per second of reading the next ``batches`` batches."""
    started = time.perf_counter()
    examples = 0
    for _ in range(batches):
        _, labels = next(iterator)
        examples += int(labels.shape[0])
    return examples / (time.perf_counter() - started)


def prepared(folder: Path, users: int, songs: int) -> Path:
    """A prepared data set of ``users`` x ``songs`` in ``folder/prepared`` (made once)."""
    from coat_tf.data import PrepareConfig, prepare
    from coat_tf.data.manifest import update_checksums

    out = folder / "prepared"
    if (out / "manifest.json").is_file():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    events = write_events(folder / "events.tsv", users, songs)
    config = PrepareConfig.for_source("events", since=None, top_songs=None)
    prepare("events", events, out, config, overwrite=True, progress=False)
    rows = len(np.load(out / "chords.npy"))
    chords = np.random.default_rng(1).integers(1, 25, (rows, 100)).astype(np.int32)
    np.save(out / "chords.npy", chords)
    update_checksums(out)
    return out


def write_events(path: Path, users: int, songs: int, mean: float = 40.0) -> Path:
    """An events file (``user_id, track_id, timestamp``): per user a log-normal number of
    distinct songs (median ``mean``, at least 10) drawn by Zipf popularity (exponent 1)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    counts = np.clip(rng.lognormal(np.log(mean), 0.6, users).astype(int), 10, songs)
    popularity = 1.0 / np.arange(1, songs + 1)
    popularity /= popularity.sum()
    drawn = rng.choice(songs, size=int(counts.sum() * 1.2), p=popularity)
    owners = np.repeat(np.arange(users), (counts * 1.2).astype(int) + 1)[: len(drawn)]
    pairs = np.unique(owners.astype(np.int64) * songs + drawn[: len(owners)])
    frame = pd.DataFrame({"user_id": pairs // songs, "track_id": pairs % songs})
    frame["timestamp"] = 1_400_000_000 + rng.permutation(len(frame))
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, sep="\t", index=False)
    tmp.replace(path)
    return path
