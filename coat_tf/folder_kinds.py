"""Which command's output a folder holds, told from the files each writes at its top level.

- a **search** (``python -m tuning.search --dir``): ``search.json``, its settings, written
  before the first trial, or keras-tuner's ``oracle.json``;
- an **experiments** folder (``python -m coat_tf.experiments --out``): run folders
  ``runs/<model>/f<F>/seed<S>/`` (:func:`coat_tf.experiments.plan.run_dir`), made before each
  run trains.

Both commands write ``results.csv`` at the top of their folder and rebuild it from what they
find there, so each refuses a folder of the other kind (:func:`check_kind`) rather than
overwrite the other's table.
"""

from __future__ import annotations

import os
from pathlib import Path

SEARCH, EXPERIMENTS = "search", "experiments"
#: a folder is a search if it holds one of these
SEARCH_FILES = ("search.json", "oracle.json")
#: a folder is an experiments folder if this matches (the layout of plan.run_dir)
EXPERIMENTS_RUNS = "runs/*/f*/seed*"
#: what each kind is, for messages
DESCRIPTIONS = {
    SEARCH: "a tuning.search folder (it holds search.json or oracle.json)",
    EXPERIMENTS: "an experiments folder (it holds runs/<model>/f<F>/seed<S>/)",
}


def folder_kind(folder: str | os.PathLike) -> str | None:
    """:data:`SEARCH`, :data:`EXPERIMENTS`, or None for a folder of neither kind (or absent)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    if any((folder / name).is_file() for name in SEARCH_FILES):
        return SEARCH
    if any(path.is_dir() for path in folder.glob(EXPERIMENTS_RUNS)):
        return EXPERIMENTS
    return None


def check_kind(folder: str | os.PathLike, option: str, expected: str) -> None:
    """Refuse ``folder`` (given as ``option``) if it holds another kind of output.

    Raises:
        ValueError: ``folder`` is a folder of a kind other than ``expected``, naming it.
    """
    kind = folder_kind(folder)
    if kind is not None and kind != expected:
        raise ValueError(f"{option} {folder}: is {DESCRIPTIONS[kind]}; choose another folder")
