"""Running an experiment's plan: resumable, with a progress line per run.

A run whose folder holds ``metrics.json`` is finished and never redone. A run folder without it
(a run killed half-way) continues from its last finished epoch (the runner's backup), so a
second call after a kill runs only what is missing. ``results.csv`` has a row for every
finished run in the output folder (this experiment's first, then those of other experiments
sharing the folder, so that e.g. Table I and Fig. 2 share their COAT runs), rewritten whole
(atomically) after each run.

Several processes may run the same plan on the same folder at once (one per GPU, say): each
claims a run before training it (:mod:`coat_tf.claims`) and passes over the runs that another
live process holds, so the runs are split between them. The returned rows, and so the tables,
are those of every run of the plan finished when the call ends: the last process to end has
them all. In a multi-worker cluster (``TF_CONFIG``) every worker takes part in every run, and
nothing is claimed.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import sys
import time
from pathlib import Path

from coat_tf import config as cfg
from coat_tf import distribute
from coat_tf.claims import Busy, claim
from coat_tf.experiments.plan import PlannedRun
from coat_tf.experiments.records import RecordError, read_json, read_metrics, write_data_record
from coat_tf.failures import FAILURE_FILE, RunFailed, write_failure_report
from coat_tf.fileio import atomic_write_text
from coat_tf.runs import (
    CONFIG_FILE,
    FAILED,
    FINISHED,
    METRICS_FILE,
    ncf_epoch_rule,
    prepare_run_dir,
    run_state,
)

RESULTS = "results.csv"
COLUMNS = (
    "model",
    "factors",
    "seed",
    "source",
    "val_hr",
    "val_ndcg",
    "sampled_hr",
    "sampled_ndcg",
    "full_hr",
    "full_ndcg",
    "best_epoch",
    "epochs",
    "train_seconds",
    "run_dir",
    "ncf_rule_epoch",
    "ncf_rule_sampled_hr",
    "ncf_rule_sampled_ndcg",
    "new_sampled_hr",
    "new_sampled_ndcg",
    "new_shelf_hr",
    "new_shelf_ndcg",
    "new_songs_note",
)
INTEGERS = ("factors", "seed", "best_epoch", "epochs")
FLOATS = (
    "val_hr",
    "val_ndcg",
    "sampled_hr",
    "sampled_ndcg",
    "full_hr",
    "full_ndcg",
    "train_seconds",
    "ncf_rule_epoch",
    "ncf_rule_sampled_hr",
    "ncf_rule_sampled_ndcg",
    "new_sampled_hr",
    "new_sampled_ndcg",
    "new_shelf_hr",
    "new_shelf_ndcg",
)


def metrics_row(run: PlannedRun, metrics: dict) -> dict:
    """One ``results.csv`` row from a run's ``metrics.json``."""
    test = metrics["test"]
    full = test.get("full_catalogue", {})
    # recomputed from the record, so that every row follows the rule as it is now
    recorded = (metrics.get("test_every_epoch") or {}).get("epochs")
    rule = ncf_epoch_rule(recorded) if recorded else {}
    new_songs = metrics.get("new_songs") or {}
    new_test = new_songs.get("test") or {}
    new_sampled, new_shelf = new_test.get("sampled", {}), new_test.get("whole_shelf", {})
    return {
        "model": run.model,
        "factors": run.factors,
        "seed": run.seed,
        "source": metrics.get("hyperparameters_from", run.source),
        "val_hr": metrics["validation"]["hr"],
        "val_ndcg": metrics["validation"]["ndcg"],
        "sampled_hr": test["sampled"]["hr"],
        "sampled_ndcg": test["sampled"]["ndcg"],
        "full_hr": full.get("hr", float("nan")),
        "full_ndcg": full.get("ndcg", float("nan")),
        "best_epoch": metrics["best_epoch"],
        "epochs": metrics["epochs"],
        "train_seconds": round(float(metrics["train_seconds"]), 1),
        "run_dir": str(run.run_dir),
        # the best sampled test figures over the epochs (NCF's reference code's rule), where
        # the run recorded them (TrainConfig.test_every_epoch); never used to choose
        "ncf_rule_epoch": rule.get("epoch", float("nan")),
        "ncf_rule_sampled_hr": rule.get("hr", float("nan")),
        "ncf_rule_sampled_ndcg": rule.get("ndcg", float("nan")),
        # each held-out new song against its shelf, where the data set has new songs; a
        # model without content says why it has no figures (new_songs_note)
        "new_sampled_hr": new_sampled.get("hr", float("nan")),
        "new_sampled_ndcg": new_sampled.get("ndcg", float("nan")),
        "new_shelf_hr": new_shelf.get("hr", float("nan")),
        "new_shelf_ndcg": new_shelf.get("ndcg", float("nan")),
        "new_songs_note": new_songs.get("unsupported", ""),
    }


def other_rows(out: Path, rows: list[dict]) -> list[dict]:
    """Rows of the finished runs under ``out/runs`` that ``rows`` does not hold."""
    known = {row["run_dir"] for row in rows}
    found = []
    for path in sorted(Path(out).glob(f"runs/*/f*/seed*/{METRICS_FILE}")):
        run_dir = path.parent
        if str(run_dir) in known:
            continue
        model, factors, seed = run_dir.parent.parent.name, run_dir.parent.name, run_dir.name
        if not (factors[1:].isdigit() and seed[4:].isdigit()):
            continue
        run = PlannedRun(model, int(factors[1:]), int(seed[4:]), run_dir, None, "unknown")
        found.append(read_row(run))
    return found


def write_results(path: Path, rows: list[dict]) -> None:
    """``results.csv``: one row per finished run, in plan order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_results(path: Path) -> list[dict]:
    """The rows of a ``results.csv``, numbers parsed."""
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for key in INTEGERS:
                row[key] = int(row[key])
            for key in FLOATS:
                row[key] = float(row.get(key) or "nan")  # older files lack the NCF-rule columns
            rows.append(row)
    return rows


def _duration(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def execute(
    runs: list[PlannedRun],
    data,  # noqa: ANN001 - a PreparedDataset
    out: Path,
    full_catalogue: bool = True,
    retry_failed: bool = False,
    record: dict | None = None,
) -> list[dict]:
    """Run every unfinished run of ``runs`` on ``data`` that no other process holds, and
    return the rows of the runs finished at the end (see the module docstring). Prints a line
    per run with the estimated time left.

    A run that fails (training diverged) leaves ``failure.json`` and the others go on; a failed
    run is run again (afresh) only with ``retry_failed``. ``record`` (the data set, see
    :func:`~coat_tf.experiments.records.data_record`) is written as each run's ``data.json``.
    """
    import tensorflow as tf

    shared = distribute.cluster_size() > 1  # every worker runs every run: nothing to claim
    done_times: list[float] = []
    states = [run_state(run.run_dir) for run in runs]
    failed = states.count(FAILED)
    todo = len(runs) - states.count(FINISHED) - (0 if retry_failed else failed)
    print(
        f"{len(runs)} runs, {states.count(FINISHED)} finished before, "
        + (
            f"{failed} failed before (pass --retry-failed to run them again), "
            if failed and not retry_failed
            else ""
        )
        + f"{todo} to run",
        file=sys.stderr,
        flush=True,
    )
    for index, run in enumerate(runs, start=1):
        label = f"[{index}/{len(runs)}] {run.model} F={run.factors} seed {run.seed}"
        if not _to_run(run_state(run.run_dir), retry_failed):
            continue
        run.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            with contextlib.nullcontext() if shared else claim(run.run_dir):
                state = run_state(run.run_dir)
                if not _to_run(state, retry_failed):
                    continue  # by another process meanwhile
                if state == FAILED:
                    aside = prepare_run_dir(run.run_dir, resume=False, claimed=True)
                    print(f"{label}: {aside}", file=sys.stderr)
                started = time.perf_counter()
                metrics = _train(run, data, full_catalogue, record)
        except Busy as busy:
            print(f"{label}: left to another process ({busy})", file=sys.stderr, flush=True)
            continue
        if isinstance(metrics, Path):
            print(f"{label}: failed: {_failure(metrics)} (see {metrics})", file=sys.stderr)
            tf.keras.backend.clear_session()
            gc.collect()
            continue
        rows = finished_rows(runs)
        write_results(out / RESULTS, rows + other_rows(out, rows))
        done_times.append(time.perf_counter() - started)
        left = len([r for r in runs[index:] if _to_run(run_state(r.run_dir), retry_failed)])
        mean = sum(done_times) / len(done_times)
        row = metrics_row(run, metrics)
        print(
            f"{label}: val NDCG@10 {row['val_ndcg']:.4f}, test NDCG@10 sampled "
            f"{row['sampled_ndcg']:.4f} full {row['full_ndcg']:.4f}, {done_times[-1]:.0f} s; "
            f"{left} runs left, about {_duration(mean * left)}",
            file=sys.stderr,
            flush=True,
        )
        tf.keras.backend.clear_session()
        gc.collect()
    rows = finished_rows(runs)
    write_results(out / RESULTS, rows + other_rows(out, rows))
    failed = failed_runs(runs)
    missing = len(runs) - len(rows) - len(failed)
    if failed:
        print(
            f"{len(failed)} runs of the plan failed: "
            + "; ".join(f"{run.model} F={run.factors} seed {run.seed}" for run, _ in failed)
            + " (run the same command with --retry-failed to run them again)",
            file=sys.stderr,
            flush=True,
        )
    if missing:
        print(
            f"{missing} runs of the plan are not finished (another process may "
            "hold them): the tables lack them until a later call",
            file=sys.stderr,
            flush=True,
        )
    return rows


def _to_run(state: str, retry_failed: bool) -> bool:
    """Whether a run folder in ``state`` is to be (re)run: unfinished, or failed and retried."""
    return state != FINISHED and (retry_failed or state != FAILED)


def _train(run: PlannedRun, data, full_catalogue: bool, record: dict | None) -> dict | Path:  # noqa: ANN001
    """Train and evaluate one run in its (claimed) folder: its metrics, written to
    ``metrics.json``, or the path of the ``failure.json`` of a run that failed."""
    import tensorflow as tf

    from coat_tf.runner import train_and_evaluate
    from coat_tf.trained import RunError

    (run.run_dir / FAILURE_FILE).unlink(missing_ok=True)
    cfg.save(run.config, run.run_dir / CONFIG_FILE)
    if record is not None:
        write_data_record(run.run_dir, record)
    try:
        metrics, _ = train_and_evaluate(
            run.config,
            data,
            run.run_dir,
            full_catalogue=full_catalogue,
            verbose=False,
            inspect=False,
        )
    except (RunFailed, RunError, tf.errors.OpError) as error:
        return write_failure_report(run.run_dir, error)
    metrics["hyperparameters_from"] = run.source
    atomic_write_text(run.run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    return metrics


def _failure(path: Path) -> str:
    """The message of a ``failure.json`` (or what is wrong with it)."""
    try:
        return str(read_json(path).get("message", "no message recorded"))
    except RecordError as error:
        return str(error)


def failed_runs(runs: list[PlannedRun]) -> list[tuple[PlannedRun, str]]:
    """The runs of ``runs`` that failed (``failure.json``, no ``metrics.json``), each with
    its failure's message."""
    return [
        (run, _failure(run.run_dir / FAILURE_FILE))
        for run in runs
        if run_state(run.run_dir) == FAILED
    ]


def finished_rows(runs: list[PlannedRun]) -> list[dict]:
    """The rows of the runs of ``runs`` whose folders hold ``metrics.json``, in plan order.

    Raises:
        RecordError: a ``metrics.json`` is damaged (named).
    """
    return [read_row(run) for run in runs if run_state(run.run_dir) == FINISHED]


def read_row(run: PlannedRun) -> dict:
    """The ``results.csv`` row of a finished run; :class:`RecordError` naming its
    ``metrics.json`` if that is damaged or lacks a figure."""
    metrics = read_metrics(run.run_dir)
    try:
        return metrics_row(run, metrics)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RecordError(
            f"{run.run_dir / METRICS_FILE}: not the figures of a finished run ({error!r} "
            "missing or malformed); delete the run folder to train it again"
        ) from None
