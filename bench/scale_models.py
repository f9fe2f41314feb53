"""The ``training`` and ``evaluation`` sections of ``python -m bench.scale``.

Both build the registry's models at the paper's scale (30,753 users, 10,000 songs, 25 chords,
sequences of 100; the MFCC models read 20 x 1,292 frames pooled by 8) with random weights and
random batches: speed does not depend on either.

**training**: each model trains through Keras's own ``fit`` step, compiled as the package
compiles it (Adam, binary cross-entropy, ``jit_compile`` = ``TrainConfig.jit_compile``, XLA by
default; for COAT with the fused attention op, which XLA cannot compile, the optimizer's update
alone: :func:`coat_tf.runner.optimizer_xla`), on the same ``--training-batches`` random batches.
The models take turns, one round of ``--training-steps`` steps each, ``--training-rounds``
rounds, so that a drift in the machine's speed touches them alike; ratios to NeuMF at the same
predictive factors are medians of the per-round ratios. Multiply-adds per example
(:func:`macs_per_example`) are counted from the layer shapes: every ``Dense`` kernel ``n x m``
costs ``n m``; the GMF product ``d``; a ``Conv1D`` ``out_steps x k x c_in x c_out``; an ``LSTM``
``steps x 4 (c_in + units) units``; COAT's attention ``d_u A`` (user term) ``+ L A`` (the score
vector over ``L`` positions) ``+ V d`` (``Att = M C``), the same count for both of its
implementations, so that the literal form's extra work shows as a lower rate. Embedding lookups
count zero. The arithmetic rate is multiply-adds per example times examples per second.

**evaluation**: full-catalogue scoring (``Recommender.score_all`` traced with an unknown user
count, as in the exported ``recommend`` signature) and sampled scoring (``score_pairs`` on 100
candidates a user) in users per second, the projected time for every user over every song, and
the floor: all (user, song) pairs times the multiply-adds every pair needs (all but COAT's
attention scorer, which the full-catalogue path computes per user and chord), at the rate of one
large float32 matrix product timed in the same section.

Peak memory is the process's peak RSS when the section ends (it only grows within a run).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np

PAPER_USERS = 30_753
PAPER_SONGS = 10_000
TRAINING_MODELS = (
    "coat",
    "coat-split",
    "coat-concat",
    "neumf",
    "gmf",
    "mlp",
    "neumf-cnn",
    "neumf-lstm",
)
EVALUATION_MODELS = ("coat", "neumf", "gmf")
AUDIO_MODELS = ("neumf-cnn", "neumf-lstm")


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training section")
    group.add_argument(
        "--training-models", nargs="+", choices=TRAINING_MODELS, metavar="MODEL",
        help=f"models (default all: {' '.join(TRAINING_MODELS)}; coat-concat is COAT with the "
        "literal attention, coat-split with the split form, coat as the package builds it: "
        "the fused attention op where it is built)",
    )  # fmt: skip
    group.add_argument("--training-factors", type=int, nargs="+", help="default 8 16 32 64")
    group.add_argument("--training-batch-size", type=int, help="default 1024")
    group.add_argument("--training-steps", type=int, help="steps per round (default 20)")
    group.add_argument("--training-rounds", type=int, help="rounds (default 3)")
    group.add_argument("--training-batches", type=int, default=8, help="distinct batches")
    group.add_argument(
        "--no-xla", action="store_true", help="compile without XLA (always so with --tiny)"
    )


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("evaluation section")
    group.add_argument(
        "--evaluation-models", nargs="+", choices=EVALUATION_MODELS + AUDIO_MODELS,
        metavar="MODEL", help=f"models (default {' '.join(EVALUATION_MODELS)}; also "
        f"{' '.join(AUDIO_MODELS)})",
    )  # fmt: skip
    group.add_argument("--evaluation-factors", type=int, help="default 64")
    group.add_argument("--evaluation-users", type=int, help="users timed (default 512)")
    group.add_argument("--evaluation-rounds", type=int, default=2, help="keep the best of")


def model_config(args: argparse.Namespace, factors: int):  # noqa: ANN202
    from coat_tf.config import ModelConfig

    if args.tiny:
        return ModelConfig(
            num_users=200, num_songs=120, num_chords=25, embedding_size=factors,
            mfcc_coefficients=4, mfcc_frames=32, mfcc_pool=8,
        )  # fmt: skip
    return ModelConfig(
        num_users=PAPER_USERS, num_songs=PAPER_SONGS, num_chords=25, embedding_size=factors
    )


def _build(name: str, config):  # noqa: ANN001, ANN202
    from coat_tf.models.coat import build_coat_model
    from coat_tf.models.registry import build_model

    if name in ("coat-concat", "coat-split"):
        return build_coat_model(config, implementation=name.split("-")[1])
    return build_model(name, config)


def batches(config, names: list[str], batch_size: int, count: int) -> dict:  # noqa: ANN001
    """``count`` random batches stacked on a leading axis: the inputs any of ``names`` read."""
    from coat_tf.schema import CHORD_IDS, MFCC, SONG_ID, USER_ID

    rng = np.random.default_rng(0)
    shape = (count, batch_size)
    features = {
        USER_ID: rng.integers(0, config.num_users, shape).astype(np.int32),
        SONG_ID: rng.integers(0, config.num_songs, shape).astype(np.int32),
    }
    if any(name.startswith("coat") for name in names):
        length = config.sequence_length
        features[CHORD_IDS] = rng.integers(0, config.num_chords, (*shape, length), np.int32)
    if any("cnn" in name or "lstm" in name for name in names):
        frames = (config.mfcc_steps, config.mfcc_coefficients)
        features[MFCC] = rng.standard_normal((*shape, *frames)).astype(np.float32)
    labels = (rng.random(shape) < 0.2).astype(np.float32)
    return {"features": features, "labels": labels}


def configured_xla(args: argparse.Namespace) -> bool:
    """``TrainConfig.jit_compile`` unless ``--no-xla`` or ``--tiny`` (XLA compiles for
    minutes): what every section that trains passes to :func:`compiled`."""
    from coat_tf.config import TrainConfig

    return TrainConfig.jit_compile and not (args.no_xla or args.tiny)


def compiled(name: str, config, data: dict, xla: bool) -> tuple:  # noqa: ANN001
    """``(model, dataset)``: the model compiled as the package trains it (``xla``: the
    configured ``jit_compile``, which the package does not apply to the MFCC models on CPU),
    warmed up on ``data`` (from :func:`batches`), and the endless dataset of those batches."""
    import tensorflow as tf

    from coat_tf.models.registry import get_spec
    from coat_tf.runner import optimizer_xla, use_xla, uses_fused_op

    model = _build(name, config)
    spec = get_spec("coat" if name.startswith("coat-") else name)
    strategy = tf.distribute.get_strategy()
    fused_op = uses_fused_op(model)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    optimizer.jit_compile = optimizer_xla(xla, strategy, fused_op) or optimizer.jit_compile
    model.compile(
        optimizer=optimizer,
        loss=tf.keras.losses.BinaryCrossentropy(),
        jit_compile=use_xla(xla, spec, strategy, fused_op),
    )
    inputs = {k: v for k, v in data["features"].items() if k in model.input_names}
    dataset = tf.data.Dataset.from_tensor_slices((inputs, data["labels"])).repeat()
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)  # trace, warm up
    return model, dataset


def macs_per_example(model, config) -> dict[str, int]:  # noqa: ANN001
    """Multiply-adds of one example's forward pass, by part (see the module docstring)."""
    import tensorflow as tf

    from coat_tf.layers import GMF, ChordAttention

    counts = {"dense": 0, "gmf": 0, "attention": 0, "audio": 0}
    for module in model.submodules:
        if isinstance(module, tf.keras.layers.Dense):
            counts["dense"] += int(np.prod(module.kernel.shape))
        elif isinstance(module, GMF):
            counts["gmf"] += int(module.embedding_size)
        elif isinstance(module, ChordAttention):
            d, a, length = module.embedding_size, module.attention_size, module.sequence_length
            counts["attention"] += module.num_chords * d
            if module.mode == "learned":
                counts["attention"] += int(np.prod(module.user_kernel.shape)) + length * a
        elif isinstance(module, tf.keras.layers.Conv1D):
            steps = config.mfcc_steps  # "same" padding; each pool halves the steps
            kernel = module.kernel.shape
            index = module.name.rsplit("_", 1)[-1]
            steps = -(-steps // 2 ** int(index)) if index.isdigit() else steps
            counts["audio"] += steps * int(np.prod(kernel))
        elif isinstance(module, tf.keras.layers.LSTM):
            units = module.cell.units
            inputs = int(module.cell.kernel.shape[0])
            counts["audio"] += config.mfcc_steps * 4 * (inputs + units) * units
    counts["total"] = sum(counts.values())
    return counts


def run_training(args: argparse.Namespace) -> dict:
    import tensorflow as tf

    names = list(args.training_models or TRAINING_MODELS)
    if "neumf" not in names:
        names.append("neumf")  # the reference of every ratio
    factors = args.training_factors or ([8] if args.tiny else [8, 16, 32, 64])
    batch_size = args.training_batch_size or (64 if args.tiny else 1024)
    steps = args.training_steps or (2 if args.tiny else 20)
    rounds = args.training_rounds or (1 if args.tiny else 3)
    count = 2 if args.tiny else args.training_batches
    xla = configured_xla(args)
    rows = []
    for size in factors:
        config = model_config(args, size)
        data = batches(config, names, batch_size, count)
        models, runs = {}, {}
        for name in names:
            tf.keras.backend.clear_session()
            models[name] = compiled(name, config, data, xla)
            runs[name] = []
        for _ in range(rounds):
            for name, (model, dataset) in models.items():
                started, cpu = time.perf_counter(), time.process_time()
                model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
                wall = time.perf_counter() - started
                runs[name].append((steps * batch_size / wall, time.process_time() - cpu))
        macs = {name: macs_per_example(model, config) for name, (model, _) in models.items()}
        for name in names:
            rates = [rate for rate, _ in runs[name]]
            reference = [rate for rate, _ in runs["neumf"]]
            ratio = statistics.median(a / b for a, b in zip(rates, reference, strict=True))
            total = macs[name]["total"]
            rows.append(
                {
                    "factors": size,
                    "model": name,
                    "examples_per_s": round(statistics.median(rates)),
                    "x_neumf_examples": round(ratio, 3),
                    "macs_per_example": total,
                    "gmac_per_s": round(statistics.median(rates) * total / 1e9, 2),
                    "x_neumf_arithmetic": round(ratio * total / macs["neumf"]["total"], 3),
                    "cpu_s_per_round": round(statistics.median(c for _, c in runs[name]), 1),
                    "xla": bool(models[name][0].jit_compile),
                    "optimizer_xla": bool(models[name][0].optimizer.jit_compile),
                    "attention": attention_implementation(models[name][0]),
                    "macs_by_part": {k: v for k, v in macs[name].items() if v and k != "total"},
                }
            )
        models.clear()
    return {
        "title": "Training throughput",
        "rows": rows,
        "peak_rss_mib": peak_rss_mib(),
        "notes": [
            f"Batch {batch_size}, {rounds} rounds x {steps} steps per model, XLA "
            f"{'on' if xla else 'off'} as the package compiles each model (the xla column); "
            "x_neumf: medians of per-round ratios to NeuMF at the same factors. "
            "x_neumf_arithmetic: the same ratio in multiply-adds per second (counts "
            "per example from the layer shapes, see bench/scale_models.py). Peak RSS of the "
            f"process after the section: {peak_rss_mib():,} MiB."
        ],
    }


def attention_implementation(model) -> str:  # noqa: ANN001
    """How a model's learned chord attention computes its scores ("" for the other models)."""
    from coat_tf.layers import ChordAttention

    for layer in model.layers:
        if isinstance(layer, ChordAttention) and layer.mode == "learned":
            return "fused" if layer.uses_fused_op() else layer.active_implementation()
    return ""


def run_evaluation(args: argparse.Namespace) -> dict:
    import tensorflow as tf

    from coat_tf.models.registry import get_spec
    from coat_tf.schema import CHORD_IDS, MFCC

    names = list(args.evaluation_models or EVALUATION_MODELS)
    size = args.evaluation_factors or (8 if args.tiny else 64)
    timed = args.evaluation_users or (16 if args.tiny else 512)
    config = model_config(args, size)
    rng = np.random.default_rng(0)
    tables = {CHORD_IDS: rng.integers(0, config.num_chords, (config.num_songs, 100), np.int32)}
    if any(name in AUDIO_MODELS for name in names):
        frames = (config.mfcc_steps, config.mfcc_coefficients)
        tables[MFCC] = rng.standard_normal((config.num_songs, *frames)).astype(np.float32)
    users = tf.constant(np.arange(timed, dtype=np.int32) % config.num_users)
    rows = []
    for name in names:
        tf.keras.backend.clear_session()
        spec = get_spec(name)
        model = spec.build(config)
        recommender = spec.wrap(
            model, config, {spec.content: tables[spec.content]} if spec.content else {}
        )
        score_all = tf.function(
            recommender.score_all, input_signature=[tf.TensorSpec([None], tf.int32)]
        )
        candidates = 100
        pair_users = tf.repeat(users, candidates)
        pair_songs = tf.constant(
            rng.integers(0, config.num_songs, timed * candidates), dtype=tf.int32
        )
        # the floor's rate is timed next to each model's scoring: the machine's speed drifts
        floor_rate = _matmul_rate(256 if args.tiny else 4096)
        score_all(users[:2]).numpy()  # trace, warm up
        recommender.score_pairs(pair_users[:candidates], pair_songs[:candidates]).numpy()
        full, sampled = [], []
        for _ in range(args.evaluation_rounds):
            started = time.perf_counter()
            score_all(users).numpy()
            full.append(timed / (time.perf_counter() - started))
            started = time.perf_counter()
            recommender.score_pairs(pair_users, pair_songs).numpy()
            sampled.append(timed / (time.perf_counter() - started))
        macs = macs_per_example(model, config)
        # what every pair pays (COAT's attention scorer is per user and chord, an encoder per song)
        tower = macs["total"] - macs["attention"] - macs["audio"]
        pairs = PAPER_USERS * config.num_songs
        projected = PAPER_USERS / max(full)
        floor = pairs * tower / floor_rate
        rows.append(
            {
                "model": name,
                "factors": size,
                "full_users_per_s": round(max(full), 1),
                "sampled_users_per_s": round(max(sampled), 1),
                "all_users_projected_s": round(projected, 1),
                "macs_per_pair": tower,
                "matmul_gmac_per_s": round(floor_rate / 1e9, 1),
                "matmul_floor_s": round(floor, 3),
                "x_floor": round(projected / floor, 2),
            }
        )
    return {
        "title": "Evaluation speed",
        "rows": rows,
        "peak_rss_mib": peak_rss_mib(),
        "notes": [
            f"{timed} users timed, best of {args.evaluation_rounds}; full catalogue: "
            f"{config.num_songs:,} songs a user; sampled: 100 candidates a user. Projected: all "
            f"{PAPER_USERS:,} users. Floor: {PAPER_USERS:,} x {config.num_songs:,} pairs x the "
            "multiply-adds a pair at matmul_gmac_per_s, the best of three float32 matrix "
            "products timed just before the model's scoring. Peak RSS of the process after the "
            f"section: {peak_rss_mib():,} MiB."
        ],
    }


def time_matmul(n: int, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``repeats`` ``n x n`` float32 products, after a warm-up."""
    import tensorflow as tf

    a = tf.random.stateless_uniform((n, n), seed=[0, 1], dtype=tf.float32)
    b = tf.random.stateless_uniform((n, n), seed=[0, 2], dtype=tf.float32)
    float(tf.matmul(a, b)[0, 0])  # warm-up: kernel selection, thread pool start
    seconds, cpu = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        float(tf.matmul(a, b)[0, 0])  # reading one element waits for the product
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return seconds, cpu


def _matmul_rate(n: int) -> float:
    """Multiply-adds per second of the best of three ``n x n`` float32 products."""
    seconds, _ = time_matmul(n, 3)
    return n**3 / min(seconds)


def peak_rss_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
