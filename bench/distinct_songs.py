"""NeuMF+CNN/LSTM training speed: each distinct song of a batch encoded once, or every row.

    .venv/bin/python -m bench.distinct_songs [--data DIR | --synthetic-songs N]
        [--models neumf-cnn neumf-lstm] [--factors 8] [--batch-size 256] [--steps 200]
        [--rounds 3] [--steps-per-execution 50]

The package's audio models encode each distinct song of a batch once
(:class:`coat_tf.models.audio.MfccEncoder` with ``song_ids``); the other form here is the same
model with the encoder called on every row, as it was built before. Both give the same outputs
and gradients (``tests/test_models.py``), so only the time differs, and it depends on how many
distinct songs a batch holds: many repeats on a small catalogue, few on a large one.

Input: ``--data``, a prepared data set with MFCCs, read by
:func:`coat_tf.data.make_train_dataset` as training reads it (default: the demo data set,
prepared with MFCCs on first use); or ``--synthetic-songs N``, random batches with song ids
drawn uniformly from ``N`` songs (the paper's 10,000 songs: the fewest repeats), each song with
its own random MFCC excerpt. Each model is compiled as the package trains it (Adam, binary
cross-entropy, ``TrainConfig.steps_per_execution`` unless given, no XLA on CPU); each round times
``--steps`` steps of both forms in turn, so that they share the machine's load. The table gives
the median examples per second (wall) and CPU milliseconds per 100 examples (user and system,
all threads: on a shared machine far steadier than wall time), and the median of the per-round
ratios of each to the every-row form.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from coat_tf.config import TrainConfig

DISTINCT, EVERY_ROW = "distinct songs once", "every row"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="a prepared data set with MFCCs (default: the demo)")
    source.add_argument("--synthetic-songs", type=int, help="uniform random batches over N songs")
    parser.add_argument("--models", nargs="+", default=["neumf-cnn", "neumf-lstm"])
    parser.add_argument("--factors", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps-per-execution", type=int, default=TrainConfig.steps_per_execution)
    args = parser.parse_args(argv)
    if args.steps % args.steps_per_execution:
        parser.error(f"--steps must be a multiple of {args.steps_per_execution}")

    import tensorflow as tf

    rates: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for name in args.models:
        config, dataset, repeats = _input(args, name)
        print(f"{name}: {repeats:.0f} distinct songs a batch of {args.batch_size}", flush=True)
        forms = {
            form: _compiled(name, config, form == DISTINCT, dataset, args.steps_per_execution)
            for form in (DISTINCT, EVERY_ROW)
        }
        for form in forms:
            rates[name, form], cpu[name, form] = [], []
        for round_index in range(args.rounds):
            for form, model in forms.items():
                started, cpu_started = time.perf_counter(), time.process_time()
                model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0)
                examples = args.steps * args.batch_size
                rates[name, form].append(examples / (time.perf_counter() - started))
                cpu[name, form].append((time.process_time() - cpu_started) * 1e5 / examples)
                print(
                    f"round {round_index + 1}: {name}, {form}: {rates[name, form][-1]:,.0f} "
                    f"examples/s, {cpu[name, form][-1]:.1f} CPU ms per 100 examples",
                    flush=True,
                )
        del forms
        tf.keras.backend.clear_session()
    print(
        "\n| model | encoder over | examples/s | ratio to every row | CPU ms per 100 examples "
        "| ratio to every row |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for name, form in rates:
        wall, cpu_ms = rates[name, form], cpu[name, form]
        wall_ratio = _median_ratio(wall, rates[name, EVERY_ROW])
        cpu_ratio = _median_ratio(cpu_ms, cpu[name, EVERY_ROW])
        print(
            f"| {name} | {form} | {statistics.median(wall):,.0f} | {wall_ratio:.2f}x "
            f"| {statistics.median(cpu_ms):.1f} | {cpu_ratio:.2f}x |"
        )
    return 0


def _median_ratio(values: list[float], reference: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(values, reference, strict=True))


def _input(args: argparse.Namespace, name: str) -> tuple:  # noqa: ANN202
    """``(ModelConfig, endless dataset, mean distinct songs per batch)`` for ``name``."""
    import tensorflow as tf

    from coat_tf.config import ModelConfig
    from coat_tf.models.registry import content_shapes, get_spec, song_tables
    from coat_tf.schema import MFCC, SONG_ID, USER_ID

    if args.synthetic_songs:
        config = ModelConfig(
            num_users=30_753, num_songs=args.synthetic_songs, num_chords=25,
            embedding_size=args.factors,
        )  # fmt: skip
        rng = np.random.default_rng(0)
        shape = (16, args.batch_size)
        songs = rng.integers(0, config.num_songs, shape).astype(np.int32)
        frames = (config.num_songs, config.mfcc_steps, config.mfcc_coefficients)
        table = rng.standard_normal(frames).astype(np.float32)
        features = {
            USER_ID: rng.integers(0, config.num_users, shape).astype(np.int32),
            SONG_ID: songs,
            MFCC: table[songs],
        }
        labels = (rng.random(shape) < 0.2).astype(np.float32)
        dataset = tf.data.Dataset.from_tensor_slices((features, labels)).repeat()
    else:
        from coat_tf.data import PreparedDataset, make_train_dataset
        from coat_tf.data.demo import prepared_demo

        data = PreparedDataset.load(args.data or prepared_demo(mfcc=True))
        config = ModelConfig(embedding_size=args.factors, **content_shapes(data))
        tables = song_tables(get_spec(name), data, config)
        dataset = make_train_dataset(data, args.batch_size, seed=0, song_tables=tables)
        dataset = dataset.repeat()
    sample = [batch[0][SONG_ID].numpy() for batch in dataset.take(16)]
    return config, dataset, float(np.mean([len(np.unique(ids)) for ids in sample]))


def _compiled(name: str, config, distinct: bool, dataset, steps_per_execution: int):  # noqa: ANN001, ANN202
    """The model as the package builds it (``distinct``), or with its encoder on every row;
    compiled as the package trains it and warmed up."""
    import tensorflow as tf

    from coat_tf.models.audio import ENCODER_LAYER, MfccEncoder
    from coat_tf.models.inputs import MFCC, id_inputs, mfcc_input
    from coat_tf.models.ncf import mlp_embedding_size, neumf_graph
    from coat_tf.models.registry import build_model, get_spec
    from coat_tf.runner import use_xla

    if distinct:
        model = build_model(name, config)
    else:
        inputs = id_inputs()
        inputs[MFCC] = mfcc_input(config.mfcc_steps, config.mfcc_coefficients)
        kind = name.removeprefix("neumf-")
        encoder = MfccEncoder(kind, mlp_embedding_size(config), name=ENCODER_LAYER)
        probability = neumf_graph(config, inputs, content=encoder(inputs[MFCC]))
        model = tf.keras.Model(inputs=inputs, outputs=probability)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.BinaryCrossentropy(),
        jit_compile=use_xla(TrainConfig.jit_compile, get_spec(name), tf.distribute.get_strategy()),
        steps_per_execution=steps_per_execution,
    )
    model.fit(dataset, steps_per_epoch=steps_per_execution, epochs=1, verbose=0)
    return model


if __name__ == "__main__":
    sys.exit(main())
