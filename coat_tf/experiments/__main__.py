"""``python -m coat_tf.experiments table1|fig2|ncf|new-songs``: the paper's experiments, resumable.

::

    python -m coat_tf.experiments table1|fig2|ncf|new-songs [--data DIR] [--seeds 0 1 2]
        [--factors 8 16 32 64] [--models ...] [--out DIR] [--config FILE] [--tuned DIR]
        [--epochs N] [--pretrained-from DIR] [--no-full-catalogue] [--retry-failed]

Runs one training run per (model, predictive factors, seed) into ``OUT/runs/<model>/f<F>/
seed<S>/`` (each with its ``config.json`` and ``metrics.json``), then writes ``OUT/results.csv``
(every run), ``OUT/<experiment>.md`` (mean and standard deviation over seeds, best marked) and
``OUT/<experiment>.png`` (the paper's Fig. 2 shape). Calling it again after a kill runs only
what is missing; a repeated seed, size or model is one run. A run folder that holds a run of
other settings or of another data set (``--data``, ``--config``, ``--tuned``, ``--epochs``
changed) stops the command before anything runs: use another ``--out``. A run that fails
(training diverged) is recorded (``failure.json``), the others go on, the tables list it and the
exit status is 1; a later call runs it again only with ``--retry-failed``. Ctrl-C stops with
status 130, and the same command resumes. Without ``--data`` it runs on the simulated demo data
set (its MFCC variant when a model needs MFCCs). :mod:`coat_tf.experiments.plan` says where
each run's settings come from.

Several processes may run the same command at once: they share the runs out between them
(:mod:`coat_tf.experiments.execute`). ``--report-only`` trains nothing and writes the tables and
the plot from the runs of ``--models``, ``--factors`` and ``--seeds`` finished in ``--out``: one
report over the runs of several commands that shared the folder.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import coat_tf  # noqa: F401  (legacy Keras before TensorFlow)
from coat_tf import add_version_option, folder_kinds
from coat_tf.experiments.plan import (
    EXPERIMENTS,
    PRETRAINED,
    PlannedRun,
    check_axes,
    check_tuned,
    plan,
    read_overrides,
    unique,
    untuned,
)

if TYPE_CHECKING:
    from coat_tf.data import PreparedDataset
    from coat_tf.data.new_songs import NewSongs

TITLES = {
    "table1": "COAT with and without attention (Table I)",
    "fig2": "COAT against the baselines over predictive factors (Fig. 2)",
    "ncf": "NCF's models on its protocol",
    "new-songs": "New songs: ranking songs with no listening history",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m coat_tf.experiments", description=__doc__.splitlines()[0]
    )
    add_version_option(parser)
    parser.add_argument("experiment", choices=list(EXPERIMENTS))
    parser.add_argument("--data", help="prepared data set (default: the simulated demo data)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--factors", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--models", nargs="+", help="default: the experiment's models")
    parser.add_argument("--out", help="output folder (default experiments/<experiment>)")
    parser.add_argument("--config", help="JSON: {'defaults': {...}, 'models': {name: {...}}}")
    parser.add_argument("--tuned", help="a tuning folder: each model's best_config.json")
    parser.add_argument("--epochs", type=int, help="maximum epochs of every run")
    parser.add_argument(
        "--pretrained-from",
        help="neumf-pre starts from the finished GMF and MLP runs of this experiment folder "
        "(default: --out's, listed before it in --models)",
    )
    parser.add_argument("--title", help="title of the tables and the plot")
    parser.add_argument(
        "--no-full-catalogue", action="store_true", help="skip full-catalogue evaluation"
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="run again the runs that failed (training diverged); by default they are kept",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: the tables and the plot from the runs finished in --out",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or continue) the experiment; returns the exit status: 0 done, 1 some runs failed
    (training diverged), 2 bad input (options, --config, data set, --out), 130 interrupted."""
    args = build_parser().parse_args(argv)
    try:
        return run_experiment(args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def run_experiment(args: argparse.Namespace) -> int:
    """:func:`main` once the options are parsed."""
    from coat_tf.experiments.records import writable_folder

    models = unique(list(args.models or EXPERIMENTS[args.experiment]))
    args.seeds, args.factors = unique(args.seeds), unique(args.factors)
    out = Path(args.out or f"experiments/{args.experiment}")
    try:
        check_axes(args.seeds, args.factors)
        # a search's folder is not an experiment's (both write results.csv)
        folder_kinds.check_kind(out, "--out", folder_kinds.EXPERIMENTS)
        writable_folder(out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.report_only:
        return report_only(args, models, out)
    with contextlib.ExitStack() as held:  # the data set, for the whole grid
        return run_planned(args, models, out, held)


def run_planned(
    args: argparse.Namespace, models: list[str], out: Path, held: contextlib.ExitStack
) -> int:
    """Plan, check and run the grid on the data set, which ``held`` keeps from ``prepare
    --overwrite`` until it is closed (:func:`coat_tf.claims.hold_data`)."""
    from coat_tf.claims import DataInUse, hold_data
    from coat_tf.data import DataError, PreparedDataset
    from coat_tf.data.demo import prepared_demo
    from coat_tf.experiments.execute import execute, failed_runs, finished_rows, other_rows
    from coat_tf.experiments.records import (
        RecordError,
        check_run,
        check_same_data,
        data_record,
    )
    from coat_tf.experiments.report import write_report
    from coat_tf.models import MissingContentError, get_spec, song_tables
    from coat_tf.models.registry import content_shapes
    from coat_tf.schema import MFCC

    try:
        overrides = read_overrides(args.config)
        check_tuned(args.tuned)
        registered = [PRETRAINED[m][0] if m in PRETRAINED else m for m in models]
        specs = [get_spec(name) for name in registered]
        if args.data:
            data_dir = Path(args.data)
        else:
            data_dir = prepared_demo(mfcc=any(s.content == MFCC for s in specs))
        held.enter_context(hold_data(data_dir))  # before reading: no prepare --overwrite now
        data = PreparedDataset.load(data_dir)
        check_new_songs(args.experiment, data)
        shapes = content_shapes(data)
        runs = plan(
            args.experiment,
            models,
            args.factors,
            args.seeds,
            out,
            shapes,
            str(data_dir),
            overrides,
            args.tuned,
            args.epochs,
            Path(args.pretrained_from) if args.pretrained_from else None,
        )
        for spec, run in zip(specs, runs, strict=False):
            song_tables(spec, data, run.config.model)  # missing content fails before any run
        record = data_record(data)
        for run in runs:  # runs of other settings or data are not this plan's: never mixed
            check_run(run.run_dir, run.config, record)
        check_same_data(out, record)  # nor runs of another data set in one results.csv
        if args.pretrained_from:  # nor a NeuMF started from parts trained on another
            advice = "pre-train from runs of this data set (--pretrained-from)"
            check_same_data(Path(args.pretrained_from), record, advice)
        other_rows(out, finished_rows(runs))  # every metrics.json of the folder is readable
    except (DataError, DataInUse, MissingContentError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if data.validation_in_train:
        print(f"note: {data.validation_in_train_note}", file=sys.stderr)
    try:
        out.mkdir(parents=True, exist_ok=True)
        rows = execute(
            runs,
            data,
            out,
            full_catalogue=not args.no_full_catalogue,
            retry_failed=args.retry_failed,
            record=record,
        )
    except (RecordError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = failed_runs(runs)
    source = data.manifest.get("source", {}).get("name")
    note = notes(
        record["validation_in_train"],
        untuned(args.tuned, models),
        args.tuned,
        failed,
        without_content(rows) if args.experiment == "new-songs" else {},
        song_chance(data.new_songs) if args.experiment == "new-songs" else None,
    )
    heading = args.title or title(args.experiment, data_dir, source)
    negatives = record["test_negatives"]
    if args.experiment == "new-songs":
        negatives = data.manifest.get("counts", {}).get("new_negatives")
    if rows:
        write_report(out, args.experiment, rows, heading, note, negatives)
        print(
            f"wrote {out / 'results.csv'}, {out / (args.experiment + '.md')}, "
            f"{out / (args.experiment + '.png')}"
        )
    return 1 if failed else 0


def check_new_songs(experiment: str, data: PreparedDataset) -> None:
    """``new-songs`` needs a data set with new songs.

    Raises:
        ValueError: naming the data set and the option that makes them.
    """
    if experiment == "new-songs" and data.new_songs is None:
        raise ValueError(
            f"{data.path}: the data set has no new songs; prepare it with --new-songs FRACTION "
            "(see python -m coat_tf.data prepare --help)"
        )


def without_content(rows: list[dict]) -> dict[str, str]:
    """Model -> why it has no new-song figures, for the runs that recorded one."""
    return {row["model"]: row["new_songs_note"] for row in rows if row.get("new_songs_note")}


def song_chance(new_songs: NewSongs | None) -> str | None:
    """The new-songs report's line on song-level chance over the test shelf's rows
    (:mod:`coat_tf.experiments.chance`); None without new songs."""
    from coat_tf.experiments.chance import chance_note

    if new_songs is None or not len(new_songs.test.items):
        return None
    return chance_note(new_songs.test.items)  # k = 10, as the tables


def stored_new_songs(data_dir: Path) -> NewSongs | None:
    """The new songs of ``data_dir``, or None where the folder has moved or holds none."""
    from coat_tf.data import DataError
    from coat_tf.data.new_songs import NewSongs

    try:
        return NewSongs.load(data_dir)
    except (DataError, OSError):
        return None


def notes(
    validation_in_train: bool,
    untuned_models: list[str],
    tuned: str | None,
    failed: list[tuple[PlannedRun, str]],
    no_new_song_figures: dict[str, str] | None = None,
    song_level_chance: str | None = None,
) -> str:
    """The lines under the tables' title: what the reader must know to trust them."""
    lines = []
    if no_new_song_figures:
        lines.append(
            "Without new-song figures: "
            + "; ".join(f"{model} ({why})" for model, why in no_new_song_figures.items())
            + "."
        )
    if song_level_chance:
        lines.append(song_level_chance)
    if validation_in_train:
        lines.append(
            "The data set keeps its validation items in training (prepare "
            "--validation-in-train): each run's epoch was chosen on training items."
        )
    if untuned_models:
        lines.append(
            f"No tuned settings (best_config.json) under {tuned} for "
            f"{', '.join(untuned_models)}: they ran with the default settings (and --config's)."
        )
    if failed:
        lines.append(
            "Failed runs, without figures in the tables: "
            + "; ".join(
                f"{run.model} F={run.factors} seed {run.seed} ({_first_clause(why)})"
                for run, why in failed
            )
            + "."
        )
    return "\n\n".join(lines)


def _first_clause(message: str) -> str:
    """A failure's message up to its advice (``training diverged: the loss is nan in epoch
    1``)."""
    return message.split(";")[0].strip().rstrip(".")


def title(experiment: str, data_dir: Path, source: str | None) -> str:
    """The tables' and the plot's title: the experiment and the data set it ran on."""
    data = "simulated demo data" if source == "demo" else Path(data_dir).name
    return f"{TITLES[experiment]} — {data}"


def report_only(args: argparse.Namespace, models: list[str], out: Path) -> int:
    """``--report-only``: the tables and the plot from the finished runs of the grid."""
    from coat_tf.data import DataError
    from coat_tf.data.manifest import read_manifest
    from coat_tf.experiments.execute import failed_runs, finished_rows
    from coat_tf.experiments.plan import check_models, run_dir
    from coat_tf.experiments.records import check_consistent, recorded_data
    from coat_tf.experiments.report import write_report

    runs = [
        PlannedRun(model, size, seed, run_dir(out, model, size, seed), None, "unknown")
        for seed in args.seeds
        for size in args.factors
        for model in models
    ]
    try:
        check_models(models, parts_elsewhere=True)
        check_tuned(args.tuned)
        expected_hash = read_manifest(args.data).get("content_hash") if args.data else None
        rows = finished_rows(runs)
        if not rows:
            print(f"error: no run of the grid is finished in {out}", file=sys.stderr)
            return 2
        finished = [Path(row["run_dir"]) for row in rows]
        check_consistent(finished, args.epochs, expected_hash)
        recorded = recorded_data(finished[0])
    except (DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    data_dir = Path(recorded.get("data", "?"))
    try:
        manifest = read_manifest(data_dir)
    except (DataError, OSError):
        manifest = {}  # the data set has moved: its folder's name still says which it was
    settings = manifest.get("settings", {})
    negatives = recorded.get("test_negatives", settings.get("eval_negatives"))
    in_train = recorded.get("validation_in_train", settings.get("validation_in_train", False))
    if args.experiment == "new-songs":
        negatives = manifest.get("counts", {}).get("new_negatives")
    note = notes(
        in_train,
        untuned(args.tuned, models),
        args.tuned,
        failed_runs(runs),
        without_content(rows) if args.experiment == "new-songs" else {},
        song_chance(stored_new_songs(data_dir)) if args.experiment == "new-songs" else None,
    )
    source = manifest.get("source", {}).get("name")
    heading = args.title or title(args.experiment, data_dir, source)
    write_report(out, args.experiment, rows, heading, note, negatives)
    print(
        f"{len(rows)} of the grid's {len(runs)} runs are finished; wrote "
        f"{out / (args.experiment + '.md')}, {out / (args.experiment + '.png')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
