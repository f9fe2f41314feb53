"""The main job: ``python -m coat_tf.train``.

With no arguments it prepares (or reuses) the simulated demo data set, trains COAT, evaluates
it on the test split (sampled and full-catalogue HR/NDCG), writes TensorBoard logs, exports a
SavedModel under ``saved_models/`` and prints a summary. ``--help`` lists the options.

``--model`` takes any model of :data:`coat_tf.models.MODELS`: COAT, its ablations and every
baseline of the paper (and the chord-histogram and random baselines), trained, evaluated and
exported the same way.

A run folder holds ``config.json`` (the resolved :class:`~coat_tf.config.RunConfig`),
``metrics.json``, ``best/`` (weights checkpoint, WMF's factors, or the state of a model fitted
in one pass: popularity, item-kNN, chord-histogram, random) and ``best.json`` (the epoch
with the best validation NDCG), ``backup/`` (the state ``--resume`` continues from) and
``tensorboard/``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import coat_tf  # noqa: F401  (legacy Keras before TensorFlow)
from coat_tf import add_version_option, distribute
from coat_tf import config as cfg
from coat_tf._env import device_summary
from coat_tf.claims import Busy, claim, hold_data
from coat_tf.config import ModelConfig, RunConfig
from coat_tf.failures import FAILURE_FILE, RunFailed, describe, write_failure_report
from coat_tf.fileio import atomic_write_text
from coat_tf.models import MODELS
from coat_tf.runs import (
    CONFIG_FILE,
    METRICS_FILE,
    RunDirError,
    check_same_data,
    check_writable_folder,
    epochs_trained,
    prepare_run_dir,
)
from coat_tf.schema import MFCC

if TYPE_CHECKING:
    import tensorflow as tf

    from coat_tf.data import PreparedDataset

#: The embedding size of a run on the demo data when neither ``--config`` nor
#: ``--embedding-size`` sets one: the size COAT's validation NDCG chose among 8, 16, 32 and 64
#: on the demo (``python -m bench.demo_experiment``). ``ModelConfig``'s default, the paper's 64,
#: suits tens of thousands of listeners; on the demo's 1,500 COAT overfits by its second epoch.
DEMO_EMBEDDING_SIZE = 16


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m coat_tf.train",
        description="Train, evaluate and export COAT or a baseline. With no arguments: COAT on "
        "the simulated demo data set.",
    )
    add_version_option(parser)
    parser.add_argument("--data", help="prepared data set folder (default: the demo data set)")
    parser.add_argument(
        "--model",
        choices=list(MODELS),
        help="model to train (default coat): "
        + "; ".join(f"{name}: {spec.summary}" for name, spec in MODELS.items()),
    )
    parser.add_argument("--config", help="JSON RunConfig file; command-line options override it")
    parser.add_argument(
        "--embedding-size",
        type=int,
        help="predictive factors F: the embedding size of COAT and GMF, WMF's factors, the last "
        "hidden layer of the MLP and NeuMF (default 64; 16 on the demo data)",
    )
    parser.add_argument("--batch-size", type=int, help="examples per batch")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate")
    parser.add_argument("--epochs", type=int, help="maximum epochs")
    parser.add_argument("--negatives", type=int, help="sampled negatives per positive")
    parser.add_argument("--patience", type=int, help="epochs without a better val NDCG to stop")
    parser.add_argument("--top-k", type=int, help="K of HR@K and NDCG@K")
    parser.add_argument("--seed", type=int, help="seeds weights, negatives and shuffling")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), help="default adam")
    parser.add_argument(
        "--no-xla",
        dest="jit_compile",
        action="store_const",
        const=False,
        help="do not compile the training step with XLA",
    )
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        help="training steps per call of the compiled step (default 50; the same steps, "
        "less overhead between them)",
    )
    parser.add_argument(
        "--test-every-epoch",
        action="store_const",
        const=True,
        help="also record sampled test HR/NDCG after every epoch (NCF's epoch rule, for "
        "comparison: never used to choose the epoch)",
    )
    parser.add_argument(
        "--pretrain-gmf", metavar="RUN", help="NeuMF only: start from this GMF run's weights"
    )
    parser.add_argument(
        "--pretrain-mlp", metavar="RUN", help="NeuMF only: start from this MLP run's weights"
    )
    parser.add_argument(
        "--song-dropout",
        type=float,
        metavar="P",
        help="COAT only: train with song dropout, each example's GMF song embedding replaced by "
        "the mean one (a new song's) with probability P in [0, 1] (default 0; 0.5 for "
        "coat-song-dropout)",
    )
    parser.add_argument("--wmf-regularization", type=float, help="WMF's lambda (default 0.01)")
    parser.add_argument(
        "--wmf-alpha", type=float, help="WMF's confidence 1 + alpha * plays (default 1)"
    )
    parser.add_argument(
        "--itemknn-neighbours",
        type=int,
        metavar="K",
        help="item-kNN: the most similar songs kept per song, itself included (default 100)",
    )
    parser.add_argument(
        "--mfcc",
        action="store_true",
        help="on the demo data: use the variant with MFCCs (automatic for neumf-cnn/-lstm)",
    )
    parser.add_argument("--run-dir", help="run folder (default runs/<model>-<time>)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir from its last finished epoch, with its config.json",
    )
    parser.add_argument("--export-dir", default="saved_models", help="SavedModel root folder")
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    parser.add_argument(
        "--no-full-catalogue", action="store_true", help="skip full-catalogue evaluation"
    )
    parser.add_argument(
        "--devices",
        type=int,
        default=0,
        help="replicas for MirroredStrategy (0: every GPU if any, else the default strategy)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    return parser


def resolve_config(args: argparse.Namespace) -> RunConfig:
    """Defaults, then ``--config``, then the command-line options, in that order.

    The defaults are :class:`RunConfig`'s, except on the demo data (no ``--data``), where the
    embedding size is :data:`DEMO_EMBEDDING_SIZE`.
    """
    if args.config:
        run = cfg.load(RunConfig, args.config)
    elif args.data is None:
        run = RunConfig(model=ModelConfig(embedding_size=DEMO_EMBEDDING_SIZE))
    else:
        run = RunConfig()
    train_overrides = {
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "epochs": args.epochs,
        "negatives": args.negatives,
        "seed": args.seed,
        "early_stopping_patience": args.patience,
        "top_k": args.top_k,
        "optimizer": args.optimizer,
        "jit_compile": args.jit_compile,
        "steps_per_execution": args.steps_per_execution,
        "pretrain_gmf": args.pretrain_gmf,
        "pretrain_mlp": args.pretrain_mlp,
        "test_every_epoch": args.test_every_epoch,
    }
    train = dataclasses.replace(
        run.train, **{k: v for k, v in train_overrides.items() if v is not None}
    )
    model = run.model
    if args.model in cfg.MODEL_ATTENTION_MODES:  # --model decides, whatever --config said
        model = dataclasses.replace(model, attention_mode=cfg.MODEL_ATTENTION_MODES[args.model])
    if args.embedding_size is not None:
        model = dataclasses.replace(model, embedding_size=args.embedding_size)
    if args.song_dropout is not None:
        name = args.model or run.model_name
        if args.song_dropout == 0 and name in cfg.MODEL_SONG_DROPOUT:
            raise ValueError(
                f"--song-dropout 0: model {name!r} is COAT trained with song dropout "
                f"({cfg.MODEL_SONG_DROPOUT[name]} unless set); for COAT without it choose "
                "--model coat"
            )
        model = dataclasses.replace(model, song_dropout=args.song_dropout)
    wmf_overrides = {"regularization": args.wmf_regularization, "alpha": args.wmf_alpha}
    if any(v is not None for v in wmf_overrides.values()):
        wmf = dataclasses.replace(
            model.wmf, **{k: v for k, v in wmf_overrides.items() if v is not None}
        )
        model = dataclasses.replace(model, wmf=wmf)
    if args.itemknn_neighbours is not None:
        itemknn = dataclasses.replace(model.itemknn, neighbours=args.itemknn_neighbours)
        model = dataclasses.replace(model, itemknn=itemknn)
    return dataclasses.replace(  # every other field (data_hash) as the --config file has it
        run,
        model=model,
        train=train,
        model_name=args.model or run.model_name,
        data_dir=args.data or run.data_dir,
    )


def resumed_run(
    run: RunConfig, run_dir: Path, epochs_option: int | None
) -> tuple[RunConfig, str | None]:
    """The run ``--resume`` continues in ``run_dir``, checked against the epochs it has
    trained already, and a note to print (or ``None``).

    A run whose training has ended is evaluated and finished as it is: an ``--epochs`` is
    ignored (with a note), so ``config.json`` keeps the count it was trained under. A run
    that has trained more epochs than ``run.train.epochs`` and not ended is refused.

    Raises:
        RunDirError: the run is past ``run.train.epochs``.
        ValueError: the run's ``config.json`` is unreadable or bad.
    """
    done, ended = epochs_trained(run_dir)
    saved = cfg.load(RunConfig, run_dir / CONFIG_FILE).train.epochs
    if ended:
        if epochs_option is None or epochs_option == saved:
            return run, None
        note = (
            f"note: the training of {run_dir} ended after {done} epochs; --epochs "
            f"{epochs_option} is ignored and the run is evaluated and finished"
        )
        return dataclasses.replace(run, train=dataclasses.replace(run.train, epochs=saved)), note
    if done > run.train.epochs:
        raise RunDirError(
            f"--resume: the run in {run_dir} has already trained {done} epochs, more than "
            f"the {run.train.epochs} asked (--epochs); resume it without --epochs to train up "
            f"to its own {saved}, or with --epochs {done} or more"
        )
    return run, None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the main job; returns the exit status: 0 done, 1 the run failed (``failure.json``
    in the run folder says why), 2 bad input (options, config, data set or run folder), 130
    interrupted (Ctrl-C; ``--resume`` continues the run)."""
    args = build_parser().parse_args(argv)
    if args.resume and not args.run_dir:
        print("error: --resume needs --run-dir (the run to continue)", file=sys.stderr)
        return 2
    try:
        # in a multi-worker cluster only the chief checks, changes and writes the run folder
        chief = distribute.is_chief()
        if distribute.cluster_size() > 1 and not args.run_dir:
            raise ValueError("a multi-worker run (TF_CONFIG) needs --run-dir, the same on all")
        if args.resume:
            if chief:
                prepare_run_dir(args.run_dir, resume=True)
            if not args.config:
                args.config = str(Path(args.run_dir) / "config.json")  # the run's own settings
        run = resolve_config(args)
        run_dir = Path(args.run_dir or f"runs/{run.model_name}-{time.strftime('%Y%m%d-%H%M%S')}")
        note = prepare_run_dir(run_dir, args.resume) if chief else None
        if args.resume:
            run, note = resumed_run(run, run_dir, args.epochs)
        if chief and not args.no_export:
            check_writable_folder(args.export_dir, "--export-dir")
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return load_and_train(args, run, run_dir, note, chief)
    except KeyboardInterrupt:  # Ctrl-C: the backup of the last finished epoch is kept
        if (run_dir / CONFIG_FILE).is_file():
            print(f"interrupted: resume with --resume --run-dir {run_dir}", file=sys.stderr)
        else:
            print("interrupted before the run started: nothing to resume", file=sys.stderr)
        return 130


def load_and_train(
    args: argparse.Namespace, run: RunConfig, run_dir: Path, note: str | None, chief: bool
) -> int:
    """Load the data set, claim ``run_dir`` and train in it; the exit status of :func:`main`."""
    from coat_tf.data import DataError, PreparedDataset
    from coat_tf.data.demo import prepared_demo
    from coat_tf.evaluation import check_top_k
    from coat_tf.models import get_spec
    from coat_tf.models.registry import content_shapes

    held = contextlib.ExitStack()  # the data set, then the run folder, for the whole run
    try:
        # first: a multi-worker strategy must exist before TensorFlow initialises its devices
        strategy = distribute.make_strategy(args.devices)
        if run.data_dir:
            data_dir = Path(run.data_dir)
        else:
            mfcc = args.mfcc or get_spec(run.model_name).content == MFCC
            data_dir = prepared_demo(mfcc=mfcc, progress=not args.quiet)
        held.enter_context(hold_data(data_dir))  # before reading: no prepare --overwrite now
        data = PreparedDataset.load(data_dir)
        if args.resume:
            check_same_data(run_dir, run.data_hash, data_dir, data.manifest.get("content_hash"))
        check_top_k(run.train.top_k, data)
    except (DataError, ValueError, Busy) as error:
        held.close()
        print(f"error: {error}", file=sys.stderr)
        return 2
    if note:
        print(note, file=sys.stderr)
    if data.validation_in_train:
        print(f"note: {data.validation_in_train_note}", file=sys.stderr)
    if not args.quiet:
        print(device_summary(strategy), file=sys.stderr)
    run = dataclasses.replace(
        run,
        data_dir=str(data_dir),
        data_hash=data.manifest.get("content_hash"),
        model=dataclasses.replace(run.model, **content_shapes(data)),
    )
    with held:
        if chief:  # the chief alone writes the folder: it holds it for the whole run
            try:
                held.enter_context(claim(run_dir))
            except Busy as busy:
                print(
                    f"error: {busy}; one process at a time trains in a run folder", file=sys.stderr
                )
                return 2
            except OSError as error:
                print(f"error: --run-dir {run_dir}: {_os_reason(error)}", file=sys.stderr)
                return 2
        return train_in_folder(args, run, run_dir, data, strategy, chief)


def _os_reason(error: OSError) -> str:
    """``PATH: reason`` of a failed file operation, for a one-line message."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def train_in_folder(
    args: argparse.Namespace,
    run: RunConfig,
    run_dir: Path,
    data: PreparedDataset,
    strategy: tf.distribute.Strategy,
    chief: bool,
) -> int:
    """Train, evaluate and export ``run`` into ``run_dir``; the exit status of :func:`main`."""
    import tensorflow as tf

    from coat_tf.models import MissingContentError
    from coat_tf.runner import train_and_evaluate
    from coat_tf.trained import RunError

    if chief:
        try:
            (run_dir / FAILURE_FILE).unlink(missing_ok=True)  # a resumed failed run: a chance
            cfg.save(run, run_dir / "config.json")
        except OSError as error:
            print(f"error: --run-dir {run_dir}: {_os_reason(error)}", file=sys.stderr)
            return 2
    try:
        metrics, _ = train_and_evaluate(
            run,
            data,
            run_dir,
            strategy=strategy,
            full_catalogue=not args.no_full_catalogue,
            export_dir=None if args.no_export else Path(args.export_dir),
            verbose=not args.quiet,
        )
    except (MissingContentError, RunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (RunFailed, tf.errors.OpError, OSError) as error:
        if not chief:
            print(f"error: {describe(error)}", file=sys.stderr)
            return 1
        try:
            report = write_failure_report(run_dir, error)
        except OSError as unwritable:  # the folder itself refuses writes now
            print(
                f"error: {describe(error)}\nthe run failed; its failure report could not be "
                f"written ({_os_reason(unwritable)})",
                file=sys.stderr,
            )
            return 1
        print(f"error: {describe(error)}\nthe run failed; see {report}", file=sys.stderr)
        return 1
    if not chief:
        print(f"{distribute.worker_name()}: trained in step with the chief", file=sys.stderr)
        return 0
    atomic_write_text(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    print(summary(run, metrics, run_dir, data))
    return 0


def _size(run: RunConfig) -> str:
    """The model's size for the summary: its predictive factors, item-kNN's ``K``, random's
    seed, or nothing (popularity, chord-histogram)."""
    if run.model_name == "itemknn":
        return f" (K={run.model.itemknn.neighbours})"
    if run.model_name == "random":
        return f" (seed={run.train.seed})"
    if MODELS[run.model_name].trainer == "one_pass":
        return ""
    return f" (F={run.model.embedding_size})"


def summary(run: RunConfig, metrics: dict, run_dir: Path, data) -> str:  # noqa: ANN001
    test = metrics["test"]
    source = data.manifest.get("source", {}).get("name", "?")
    if "examples_per_second" in metrics:
        speed = f"{metrics['examples_per_second']:.0f} examples/s"
    elif "iterations_per_second" in metrics:
        speed = f"{metrics['iterations_per_second']:.2f} ALS iterations/s"
    else:
        speed = "fitted in one pass"
    best_epoch = str(metrics["best_epoch"])
    if metrics["best_epoch"] == 0 and run.train.pretrain_gmf:
        best_epoch += ": the pre-trained start"
    lines = [
        f"model {run.model_name}{_size(run)} on {data.path}"
        + (" [simulated demo data]" if source == "demo" else ""),
        f"  epochs {metrics['epochs']} (best {best_epoch}), "
        f"{metrics['train_seconds']:.1f} s, {speed}",
        f"  best validation  HR@{run.train.top_k} {metrics['validation']['hr']:.4f}  "
        f"NDCG@{run.train.top_k} {metrics['validation']['ndcg']:.4f}",
        f"  test ({data.test.items.shape[1] - 1} negatives)    HR {test['sampled']['hr']:.4f}  "
        f"NDCG {test['sampled']['ndcg']:.4f}",
    ]
    if "full_catalogue" in test:
        full = test["full_catalogue"]
        lines.append(
            f"  test (full catalogue)  HR {full['hr']:.4f}  NDCG {full['ndcg']:.4f}  "
            f"({full['users_per_second']:.0f} users/s)"
        )
    new_songs = new_songs_summary(metrics, data)
    if new_songs:
        lines.append(new_songs)
    bad = max(split.get("non_finite", 0) for split in test.values())
    if bad:
        lines.append(f"  warning: {bad} held-out songs scored NaN or infinite (counted as misses)")
    lines.append(f"  run folder {run_dir}  (tensorboard --logdir {run_dir / 'tensorboard'})")
    if metrics.get("export"):
        lines.append(f"  SavedModel {metrics['export']}")
    return "\n".join(lines)


def new_songs_summary(metrics: dict, data) -> str | None:  # noqa: ANN001
    """The summary's line of the new songs' test shelf (sampled and whole shelf), or the reason
    the model cannot rank new songs; ``None`` where there is neither."""
    block = metrics.get("new_songs") or {}
    if "unsupported" in block:
        return f"  new songs: {block['unsupported']}"
    if "test" not in block:
        return None
    sampled, whole = block["test"]["sampled"], block["test"]["whole_shelf"]
    new = getattr(data, "new_songs", None)
    negatives = f"{new.test.items.shape[1] - 1} negatives, " if new is not None else ""
    return (
        f"  new songs, test shelf ({negatives}{sampled['users']} rows)  HR {sampled['hr']:.4f}  "
        f"NDCG {sampled['ndcg']:.4f};  whole shelf  HR {whole['hr']:.4f}  "
        f"NDCG {whole['ndcg']:.4f}"
    )


if __name__ == "__main__":
    sys.exit(main())
