"""What a search writes besides keras-tuner's own state: the results table sorted by the
objective (``results.csv``, ``results.md``), the best trial's configuration
(``best_config.json``) and the TensorBoard HParams logs (one session per finished trial).

Every file is written atomically, and each is rebuilt from the trials' run folders (their
``metrics.json`` or ``failure.json``), so a search killed at any point and resumed writes the
same table as one that never stopped.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

from coat_tf.failures import FAILURE_FILE
from coat_tf.fileio import atomic_directory, atomic_write_text
from coat_tf.runs import CONFIG_FILE, METRICS_FILE
from tuning.grid import Grid

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
BEST_CONFIG = "best_config.json"  # the name coat_tf.experiments --tuned reads
HPARAMS_RUN = "hparams"
EXPERIMENT_RUN = "hparams_experiment"
COMPLETED, FAILED = "COMPLETED", "FAILED"
#: the HParams dashboard's metrics: scalar tag -> display name
METRICS = {"validation/ndcg": "val NDCG@k", "validation/hr": "val HR@k"}


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def has_outcome(status: str, run_dir: Path) -> bool:
    """Whether a trial that ended with ``status`` still has its outcome in ``run_dir``: a
    completed trial its ``config.json`` and a ``metrics.json`` with a validation NDCG, a
    failed one its ``failure.json``. A trial without it (its run folder deleted) runs again."""
    if status == FAILED:
        return read_json(run_dir / FAILURE_FILE) is not None
    metrics = read_json(run_dir / METRICS_FILE)
    try:
        score = metrics["validation"]["ndcg"]
    except (KeyError, TypeError):
        return False
    return isinstance(score, int | float) and (run_dir / CONFIG_FILE).is_file()


def trial_row(trial_id: str, status: str, values: dict, run_dir: Path) -> dict:
    """One row of the table: the trial, its values, and its figures or its failure."""
    row = {"trial": trial_id, "status": status, **values}
    metrics = read_json(run_dir / METRICS_FILE) if status == COMPLETED else None
    if metrics is not None:
        tuning = metrics.get("trial", {})
        row.update(
            val_ndcg=metrics["validation"]["ndcg"],
            val_hr=metrics["validation"]["hr"],
            best_epoch=metrics.get("best_epoch"),
            epochs=metrics.get("epochs"),
            seconds=tuning.get("seconds"),
            rss_mb=tuning.get("rss_mb"),
            peak_rss_mb=tuning.get("peak_rss_mb"),
        )
    failure = read_json(run_dir / FAILURE_FILE) if status != COMPLETED else None
    if failure is not None:
        row["reason"] = failure.get("message")
    return row


def sort_rows(rows: Sequence[dict]) -> list[dict]:
    """Completed trials by validation NDCG (best first; ties by trial), then the failed ones."""

    def key(row: dict) -> tuple:
        score = row.get("val_ndcg")
        good = row["status"] == COMPLETED and score is not None and math.isfinite(score)
        return (0, -score, row["trial"]) if good else (1, 0.0, row["trial"])

    return sorted(rows, key=key)


def best_row(rows: Sequence[dict]) -> dict | None:
    """The completed trial with the best finite validation NDCG, or None."""
    ranked = sort_rows(rows)
    top = ranked[0] if ranked else {}
    score = top.get("val_ndcg")
    good = top.get("status") == COMPLETED and score is not None and math.isfinite(score)
    return top if good else None


def columns(grid: Grid) -> list[str]:
    return [
        "trial",
        "status",
        *grid.names,
        "val_ndcg",
        "val_hr",
        "best_epoch",
        "epochs",
        "seconds",
        "rss_mb",
        "peak_rss_mb",
        "reason",
    ]


def to_csv(rows: Sequence[dict], grid: Grid) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(grid), lineterminator="\n")
    writer.writeheader()
    for row in sort_rows(rows):
        writer.writerow({name: row.get(name, "") for name in columns(grid)})
    return buffer.getvalue()


def _cell(name: str, value: object) -> str:
    if value is None or value == "":
        return ""
    if name in ("val_ndcg", "val_hr"):
        return f"{value:.4f}"
    if name == "seconds":
        return f"{value:.1f}"
    if name in ("rss_mb", "peak_rss_mb"):
        return f"{value:,.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(rows: Sequence[dict], grid: Grid, title: str) -> str:
    names = columns(grid)
    lines = [f"# {title}", "", "| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in sort_rows(rows):
        lines.append("| " + " | ".join(_cell(n, row.get(n)) for n in names) + " |")
    return "\n".join(lines) + "\n"


def write_tables(folder: Path, rows: Sequence[dict], grid: Grid, title: str) -> None:
    atomic_write_text(folder / RESULTS_CSV, to_csv(rows, grid))
    atomic_write_text(folder / RESULTS_MD, to_markdown(rows, grid, title))


def write_best_config(folder: Path, run_dir: Path) -> None:
    """Copy the best trial's ``config.json`` (a RunConfig that ``python -m coat_tf.train
    --config`` takes as it is) to ``best_config.json``."""
    atomic_write_text(folder / BEST_CONFIG, (run_dir / CONFIG_FILE).read_text(encoding="utf-8"))


def write_hparams_experiment(folder: Path, grid: Grid, k: int) -> None:
    """The HParams dashboard's experiment (the grid's domains and the metrics), once."""
    target = folder / EXPERIMENT_RUN
    if target.is_dir():
        return
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    hparams = [hp.HParam(axis.name, hp.Discrete(list(axis.values))) for axis in grid.axes]
    metrics = [
        hp.Metric(tag, display_name=name.replace("k", str(k))) for tag, name in METRICS.items()
    ]
    with atomic_directory(target, overwrite=True) as tmp:
        writer = tf.summary.create_file_writer(str(tmp))
        with writer.as_default():
            hp.hparams_config(hparams=hparams, metrics=metrics)
        writer.close()


def write_hparams_session(trial_dir: Path, trial_id: str, values: dict, row: dict) -> None:
    """One HParams row: the trial's values and its best validation HR/NDCG (at its best
    epoch), in ``trial_<id>/hparams``; written once, atomically."""
    target = trial_dir / HPARAMS_RUN
    if target.is_dir():
        return
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    step = int(row.get("best_epoch") or 0)
    with atomic_directory(target, overwrite=True) as tmp:
        writer = tf.summary.create_file_writer(str(tmp))
        with writer.as_default():
            hp.hparams(values, trial_id=f"trial_{trial_id}")
            tf.summary.scalar("validation/ndcg", row["val_ndcg"], step=step)
            tf.summary.scalar("validation/hr", row["val_hr"], step=step)
        writer.close()
