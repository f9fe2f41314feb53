"""Training speed against ``TrainConfig.steps_per_execution``, side by side on the real input.

    .venv/bin/python -m bench.steps_per_execution [--data DIR] [--models neumf gmf mlp coat]
        [--factors 8] [--batch-size 256] [--values 1 50] [--steps 3000] [--rounds 2]

Each model is compiled once per value of ``steps_per_execution`` exactly as the package trains
it (Adam, binary cross-entropy, XLA where :func:`coat_tf.runner.use_xla` applies it) and fed by
:func:`coat_tf.data.make_train_dataset` from the prepared data set, repeated. Every round times
``--steps`` training steps of each (model, value) in turn, after a warm-up of one execution, so
that the values share the machine's load; the table gives the median examples per second and
its ratio to the first value's, round by round. ``--data`` is a prepared data set; without it
MovieLens-1M from the shared data folder is prepared into ``--work`` first (as
:mod:`bench.input_pipeline` does). The steps and the batches are the same whatever the value:
only the Python and function-call overhead between steps changes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.input_pipeline import prepared_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--work", default="/tmp/coat_bench/ml1m")
    parser.add_argument("--models", nargs="+", default=["neumf", "gmf", "mlp"])
    parser.add_argument("--factors", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--values", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    import tensorflow as tf

    from coat_tf.config import ModelConfig, TrainConfig
    from coat_tf.data import PreparedDataset, make_train_dataset
    from coat_tf.models.registry import build_model, content_shapes, get_spec, song_tables
    from coat_tf.runner import use_xla

    data = PreparedDataset.load(prepared_data(args.data, args.work))
    config = ModelConfig(embedding_size=args.factors, **content_shapes(data))
    print(
        f"{data.path}: {len(data.train):,} training positives; F = {args.factors}, batch "
        f"{args.batch_size}, {args.steps} steps a round, {args.rounds} rounds",
        flush=True,
    )
    compiled = {}
    for name in args.models:
        spec = get_spec(name)
        dataset = make_train_dataset(
            data, args.batch_size, seed=0, song_tables=song_tables(spec, data, config)
        ).repeat()
        for value in args.values:
            model = build_model(name, config)
            model.compile(
                optimizer=tf.keras.optimizers.Adam(1e-3),
                loss=tf.keras.losses.BinaryCrossentropy(),
                jit_compile=use_xla(TrainConfig.jit_compile, spec, tf.distribute.get_strategy()),
                steps_per_execution=value,
            )
            model.fit(dataset, steps_per_epoch=value, epochs=1, verbose=0)  # trace, warm up
            compiled[name, value] = (model, dataset)
    rates: dict[tuple[str, int], list[float]] = {key: [] for key in compiled}
    for round_index in range(args.rounds):
        for (name, value), (model, dataset) in compiled.items():
            started = time.perf_counter()
            model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0)
            rate = args.steps * args.batch_size / (time.perf_counter() - started)
            rates[name, value].append(rate)
            print(f"round {round_index + 1}: {name} {value}: {rate:,.0f} examples/s", flush=True)
    print(f"\n| model | steps_per_execution | examples/s (median) | ratio to {args.values[0]} |")
    print("|---|---:|---:|---:|")
    for name, value in compiled:
        first = rates[name, args.values[0]]
        ratio = statistics.median(a / b for a, b in zip(rates[name, value], first, strict=True))
        median = statistics.median(rates[name, value])
        print(f"| {name} | {value} | {median:,.0f} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
