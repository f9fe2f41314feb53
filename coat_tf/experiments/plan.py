"""What an experiment runs: one run per (model, predictive factors, seed), and its settings.

The paper's experiments, and the reproduction of NCF's published table:

- ``table1``: COAT with and without attention (Table I): ``coat``, ``coat-ones`` (the paper's
  ablation, every weight 1) and ``coat-uniform`` (the same with weights ``1 / L``, a named
  variant beyond the paper).
- ``fig2``: COAT against the baselines at predictive factors 8 to 64 (Fig. 2): ``coat``,
  ``wmf``, ``neumf``, ``neumf-cnn``, ``neumf-lstm``.
- ``ncf``: NCF's models on its protocol (He et al., 2017): ``gmf``, ``mlp``, ``neumf``,
  ``neumf-pre`` (NeuMF pre-trained from this experiment's GMF and MLP runs of the same size and
  seed, or, with ``pretrained_from``, from the finished ones of another experiment's folder, so
  that variants of its settings share one pair of parts) and ``wmf``.
- ``new-songs``: songs with no listening history (a data set prepared with ``--new-songs``),
  each held-out new song ranked against the other songs of its shelf: ``random``,
  ``chord-histogram``, ``coat``, ``coat-uniform``, ``coat-ones`` and ``coat-song-dropout``
  (song dropout, DropoutNet); the MFCC models where the data set has audio (``--models``).

Settings of each run, in order: :class:`~coat_tf.config.RunConfig`'s defaults, then a
``--config`` file's ``"defaults"`` and its entry for the model, then the tuner's best
configuration for the model (``--tuned``), then the experiment's own axes (the predictive
factors, the seed) and ``--epochs``. Each run records where its settings came from.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

from coat_tf import config as cfg
from coat_tf.config import RunConfig
from coat_tf.experiments.records import read_json
from coat_tf.models import get_spec
from coat_tf.runs import FINISHED, run_state

EXPERIMENTS: dict[str, tuple[str, ...]] = {
    "table1": ("coat", "coat-ones", "coat-uniform"),
    "fig2": ("coat", "wmf", "neumf", "neumf-cnn", "neumf-lstm"),
    "ncf": ("gmf", "mlp", "neumf", "neumf-pre", "wmf"),
    "new-songs": (
        "random",
        "chord-histogram",
        "coat",
        "coat-uniform",
        "coat-ones",
        "coat-song-dropout",
    ),
}
#: models that exist only in experiments: name -> (registered model, what it needs first)
PRETRAINED = {"neumf-pre": ("neumf", ("gmf", "mlp"))}
BEST_CONFIG = "best_config.json"
#: The largest seed NumPy and TensorFlow take.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class PlannedRun:
    """One run of an experiment.

    Attributes:
        model: the experiment's name for it (a registered model or ``neumf-pre``).
        factors: predictive factors (``embedding_size``).
        seed: the run's seed.
        run_dir: its run folder.
        config: the resolved configuration (None for a finished run found on disk).
        source: where the hyperparameters came from (``defaults``, ``config file``, ``tuned``).
    """

    model: str
    factors: int
    seed: int
    run_dir: Path
    config: RunConfig | None
    source: str


def run_dir(out: Path, model: str, factors: int, seed: int) -> Path:
    """``OUT/runs/<model>/f<factors>/seed<seed>``."""
    return Path(out) / "runs" / model / f"f{factors}" / f"seed{seed}"


def registered_name(model: str) -> str:
    """The ``--model`` name behind an experiment's model name."""
    return PRETRAINED[model][0] if model in PRETRAINED else model


def check_models(models: list[str], parts_elsewhere: bool = False) -> None:
    """Unknown names, or a pre-trained NeuMF without the runs it starts from (listed before it,
    unless ``parts_elsewhere``: another folder's), are errors."""
    for name in models:
        if name not in PRETRAINED:
            get_spec(name)
    if parts_elsewhere:
        return
    for name in models:
        if name in PRETRAINED:
            needs = PRETRAINED[name][1]
            missing = [m for m in needs if m not in models]
            if missing or any(models.index(m) > models.index(name) for m in needs):
                raise ValueError(
                    f"{name} starts from the {' and '.join(needs)} runs of the same experiment: "
                    f"list {', '.join(needs)} before {name} in --models"
                )


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def unique(values: list) -> list:
    """``values`` without repeats, in their first order (a repeated seed is one run)."""
    return list(dict.fromkeys(values))


def check_axes(seeds: list[int], factors: list[int]) -> None:
    """Seeds must fit NumPy's and TensorFlow's seeds (0 to 2**32 - 1), factors be positive.

    Raises:
        ValueError: naming the option and the value.
    """
    for seed in seeds:
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"--seeds: {seed} is outside 0..{MAX_SEED}")
    for size in factors:
        if size <= 0:
            raise ValueError(f"--factors: {size} is not a positive number of predictive factors")


def _known_model(name: str) -> bool:
    if name in PRETRAINED:
        return True
    try:
        get_spec(name)
    except ValueError:
        return False
    return True


def check_settings(path: str | os.PathLike, where: str, entry: object, model: str | None) -> None:
    """A partial :class:`RunConfig` (``entry``) of the file ``path`` at key ``where``: a JSON
    object of known settings of the right types; ``model_name``, where given, must be the
    entry's own model (``model``).

    Raises:
        ValueError: ``PATH: WHERE: what is wrong``.
    """
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: {where}: expected a JSON object, got {_kind(entry)}")
    if "model_name" in entry:
        allowed = None if model is None else registered_name(model)
        if entry["model_name"] != allowed:
            raise ValueError(
                f"{path}: {where}.model_name: {entry['model_name']!r} is not "
                + (f"{allowed!r}" if allowed else "allowed here")
                + "; the experiment sets each run's model (--models)"
            )
    try:
        cfg.from_dict(RunConfig, _merge(cfg.to_dict(RunConfig()), entry))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {where}: {error}") from None


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def read_overrides(path: str | os.PathLike | None) -> dict:
    """A ``--config`` file: ``{"defaults": {...}, "models": {name: {...}}}``, each a partial
    :class:`RunConfig` as JSON (``{"train": {"learning_rate": 0.001}}``).

    Raises:
        ValueError: ``PATH[:LINE]: KEY: what is wrong``: the file is unreadable, not JSON, not
            of that shape, names an unknown model, or holds a setting of the wrong type.
    """
    if path is None:
        return {"defaults": {}, "models": {}}
    data = cfg.read_json(path, "an experiments --config file")
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: expected a JSON object with keys 'defaults' and 'models', got {_kind(data)}"
        )
    unknown = sorted(set(data) - {"defaults", "models"})
    if unknown:
        raise ValueError(f"{path}: {unknown[0]}: unknown key; expected 'defaults' and 'models'")
    defaults, models = data.get("defaults", {}), data.get("models", {})
    check_settings(path, "defaults", defaults, None)
    if not isinstance(models, dict):
        raise ValueError(f"{path}: models: expected a JSON object, got {_kind(models)}")
    for name, entry in models.items():
        if not _known_model(name):
            raise ValueError(f"{path}: models.{name}: unknown model")
        check_settings(
            path,
            f"models.{name}",
            _merge(defaults, entry) if isinstance(entry, dict) else entry,
            name,
        )
    return {"defaults": defaults, "models": models}


def check_tuned(tuned: str | os.PathLike | None) -> None:
    """``--tuned`` must be a folder."""
    if tuned is not None and not Path(tuned).is_dir():
        what = "is not a folder" if Path(tuned).exists() else "no such folder"
        raise ValueError(f"--tuned {tuned}: {what} (a tuning folder: MODEL/{BEST_CONFIG})")


def untuned(tuned: str | os.PathLike | None, models: list[str]) -> list[str]:
    """The models of ``models`` without a ``best_config.json`` under ``tuned``."""
    if tuned is None:
        return []
    return [m for m in models if not (Path(tuned) / registered_name(m) / BEST_CONFIG).is_file()]


def tuned_config(tuned: str | os.PathLike | None, model: str) -> dict | None:
    """The tuner's best configuration for ``model`` (``TUNED/<model>/best_config.json``), or
    None where that search has none.

    Raises:
        ValueError: the file is damaged (named with what is wrong).
    """
    if tuned is None:
        return None
    path = Path(tuned) / registered_name(model) / BEST_CONFIG
    if not path.is_file():
        return None
    best = read_json(path)
    check_settings(path, "best configuration", best, model)
    # the tuned hyperparameters only: sizes and data come from the experiment
    for key in ("num_users", "num_songs", "num_chords", "sequence_length", "embedding_size"):
        best.get("model", {}).pop(key, None)
    best.pop("data_dir", None)
    best.get("train", {}).pop("seed", None)
    return best


def plan(
    experiment: str,
    models: list[str],
    factors: list[int],
    seeds: list[int],
    out: Path,
    shapes: dict,
    data_dir: str,
    overrides: dict,
    tuned: str | os.PathLike | None = None,
    epochs: int | None = None,
    pretrained_from: Path | None = None,
) -> list[PlannedRun]:
    """Every run of the experiment, in the order they run: by seed, then size, then model (so
    that partial results cover every model), a pre-trained NeuMF after its GMF and MLP (those
    of ``out``, or the finished ones of ``pretrained_from``).

    Raises:
        ValueError: an unknown experiment or model, a pre-trained NeuMF listed before its parts,
            parts missing or unfinished in ``pretrained_from``, no ``tuned`` folder, or a
            damaged ``best_config.json`` in it.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {list(EXPERIMENTS)}")
    check_models(models, parts_elsewhere=pretrained_from is not None)
    check_tuned(tuned)
    parts_folder = Path(pretrained_from) if pretrained_from is not None else Path(out)
    runs = []
    for seed in seeds:
        for size in factors:
            for model in models:
                settings = _merge(cfg.to_dict(RunConfig()), overrides["defaults"])
                source = "defaults"
                if model in overrides["models"] or registered_name(model) in overrides["models"]:
                    entry = overrides["models"].get(
                        model, overrides["models"].get(registered_name(model))
                    )
                    settings = _merge(settings, entry)
                    source = "config file"
                best = tuned_config(tuned, model)
                if best is not None:
                    settings = _merge(settings, best)
                    source = "tuned"
                settings["model"] = {**settings["model"], **shapes, "embedding_size": size}
                settings["train"]["seed"] = seed
                if epochs is not None:
                    settings["train"]["epochs"] = epochs
                settings["model_name"] = registered_name(model)
                settings["data_dir"] = data_dir
                if model in PRETRAINED:
                    parts = [run_dir(parts_folder, m, size, seed) for m in PRETRAINED[model][1]]
                    unfinished = [str(p) for p in parts if run_state(p) != FINISHED]
                    if pretrained_from is not None and unfinished:
                        raise ValueError(
                            f"{model} starts from finished runs of --pretrained-from "
                            f"{pretrained_from}; not finished: {', '.join(unfinished)}"
                        )
                    settings["train"]["pretrain_gmf"] = str(parts[0])
                    settings["train"]["pretrain_mlp"] = str(parts[1])
                config = cfg.from_dict(RunConfig, settings)
                runs.append(
                    PlannedRun(model, size, seed, run_dir(out, model, size, seed), config, source)
                )
    return runs
