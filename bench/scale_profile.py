"""The ``profile`` section of ``python -m bench.scale``: where a training step's time goes.

Each model (``--profile-models``, default COAT and NeuMF) is built at the paper's scale and
compiled as the ``training`` section compiles it (:func:`bench.scale_models.compiled`); then
``--profile-steps`` steps of Keras's ``fit`` run under ``tf.profiler``. The trace is kept under
``OUT/profile/<model>`` (TensorBoard's profile plugin reads it) and summarised here from the
trace file itself (the ``XSpace`` protocol buffer):

- without XLA, every TensorFlow op is an event named ``<op name>:<op type>``;
- with XLA (the package's default), the events are the compiled program's kernels (fusions,
  dots, gathers). Each kernel is mapped to the TensorFlow ops it was compiled from through the
  HLO module stored in the trace (each instruction's ``metadata.op_name``).

An op's name says which layer it belongs to (``<model>/<layer>/...``) and whether it is part of
the backward pass (``gradient_tape/...``) or of the optimizer (``Adam/...``). Layers are put in
parts by their type: :class:`~coat_tf.layers.ChordAttention` is ``attention``,
:class:`~coat_tf.layers.TowerMLP` and ``Dense`` are ``tower``, :class:`~coat_tf.layers.GMF` and
``Embedding`` are ``embeddings``, the MFCC encoder is ``audio encoder``; the rest is ``loss and
other``. A kernel compiled from ops of several parts is counted in the part most of them belong
to. Times are summed over all threads (CPU time spent in kernels), divided by the steps.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

from bench import scale_models

PROFILE_MODELS = ("coat", "neumf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("profile section")
    group.add_argument(
        "--profile-models", nargs="+", choices=scale_models.TRAINING_MODELS, metavar="MODEL",
        help=f"models (default {' '.join(PROFILE_MODELS)})",
    )  # fmt: skip
    group.add_argument("--profile-factors", type=int, help="default 64")
    group.add_argument("--profile-steps", type=int, help="profiled steps (default 10)")
    group.add_argument(
        "--profile-top", type=int, default=6, help="kernels listed per model (default 6)"
    )


def run(args: argparse.Namespace) -> dict:
    import tensorflow as tf

    names = list(args.profile_models or PROFILE_MODELS)
    size = args.profile_factors or (8 if args.tiny else 64)
    steps = args.profile_steps or (2 if args.tiny else 10)
    batch_size = args.training_batch_size or (64 if args.tiny else 1024)
    xla = scale_models.configured_xla(args)
    config = scale_models.model_config(args, size)
    data = scale_models.batches(config, names, batch_size, 2 if args.tiny else 4)
    keep = args.out / "profile" if args.out is not None else None
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="coat_profile_") as scratch:
        for name in names:
            tf.keras.backend.clear_session()
            model, dataset = scale_models.compiled(name, config, data, xla)
            logdir = (keep or Path(scratch)) / name
            tf.profiler.experimental.start(str(logdir))
            started = time.perf_counter()
            model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
            wall = time.perf_counter() - started
            tf.profiler.experimental.stop()
            parts, kernels = summarise(
                trace_file(logdir), layer_parts(model), xla_is_optimizer=not model.jit_compile
            )
            total = sum(parts.values())
            for part, seconds in parts.most_common():
                rows.append(
                    {
                        "model": name,
                        "part": part,
                        "ms_per_step": round(1e3 * seconds / steps, 2),
                        "share": f"{seconds / total:.0%}",
                    }
                )
            top = ", ".join(
                f"{kernel} {1e3 * seconds / steps:.1f} ms" for kernel, seconds
                in kernels.most_common(args.profile_top)
            )  # fmt: skip
            notes.append(
                f"{name} (XLA {'on' if model.jit_compile else 'off'}): {steps} steps of "
                f"{batch_size} in {wall:.2f} s wall "
                f"({steps * batch_size / wall:,.0f} examples/s while profiled), "
                f"{1e3 * total / steps:.1f} ms of kernel time a step. Largest kernels: {top}."
            )
    notes.append(
        f"d = {size}, XLA {'on' if xla else 'off'} as the package compiles each model (not for "
        "the fused attention op, which XLA cannot compile). ms_per_step: CPU time in kernels, all "
        "threads together. Parts and the mapping of kernels to layers: bench/scale_profile.py."
        + (f" Traces (TensorBoard's profile plugin): {keep}." if keep else "")
    )
    return {"title": "Where a training step's time goes", "rows": rows, "notes": notes}


def trace_file(logdir: Path) -> Path:
    """The newest ``*.xplane.pb`` that ``tf.profiler`` wrote under ``logdir``."""
    found = sorted(logdir.glob("plugins/profile/*/*.xplane.pb"))
    if not found:
        raise RuntimeError(f"tf.profiler wrote no trace under {logdir}")
    return found[-1]


def layer_parts(model) -> dict[str, str]:  # noqa: ANN001
    """``{layer name: part}`` for the model's top-level layers."""
    import tensorflow as tf

    from coat_tf.layers import GMF, ChordAttention, TowerMLP

    kinds = (
        (ChordAttention, "attention"),
        ((TowerMLP, tf.keras.layers.Dense), "tower"),
        ((GMF, tf.keras.layers.Embedding), "embeddings"),
    )
    parts = {}
    for layer in model.layers:
        part = next((p for kind, p in kinds if isinstance(layer, kind)), None)
        if part is None and "encoder" in layer.name:
            part = "audio encoder"
        parts[layer.name] = part or "loss and other"
    return parts


def part_of(op_name: str, parts: dict[str, str]) -> str:
    """The part of one TensorFlow op, from its name (see the module docstring)."""
    backward = op_name.startswith("gradient_tape/")
    path = op_name.removeprefix("gradient_tape/").split("/")
    if path[0].startswith("Adam"):
        return "optimizer"
    part = parts.get(path[1], "loss and other") if len(path) > 2 else "loss and other"
    return f"{part}, backward" if backward else part


def summarise(
    path: Path, parts: dict[str, str], xla_is_optimizer: bool = False
) -> tuple[collections.Counter, collections.Counter]:
    """Seconds by part and by kernel (op type, or XLA kernel) over the whole trace.

    ``xla_is_optimizer``: the step itself is not compiled with XLA, so its XLA kernels are the
    optimizer's update, compiled on its own (:func:`coat_tf.runner.optimizer_xla`), whose op
    names do not say so."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(path.read_bytes())
    compiled = _compiled_ops(space)
    by_part: collections.Counter = collections.Counter()
    by_kernel: collections.Counter = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                seconds = event.duration_ps * 1e-12
                if name in compiled:  # an XLA kernel
                    ops, kernel = compiled[name], name
                    if xla_is_optimizer:
                        ops = [f"Adam/{op}" for op in ops] or ["Adam/update"]
                elif line.name.startswith("tf_Compute") and _is_op(name):
                    op, kernel = name.rsplit(":", 1)
                    ops = [op]
                else:
                    continue
                votes = collections.Counter(part_of(op, parts) for op in ops)
                by_part[votes.most_common(1)[0][0] if votes else "loss and other"] += seconds
                if ops and kernel != ops[0].rsplit("/", 1)[-1]:  # say what an XLA kernel computes
                    main = collections.Counter(ops).most_common(1)[0][0]
                    kernel = f"{kernel} ({main.split('/', 1)[-1]})"
                by_kernel[kernel] += seconds
    return by_part, by_kernel


def _is_op(name: str) -> bool:
    """TensorFlow op events are ``name:Type``; executor and runtime events use ``::``."""
    return ":" in name and "::" not in name and not name.startswith("XLA")


def _compiled_ops(space) -> dict[str, list[str]]:  # noqa: ANN001
    """``{XLA instruction name: TensorFlow op names it was compiled from}``, from the HLO module
    in the trace's metadata plane that names the most of the trace's events (the metadata plane
    also holds the programs that the process compiled before the trace began)."""
    from tensorflow.compiler.xla.service import hlo_pb2

    events = {
        plane.event_metadata[event.metadata_id].name
        for plane in space.planes
        if plane.name == "/host:CPU"
        for line in plane.lines
        for event in line.events
    }
    best, best_matches = {}, 0
    for plane in space.planes:
        if plane.name != "/host:metadata":
            continue
        for metadata in plane.event_metadata.values():
            for stat in metadata.stats:
                if not stat.bytes_value:
                    continue
                proto = hlo_pb2.HloProto()
                proto.ParseFromString(stat.bytes_value)
                ops = _sources(proto.hlo_module)
                matches = len(events & ops.keys())
                if matches > best_matches:
                    best, best_matches = ops, matches
    return best


def _sources(module) -> dict[str, list[str]]:  # noqa: ANN001
    """Every instruction of an HLO module with the TensorFlow op names it was compiled from (its
    own and those of the computations it calls, such as a fusion's body)."""
    computations = {c.id: c for c in module.computations}

    def sources(instruction, seen: set[int]) -> list[str]:  # noqa: ANN001
        names = [instruction.metadata.op_name] if instruction.metadata.op_name else []
        for called in instruction.called_computation_ids:
            if called not in seen:
                seen.add(called)
                for inner in computations[called].instructions:
                    names += sources(inner, seen)
        return names

    return {
        instruction.name: sources(instruction, set())
        for computation in module.computations
        for instruction in computation.instructions
    }
