"""What each run folder of an experiment records, and whether it belongs to a plan.

A run of an experiment writes, besides the runner's ``config.json`` (its resolved settings)
and ``metrics.json``, ``data.json``: the data set it was trained on (its folder, its content
hash, the sampled negatives per user of its test candidates, and whether its validation items
are training items too). A run folder found under ``--out`` whose record differs from the plan
(another data set, other settings) is not a run of this plan: the command stops and names the
difference, so that one table never mixes runs of different settings. Where the data set lies
(its hash says which it is) and settings of speed alone (``jit_compile``,
``steps_per_execution``) may differ. ``--report-only`` checks that the runs of its grid share
one data set, and each model's runs one setting but for the axes (predictive factors, seed) and
``test_every_epoch``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from coat_tf import config as cfg
from coat_tf.claims import CLAIM_FILE
from coat_tf.config import RunConfig
from coat_tf.fileio import atomic_write_text
from coat_tf.runs import CONFIG_FILE, METRICS_FILE

DATA_FILE = "data.json"
#: Settings that may differ between runs of one plan: where the data set lies (its content
#: hash says which it is) and where a pre-trained NeuMF's parts lie.
MOVABLE = ("data_dir", "train.pretrain_gmf", "train.pretrain_mlp")
#: Settings of speed alone (the same steps on the same batches, compiled or not): a run made
#: with others is still a run of the plan.
SPEED = ("train.jit_compile", "train.steps_per_execution")
#: Settings that the experiment's own axes set: they differ between the runs of one model.
AXES = ("model.embedding_size", "train.seed")
#: A setting that adds figures without changing the training: one report may hold runs with and
#: without it (the tables of NCF's rule show only the runs that have them).
EXTRA_FIGURES = ("train.test_every_epoch",)


class RecordError(ValueError):
    """A run folder whose files cannot be read, or that records another plan."""


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; :class:`RecordError` naming the file otherwise."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as error:
        raise RecordError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise RecordError(f"{path}: byte {error.start} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise RecordError(
            f"{path}:{error.lineno}: not valid JSON ({error.msg}); the file is damaged: delete "
            "the run folder to train it again"
        ) from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_metrics(run_dir: Path) -> dict:
    """A finished run's ``metrics.json`` (:class:`RecordError` naming it if damaged)."""
    return read_json(Path(run_dir) / METRICS_FILE)


def data_record(data) -> dict:  # noqa: ANN001 - a PreparedDataset
    """What ``data.json`` records of a prepared data set."""
    return {
        "data": str(data.path),
        "data_hash": data.manifest.get("content_hash"),
        "test_negatives": int(data.test.items.shape[1]) - 1,
        "validation_in_train": bool(data.validation_in_train),
    }


def write_data_record(run_dir: Path, record: dict) -> None:
    """Write ``data.json`` into ``run_dir`` (atomically)."""
    atomic_write_text(Path(run_dir) / DATA_FILE, json.dumps(record, indent=2) + "\n")


def recorded_data(run_dir: Path) -> dict:
    """The data set a run records: its ``data.json``, or for a run written before it, the
    ``data`` and ``data_hash`` of its ``metrics.json``; ``{}`` where neither is there."""
    run_dir = Path(run_dir)
    if (run_dir / DATA_FILE).is_file():
        return read_json(run_dir / DATA_FILE)
    if (run_dir / METRICS_FILE).is_file():
        metrics = read_metrics(run_dir)
        return {key: metrics[key] for key in ("data", "data_hash") if key in metrics}
    return {}


def recorded_settings(run_dir: Path) -> dict | None:
    """A run's ``config.json`` as flat ``{"train.epochs": 3, ...}`` (the current defaults
    filled in), or None where there is none."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        return None
    recorded = read_json(path)
    try:
        return planned_settings(cfg.from_dict(RunConfig, recorded))
    except (TypeError, ValueError) as error:
        raise RecordError(f"{path}: {error}") from None


def planned_settings(config: RunConfig) -> dict:
    """``config`` as flat JSON values (``{"train.epochs": 3, ...}``), as ``config.json``
    reads back (lists, not tuples)."""
    return flatten(json.loads(cfg.to_json(config)))


def flatten(settings: dict, prefix: str = "") -> dict:
    """Nested settings as ``{"section.key": value}``."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differences(
    recorded: dict, planned: dict, ignore: Iterable[str] = (*MOVABLE, *SPEED)
) -> list[str]:
    """``"train.epochs 3 != 5"`` for each flat setting that differs (recorded first)."""
    skip = set(ignore)
    return [
        f"{key} {recorded.get(key)!r} != {planned.get(key)!r}"
        for key in sorted(set(recorded) | set(planned))
        if key not in skip and recorded.get(key) != planned.get(key)
    ]


def _short(digest: object) -> str:
    return f"{str(digest)[:12]}.." if digest else "none recorded"


def check_folder(run_dir: Path) -> None:
    """A run folder path that is not a folder, or whose claim file is not a file: an error."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RecordError(f"{run_dir}: is a file, not a run folder; move it away")
    lock = run_dir / CLAIM_FILE
    if lock.exists() and not lock.is_file():
        raise RecordError(f"{lock}: is not a file (the claim of a run); remove it")


def check_run(run_dir: Path, planned: RunConfig, data: dict) -> None:
    """Raise :class:`RecordError` if ``run_dir`` holds a run of other settings or another
    data set than ``planned`` on ``data`` (a :func:`data_record`); a new folder passes."""
    check_folder(run_dir)
    settings = recorded_settings(run_dir)
    found = differences(settings, planned_settings(planned)) if settings is not None else []
    recorded_hash = recorded_data(run_dir).get("data_hash")
    if recorded_hash is not None and recorded_hash != data.get("data_hash"):
        found.insert(0, f"data hash {_short(recorded_hash)} != {_short(data.get('data_hash'))}")
    if found:
        raise RecordError(
            f"{run_dir} holds a run of another plan (recorded != now): {'; '.join(found)}; "
            "use another --out for these settings"
        )


def check_same_data(
    out: Path, data: dict, advice: str = "use another --out for this data set"
) -> None:
    """Every run folder under ``out/runs`` that records its data set must record ``data``'s
    (``results.csv`` lists them all): :class:`RecordError` naming the first that does not,
    ending with ``advice``."""
    for run_dir in sorted(Path(out).glob("runs/*/f*/seed*")):
        if not run_dir.is_dir():
            continue
        digest = recorded_data(run_dir).get("data_hash")
        if digest is not None and digest != data.get("data_hash"):
            raise RecordError(
                f"{run_dir} was trained on another data set: data hash {_short(digest)} != "
                f"{_short(data.get('data_hash'))}; {advice}"
            )


def check_consistent(run_dirs: list[Path], epochs: int | None, data_hash: str | None) -> None:
    """``--report-only``: the finished runs of one table must share one data set (``data_hash``
    where given), each model's runs one setting apart from the axes, and ``epochs`` where
    given. Raises :class:`RecordError` naming the two runs that differ."""
    first_data: tuple[Path, object] | None = None
    by_model: dict[str, tuple[Path, dict]] = {}
    for run_dir in run_dirs:
        digest = recorded_data(run_dir).get("data_hash")
        if data_hash is not None and digest != data_hash:
            raise RecordError(
                f"{run_dir} was trained on another data set: data hash {_short(digest)} != "
                f"{_short(data_hash)} (--data); use the --out of that data set"
            )
        if first_data is None:
            first_data = (run_dir, digest)
        elif digest != first_data[1]:
            raise RecordError(
                f"{run_dir} and {first_data[0]} were trained on different data sets: data hash "
                f"{_short(digest)} != {_short(first_data[1])}; report them with separate --out"
            )
        settings = recorded_settings(run_dir)
        if settings is None:
            continue
        if epochs is not None and settings.get("train.epochs") != epochs:
            raise RecordError(
                f"{run_dir} was trained for train.epochs {settings.get('train.epochs')} != "
                f"{epochs} (--epochs)"
            )
        model = run_dir.parent.parent.name
        if model not in by_model:
            by_model[model] = (run_dir, settings)
            continue
        other, known = by_model[model]
        found = differences(settings, known, ignore=(*MOVABLE, *SPEED, *AXES, *EXTRA_FIGURES))
        if found:
            raise RecordError(
                f"{run_dir} and {other} hold runs of different settings: {'; '.join(found[:4])}"
                "; report them with separate --out"
            )


def writable_folder(out: Path) -> None:
    """``--out`` must be a folder (or not yet exist) that this process may write in."""
    if out.exists() and not out.is_dir():
        raise RecordError(f"--out {out}: is a file, not a folder")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise RecordError(f"--out {out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RecordError(f"--out {out}: {existing} is not writable (permission denied)")
