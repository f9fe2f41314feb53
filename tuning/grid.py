"""A search grid: axes named by :class:`~coat_tf.config.RunConfig` field paths.

Each model declares its grid beside it (:attr:`coat_tf.models.ModelSpec.grid`: the paper's
batch size x learning rate x embedding size for the neural models, factors x regularisation x
alpha for WMF, the neighbourhood size for item-kNN; popularity has none). A :class:`Grid`
turns one into keras-tuner hyperparameters (``Choice`` axes, the last axis varying fastest) and
a trial's values into the run configuration it trains.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coat_tf import config as cfg
from coat_tf.config import RunConfig

#: command-line option (argparse ``dest``) -> the field path it sets
OPTIONS: dict[str, str] = {
    "batch_size": "train.batch_size",
    "learning_rate": "train.learning_rate",
    "embedding_size": "model.embedding_size",
    "wmf_regularization": "model.wmf.regularization",
    "wmf_alpha": "model.wmf.alpha",
    "itemknn_neighbours": "model.itemknn.neighbours",
}


def option_name(path: str) -> str:
    """``train.batch_size`` -> ``--batch-size``."""
    dest = next((dest for dest, p in OPTIONS.items() if p == path), path.rsplit(".", 1)[-1])
    return "--" + dest.replace("_", "-")


@dataclass(frozen=True)
class Axis:
    """One hyperparameter: a field path (``train.batch_size``) and the values tried."""

    path: str
    values: tuple

    @property
    def name(self) -> str:
        """The hyperparameter's name (the field's own name), as keras-tuner and TensorBoard
        show it."""
        return self.path.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Grid:
    """The axes of a grid search, in order (the last one varies fastest)."""

    axes: tuple[Axis, ...]

    @classmethod
    def from_mapping(cls, grid: Mapping[str, tuple]) -> Grid:
        axes = []
        for path, values in grid.items():
            values = tuple(dict.fromkeys(values))  # duplicates dropped, order kept
            if not values:
                raise ValueError(f"{option_name(path)}: give at least one value")
            for value in values:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{option_name(path)}: {value!r} is not a number")
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"{option_name(path)}: {value!r} is not a finite number >= 0")
            axes.append(Axis(path, values))
        names = [axis.name for axis in axes]
        if len(set(names)) != len(names):
            raise ValueError(f"two axes of the grid share a name: {names}")
        return cls(tuple(axes))

    @property
    def size(self) -> int:
        return math.prod(len(axis.values) for axis in self.axes)

    @property
    def names(self) -> list[str]:
        return [axis.name for axis in self.axes]

    def to_dict(self) -> dict[str, list]:
        return {axis.path: list(axis.values) for axis in self.axes}

    def combinations(self) -> list[dict[str, Any]]:
        """Every point of the grid as ``{name: value}``, in the order the search visits them."""
        return [
            dict(zip(self.names, point, strict=True))
            for point in itertools.product(*(axis.values for axis in self.axes))
        ]

    def hyperparameters(self):  # noqa: ANN201 - keras_tuner.HyperParameters
        """The grid as keras-tuner ``Choice`` hyperparameters (the first value is the default,
        which the grid search oracle visits first)."""
        import keras_tuner as kt

        hp = kt.HyperParameters()
        for axis in self.axes:
            hp.Choice(axis.name, list(axis.values), default=axis.values[0])
        return hp

    def apply(self, base: RunConfig, values: Mapping[str, Any]) -> RunConfig:
        """``base`` with this grid's fields set to ``values`` (``{name: value}``), validated.

        Raises:
            ValueError: a value the configuration refuses (naming the field), or a missing one.
        """
        settings = cfg.to_dict(base)
        for axis in self.axes:
            if axis.name not in values:
                raise ValueError(f"no value for {axis.name}")
            *parents, leaf = axis.path.split(".")
            node = settings
            for key in parents:
                node = node[key]
            if leaf not in node:
                raise ValueError(f"{axis.path} is not a RunConfig field")
            node[leaf] = values[axis.name]
        return cfg.from_dict(RunConfig, settings)


def grid_for(spec_grid: Mapping[str, tuple], overrides: Mapping[str, tuple | None]) -> Grid:
    """A model's grid with some axes' values replaced (``{path: values}``; None keeps the
    model's own).

    Raises:
        ValueError: an override for an axis the model does not have (naming the option and the
            model's axes), or a bad value.
    """
    grid = dict(spec_grid)
    for path, values in overrides.items():
        if values is None:
            continue
        if path not in grid:
            own = ", ".join(option_name(p) for p in grid)
            raise ValueError(f"{option_name(path)} is not an axis of this model's grid ({own})")
        grid[path] = tuple(values)
    return Grid.from_mapping(grid)
