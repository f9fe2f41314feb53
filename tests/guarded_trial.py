"""``python -m tests.guarded_trial RUN_DIR``: a search's trial process (:mod:`tuning.trial`)
in which the data set's test split fails when anything reads it."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence

from tuning import trial  # first: it ties this process to the search's


class SplitTouched(AssertionError):
    """Something read the test split."""


class Untouchable:
    """Stands in for ``data.test``: any use of it raises :class:`SplitTouched`."""

    def __getattr__(self, name: str):  # noqa: ANN204
        raise SplitTouched(f"the test split was read (test.{name})")

    def __len__(self) -> int:
        raise SplitTouched("the test split was read (len)")


def guard() -> Callable[[], None]:
    """Every PreparedDataset loaded from now on has an untouchable test split; returns the
    function that undoes it."""
    from coat_tf.data import PreparedDataset

    real = PreparedDataset.__dict__["load"]

    def load(cls, path, *args, **kwargs):  # noqa: ANN001, ANN202
        data = real.__func__(cls, path, *args, **kwargs)
        return dataclasses.replace(data, test=Untouchable())

    PreparedDataset.load = classmethod(load)
    return lambda: setattr(PreparedDataset, "load", real)


def main(argv: Sequence[str] | None = None) -> int:
    guard()
    return trial.main(argv)


if __name__ == "__main__":
    sys.exit(main())
