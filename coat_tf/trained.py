"""A trained run folder read back: its configuration, its best weights, its scoring interface.

A run folder (written by :func:`coat_tf.runner.train_and_evaluate`) holds ``config.json`` and,
once an epoch (or ALS iteration) improved the validation NDCG, ``best.json`` and ``best/``: a
TensorFlow weights checkpoint ``best/weights`` for the Keras models, ``best/factors.npz`` for
WMF, ``best/state.npz`` for the models fitted in one pass (popularity, item-kNN,
chord-histogram, random). NeuMF's pre-training, the experiments and the tuner read runs
through this module.
"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

from coat_tf import config as cfg
from coat_tf.config import RunConfig
from coat_tf.models import WmfRecommender, build_model, get_spec, song_tables
from coat_tf.models.fitted import STATE_FILE
from coat_tf.models.recommender import Recommender
from coat_tf.runs import CONFIG_FILE

BEST_DIR = "best"
WEIGHTS_PREFIX = "weights"
FACTORS_FILE = "factors.npz"


class RunError(ValueError):
    """A run folder that cannot be used for what was asked."""


def read_config(run_dir: str | os.PathLike) -> RunConfig:
    """The run's ``config.json``; :class:`RunError` if it is missing or invalid."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunError(f"{path}: no such file (not a run folder of python -m coat_tf.train)")
    try:
        return cfg.load(RunConfig, path)
    except ValueError as error:
        raise RunError(f"{path}: {error}") from None


def best_weights_prefix(run_dir: str | os.PathLike) -> Path:
    """The checkpoint prefix of a Keras run's best weights (``model.load_weights`` takes it)."""
    return Path(run_dir) / BEST_DIR / WEIGHTS_PREFIX


def best_factors_path(run_dir: str | os.PathLike) -> Path:
    """WMF's best factors."""
    return Path(run_dir) / BEST_DIR / FACTORS_FILE


def best_state_path(run_dir: str | os.PathLike) -> Path:
    """The state of a model fitted in one pass (popularity, item-kNN, chord-histogram,
    random)."""
    return Path(run_dir) / BEST_DIR / STATE_FILE


def load_keras_model(
    run_dir: str | os.PathLike, expect_model: str | None = None
) -> tuple[RunConfig, tf.keras.Model]:
    """The Keras model of a finished run, with its best weights.

    Args:
        run_dir: the run folder.
        expect_model: if given, the ``--model`` name the run must have.

    Raises:
        RunError: no config, another model than expected, or no best weights yet.
    """
    run = read_config(run_dir)
    if expect_model is not None and run.model_name != expect_model:
        raise RunError(f"{run_dir} is a {run.model_name!r} run, expected a {expect_model!r} run")
    prefix = best_weights_prefix(run_dir)
    if not Path(f"{prefix}.index").is_file():
        raise RunError(f"{run_dir} has no best weights ({prefix}.index): did the run finish?")
    model = build_model(run.model_name, run.model)
    model.load_weights(str(prefix)).expect_partial()
    return run, model


def load_recommender(run_dir: str | os.PathLike, data=None) -> tuple[RunConfig, Recommender]:  # noqa: ANN001
    """The scoring interface of a finished run, with its best weights.

    Args:
        run_dir: the run folder.
        data: the :class:`~coat_tf.data.PreparedDataset` it was trained on (loaded from the
            run's ``data_dir`` if None); the content tables come from it.
    """
    run = read_config(run_dir)
    spec = get_spec(run.model_name)
    if spec.trainer == "als":
        path = best_factors_path(run_dir)
        if not path.is_file():
            raise RunError(f"{run_dir} has no best factors ({path}): did the run finish?")
        return run, WmfRecommender.load(path)
    if spec.trainer == "one_pass":
        path = best_state_path(run_dir)
        if not path.is_file():
            raise RunError(f"{run_dir} has no fitted state ({path}): did the run finish?")
        try:
            return run, spec.fitted.load(path)
        except ValueError as error:
            raise RunError(f"{error}; train the run again") from None
    if data is None:
        from coat_tf.data import PreparedDataset

        if not run.data_dir:
            raise RunError(f"{run_dir}/config.json names no data_dir")
        data = PreparedDataset.load(run.data_dir)
    _, model = load_keras_model(run_dir)
    return run, spec.wrap(model, run.model, song_tables(spec, data, run.model))
