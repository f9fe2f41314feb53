"""``python -m tuning.search``: the paper's grid search for one model, resumable.

A keras-tuner grid search (:class:`~tuning.oracle.ResumableGridSearchOracle`, trials run by
:class:`~tuning.tuner.SearchTuner`) over the model's grid (:attr:`coat_tf.models.ModelSpec.grid`:
batch size x learning rate x embedding size, 64 trials, for the neural models; factors x
regularisation x alpha for WMF). Options replace any axis's values. The objective is the best
validation NDCG@k of a trial's run; the test split is never read.

The search folder (``--dir``, default ``tuning_runs/<model>``) holds:

- ``search.json``: the search's settings (model, data, grid, training settings); the same
  command continues the search in it, a different one is refused;
- ``claim.lock``, while a search runs: it holds the folder (:mod:`coat_tf.claims`), and a
  second search there stops at once, naming it;
- ``oracle.json``, ``tuner0.json``: keras-tuner's state;
- ``trial_<id>/``: keras-tuner's ``trial.json``, the trial's run folder ``run/``
  (``config.json``, ``metrics.json`` or ``failure.json``, ``best/``, ``tensorboard/``, and
  ``trial.log``, the output of the trial's process, :mod:`tuning.trial`) and its HParams
  session ``hparams/``;
- ``hparams_experiment/``: the HParams dashboard's grid and metrics;
- ``results.csv``, ``results.md``: one row per finished trial, best validation NDCG first,
  failed trials last with their reason;
- ``best_config.json``: the best trial's RunConfig, which ``python -m coat_tf.train --config``
  takes as it is and ``python -m coat_tf.experiments --tuned tuning_runs`` reads.

Stopped at any point (Ctrl-C, SIGKILL), the same command continues: finished trials are not
run again, a trial killed half-way continues from its last finished epoch, a trial whose
results were deleted runs again. An experiments folder (:mod:`coat_tf.folder_kinds`) is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import coat_tf  # noqa: F401  (legacy Keras before TensorFlow)
from coat_tf import add_version_option, folder_kinds
from coat_tf import config as cfg
from coat_tf.claims import Busy, claim
from coat_tf.config import ModelConfig, RunConfig, TrainConfig
from coat_tf.failures import describe
from coat_tf.fileio import atomic_write_text, remove_stale_temporaries
from coat_tf.models import MODELS, ModelSpec
from coat_tf.schema import MFCC
from tuning.grid import OPTIONS, Grid, grid_for

SEARCH_FILE = folder_kinds.SEARCH_FILES[0]
#: the seeds TensorFlow and NumPy take
SEED_RANGE = range(2**32)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuning.search",
        description="Grid search over a model's hyperparameters (the paper's batch size x "
        "learning rate x embedding size; WMF: factors x regularization x alpha), objective "
        "the validation NDCG@10. Resumable: run the same command again to continue.",
    )
    add_version_option(parser)
    parser.add_argument("--data", help="prepared data set folder (default: the demo data set)")
    parser.add_argument(
        "--model", choices=list(MODELS), default="coat", help="model to tune (default coat)"
    )
    grid = parser.add_argument_group(
        "grid axes", "each replaces that axis's values (default: the model's grid)"
    )
    grid.add_argument("--batch-size", type=int, nargs="+", metavar="N", help="128 256 512 1024")
    grid.add_argument(
        "--learning-rate", type=float, nargs="+", metavar="LR", help="0.0001 0.0005 0.001 0.005"
    )
    grid.add_argument(
        "--embedding-size", type=int, nargs="+", metavar="F", help="predictive factors: 8 16 32 64"
    )
    grid.add_argument(
        "--wmf-regularization", type=float, nargs="+", metavar="L", help="wmf: 0.001 0.01 0.1 1"
    )
    grid.add_argument("--wmf-alpha", type=float, nargs="+", metavar="A", help="wmf: 1 5 10 40")
    grid.add_argument(
        "--itemknn-neighbours", type=int, nargs="+", metavar="K", help="itemknn: 20 50 100 200"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=TrainConfig.epochs,
        help=f"maximum epochs per trial (default {TrainConfig.epochs}; early stopping after "
        f"{TrainConfig.early_stopping_patience} without a better validation NDCG)",
    )
    parser.add_argument("--seed", type=int, default=0, help="every trial's seed (default 0)")
    parser.add_argument("--dir", help="search folder (default tuning_runs/<model>)")
    parser.add_argument("--quiet", action="store_true", help="no progress line per trial")
    return parser


def search_settings(run: RunConfig, grid: Grid, data) -> dict:  # noqa: ANN001
    """What makes two searches the same search (``search.json``)."""
    return {
        "model": run.model_name,
        "data": run.data_dir,
        "data_hash": data.manifest.get("content_hash"),
        "grid": grid.to_dict(),
        "train": cfg.to_dict(run.train),
    }


def check_place(folder: Path) -> None:
    """Raises ValueError if ``folder`` is a file or another command's folder."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--dir {folder}: is a file, not a folder")
    folder_kinds.check_kind(folder, "--dir", folder_kinds.SEARCH)


def check_folder(folder: Path, settings: dict) -> bool:
    """Whether ``folder`` holds this search already (True: resume it).

    Raises:
        ValueError: ``folder`` is a file, or an experiments folder, or holds a search with
            other settings (naming them), or holds keras-tuner files without ``search.json``.
    """
    check_place(folder)
    path = folder / SEARCH_FILE
    if not path.is_file():
        if (folder / "oracle.json").exists():
            raise ValueError(f"--dir {folder} holds a search without {SEARCH_FILE}; choose another")
        return False
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: unreadable ({error}); choose another --dir") from None
    differ = [key for key in settings if key != "data" and saved.get(key) != settings[key]]
    if differ:
        raise ValueError(
            f"--dir {folder} holds a search with other settings ({', '.join(differ)} differ; "
            f"see {path}): give the same options to continue it, or choose another --dir"
        )
    return True


def check_seed(seed: int) -> None:
    """Raises ValueError for a ``--seed`` that TensorFlow and NumPy cannot take."""
    if seed not in SEED_RANGE:
        raise ValueError(f"--seed {seed}: must be between 0 and {SEED_RANGE[-1]}")


def hold_folder(folder: Path, held: contextlib.ExitStack) -> None:
    """Make ``folder`` and hold it (:func:`coat_tf.claims.claim`) until ``held`` closes: one
    search at a time runs in a folder.

    Raises:
        ValueError: ``folder`` cannot be made or written (a file in its place or above it, no
            permission, a read-only file system), or another process holds it (naming it).
    """
    check_place(folder)
    try:
        held.enter_context(claim(folder))
    except Busy as busy:
        raise ValueError(f"--dir {busy}; one search at a time runs in a folder") from None
    except OSError as error:
        where = error.filename or folder
        reason = error.strerror or error
        raise ValueError(f"--dir {folder}: cannot write there ({where}: {reason})") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or continue) the search; returns the exit status: 0 done, 1 every trial failed, a
    trial crashed or a write of the search's failed, 2 bad input (options, data set, search
    folder, or a folder another search holds), 130 interrupted."""
    args = build_parser().parse_args(argv)
    spec = MODELS[args.model]
    if not spec.grid:
        print(
            f"error: --model {args.model} has no hyperparameters to search; train it with "
            f"python -m coat_tf.train --model {args.model}",
            file=sys.stderr,
        )
        return 2
    try:
        check_seed(args.seed)
        grid = grid_for(spec.grid, {path: getattr(args, dest) for dest, path in OPTIONS.items()})
        train = TrainConfig(epochs=args.epochs, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    folder = Path(args.dir or Path("tuning_runs") / args.model)
    try:  # before the data set is read: checked again once the folder is held
        check_place(folder)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    with contextlib.ExitStack() as data_held:  # the data set, for the whole search
        return search_on_data(args, spec, train, grid, folder, data_held)


def search_on_data(
    args: argparse.Namespace,
    spec: ModelSpec,
    train: TrainConfig,
    grid: Grid,
    folder: Path,
    data_held: contextlib.ExitStack,
) -> int:
    """Check the data set and run the search in ``folder``; ``data_held`` keeps the data set
    from ``prepare --overwrite`` until it is closed (:func:`coat_tf.claims.hold_data`)."""
    from coat_tf.claims import DataInUse, hold_data
    from coat_tf.data import DataError, PreparedDataset
    from coat_tf.data.demo import prepared_demo
    from coat_tf.evaluation import check_top_k
    from coat_tf.models import MissingContentError, song_tables
    from coat_tf.models.registry import content_shapes

    try:
        if args.data:
            data_dir = Path(args.data)
        else:
            data_dir = prepared_demo(mfcc=spec.content == MFCC, progress=not args.quiet)
        data_held.enter_context(hold_data(data_dir))  # trials read it: no prepare --overwrite
        data = PreparedDataset.load(data_dir)
        if data.validation_in_train:
            raise ValueError(f"{data.validation_in_train_note}: no search there")
        base = RunConfig(
            model=ModelConfig(**content_shapes(data)),
            train=train,
            model_name=args.model,
            data_dir=str(Path(data_dir).resolve()),
            data_hash=data.manifest.get("content_hash"),
        )
        for values in grid.combinations():  # every point is a valid configuration
            grid.apply(base, values)
        song_tables(spec, data, base.model)  # the content the model reads is there
        check_top_k(base.train.top_k, data, test=False)  # a search never reads test
        settings = search_settings(base, grid, data)
    except (DataError, DataInUse, MissingContentError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    del data  # each trial's process loads its own copy
    with contextlib.ExitStack() as held:
        try:
            hold_folder(folder, held)
            resuming = check_folder(folder, settings)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        try:
            return run_search(folder, grid, base, settings, resuming, progress=not args.quiet)
        except OSError as error:  # the search's own writes: a full disk, a folder made read-only
            print(
                f"error: {describe(error)}; the search stopped: run the same command again "
                "to continue",
                file=sys.stderr,
            )
            return 1


def run_search(
    folder: Path,
    grid: Grid,
    base: RunConfig,
    settings: dict,
    resuming: bool,
    progress: bool = True,
) -> int:
    """Run the search in ``folder`` (see :func:`main`); returns the exit status."""
    import keras_tuner as kt

    from tuning import results
    from tuning.oracle import ResumableGridSearchOracle
    from tuning.tuner import OBJECTIVE, SearchTuner, TrialCrashed

    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder, recursive=True)
    if not resuming:
        atomic_write_text(folder / SEARCH_FILE, json.dumps(settings, indent=2) + "\n")
    oracle = ResumableGridSearchOracle(
        objective=kt.Objective(OBJECTIVE, direction="max"),
        max_trials=grid.size,
        hyperparameters=grid.hyperparameters(),
        allow_new_entries=False,
        tune_new_entries=False,
        max_retries_per_trial=0,
        # a diverged trial is a result, not a reason to stop: never stop on failures in a row
        max_consecutive_failed_trials=grid.size + 1,
    )
    k = base.train.top_k
    title = (
        f"Grid search: {base.model_name} on {base.data_dir}, objective validation NDCG@{k} "
        f"({grid.size} trials: " + " x ".join(f"{a.name} {list(a.values)}" for a in grid.axes) + ")"
    )
    tuner = SearchTuner(oracle, folder, grid, base, title, progress=progress)
    results.write_hparams_experiment(folder, grid, k)
    rows = tuner.write_outputs()
    if progress:
        what = "continuing" if resuming else "starting"
        print(
            f"{what} the search in {folder}: {base.model_name}, {grid.size} trials "
            f"({len(rows)} done), epochs <= {base.train.epochs}, seed {base.train.seed}",
            flush=True,
        )
    try:
        tuner.search(verbose=0)
    except TrialCrashed as error:
        print(f"error: {error}\nrun the same command again to continue", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to continue", file=sys.stderr)
        return 130
    rows = tuner.write_outputs()
    failed = [row for row in rows if row["status"] != results.COMPLETED]
    best = results.best_row(rows)
    print(summary(folder, rows, failed, best, grid, k))
    return 0 if best is not None else 1


def summary(folder: Path, rows, failed, best, grid: Grid, k: int) -> str:  # noqa: ANN001
    lines = [f"search done: {len(rows)} trials ({len(failed)} failed) in {folder}"]
    if best is None:
        lines.append("  every trial failed: see results.md for their reasons")
    else:
        values = ", ".join(f"{name} {best[name]}" for name in grid.names)
        lines.append(
            f"  best: trial_{best['trial']} ({values}): validation NDCG@{k} "
            f"{best['val_ndcg']:.4f}, HR@{k} {best['val_hr']:.4f}"
        )
        lines.append(f"  best configuration {folder / 'best_config.json'}")
    lines.append(f"  table {folder / 'results.md'}  (tensorboard --logdir {folder})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
