"""The ``attention`` section of ``python -m bench.scale``: the chord attention's forward and
backward pass, fused against split.

For each number of factors ``d`` (``--attention-factors``) and batch size
(``--attention-batch-sizes``), three copies of COAT's chord attention layer with the same
weights (25 chords, sequences of 100, ``A = d`` as the package resolves it) run one training
step's worth of attention: the layer's output and weights for a batch of random users and
chords, then the gradient of the user vectors and of every weight. ``fused`` is the fused op
(:mod:`coat_tf.layers.fused`, no XLA: XLA cannot compile it); ``split`` the split form without
XLA; ``split_xla`` the split form compiled with XLA, as the package trains COAT without the op.
They take turns, ``--attention-steps`` calls each per round, ``--attention-rounds`` rounds, so
that a drift in the machine's speed touches them alike; the ratios are medians of per-round
ratios to ``fused``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("attention section")
    group.add_argument("--attention-factors", type=int, nargs="+", help="default 8 64")
    group.add_argument("--attention-batch-sizes", type=int, nargs="+", help="default 256 1024")
    group.add_argument("--attention-steps", type=int, help="calls per round (default 20)")
    group.add_argument("--attention-rounds", type=int, help="rounds (default 5)")


def step_functions(size: int, batch_size: int) -> dict:
    """``{variant: a function running one forward and backward pass}`` (variants that exist
    here: ``fused`` needs the op's library)."""
    import tensorflow as tf

    from coat_tf.config import ModelConfig
    from coat_tf.layers import ChordAttention, fused

    config = ModelConfig(num_users=1, num_songs=1, num_chords=25, embedding_size=size)
    rng = np.random.default_rng(0)
    user = tf.Variable(rng.normal(size=(batch_size, size)).astype(np.float32))
    ids = tf.constant(rng.integers(0, config.num_chords, (batch_size, config.sequence_length)))
    ids = tf.cast(ids, tf.int32)
    variants = {"split": ("split", False), "split_xla": ("split", True)}
    if fused.available():
        variants = {"fused": ("fused", False), **variants}
    weights, out = None, {}
    for name, (implementation, xla) in variants.items():
        layer = ChordAttention(
            config.num_chords,
            config.sequence_length,
            size,
            config.resolved_attention_size,
            implementation=implementation,
        )
        layer([user, ids])
        weights = weights or layer.get_weights()
        layer.set_weights(weights)

        def step(layer: ChordAttention = layer) -> list[tf.Tensor]:
            with tf.GradientTape() as tape:
                attended, _ = layer([user, ids])
                loss = tf.reduce_sum(attended)
            return tape.gradient(loss, [user, *layer.trainable_weights])

        out[name] = tf.function(step, jit_compile=xla)
    return out


def run(args: argparse.Namespace) -> dict:
    from coat_tf.layers import fused

    factors = args.attention_factors or ([8] if args.tiny else [8, 64])
    batch_sizes = args.attention_batch_sizes or ([64] if args.tiny else [256, 1024])
    steps = args.attention_steps or (2 if args.tiny else 20)
    rounds = args.attention_rounds or (1 if args.tiny else 5)
    rows = []
    for size in factors:
        for batch_size in batch_sizes:
            functions = step_functions(size, batch_size)
            for function in functions.values():
                function()  # trace, compile, warm up
            times = {name: [] for name in functions}
            for _ in range(rounds):
                for name, function in functions.items():
                    started = time.perf_counter()
                    for _ in range(steps):
                        result = function()
                    float(result[0][0, 0])  # wait for the last step
                    times[name].append((time.perf_counter() - started) / steps)
            reference = times.get("fused", times["split"])
            for name, seconds in times.items():
                ratios = [t / r for t, r in zip(seconds, reference, strict=True)]
                rows.append(
                    {
                        "factors": size,
                        "batch": batch_size,
                        "variant": name,
                        "ms_per_step": round(1000 * statistics.median(seconds), 2),
                        "x_fused_time": round(statistics.median(ratios), 2),
                    }
                )
    notes = [
        f"{rounds} rounds x {steps} forward and backward passes of the chord attention layer "
        "per variant (25 chords, L = 100, A = d); x_fused_time: medians of per-round ratios of "
        "time to the fused op's (above 1: slower than fused)."
    ]
    if not fused.available():
        notes.append(f"fused op unavailable: {fused.unavailable_reason()}; ratios to split")
    return {"title": "Chord attention: fused against split", "rows": rows, "notes": notes}
