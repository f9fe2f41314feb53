"""The grid search oracle across a kill: keras-tuner#1055 reproduced, and the workaround.

No training here: a trial's "score" is computed from its values, and a kill is an exception
that keras-tuner does not catch (``BaseException``), raised at the moment a SIGKILL would
land. Whatever was on disk then is what the next process (a new tuner on the same folder)
reloads.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras_tuner as kt
import pytest
from keras_tuner.engine.base_tuner import BaseTuner

from tuning.oracle import ResumableGridSearchOracle

GRID = {"a": [1, 2], "b": [1, 2, 3]}
ALL = [{"a": a, "b": b} for a in GRID["a"] for b in GRID["b"]]


class Killed(BaseException):
    """Stands for SIGKILL: keras-tuner catches ``Exception`` only."""


class FakeTuner(BaseTuner):
    """Scores ``10 a + b``; ``kill_during`` / ``kill_after`` stop at a trial (by count)."""

    def __init__(self, oracle, folder: Path, kill_during=None, kill_after=None) -> None:  # noqa: ANN001
        self.ran: list[dict] = []
        self.kill_during, self.kill_after = kill_during, kill_after
        super().__init__(oracle, directory=str(folder), project_name="search")

    def run_trial(self, trial, **kwargs) -> dict:  # noqa: ANN001, ARG002
        values = dict(trial.hyperparameters.values)
        self.ran.append(values)
        if len(self.ran) == self.kill_during:
            raise Killed
        return {"score": 10 * values["a"] + values["b"]}

    def on_trial_end(self, trial) -> None:  # noqa: ANN001
        super().on_trial_end(trial)
        if len(self.ran) == self.kill_after:
            raise Killed


def make(oracle_class, folder: Path, **kills) -> FakeTuner:
    hp = kt.HyperParameters()
    for name, values in GRID.items():
        hp.Choice(name, values)
    oracle = oracle_class(
        objective=kt.Objective("score", "max"), hyperparameters=hp, max_trials=len(ALL)
    )
    return FakeTuner(oracle, folder, **kills)


def search(tuner: FakeTuner) -> None:
    tuner.search(verbose=0)


def completed(tuner: FakeTuner) -> list[dict]:
    trials = tuner.oracle.trials.values()
    return sorted(
        (dict(t.hyperparameters.values) for t in trials if t.status == "COMPLETED"),
        key=lambda v: (v["a"], v["b"]),
    )


def killed_search(oracle_class, folder: Path, **kills) -> None:
    with pytest.raises(Killed):
        search(make(oracle_class, folder, **kills))


def test_stock_oracle_raises_key_error_after_a_kill_during_a_trial(tmp_path: Path) -> None:
    """keras-team/keras-tuner#1055 on the pinned keras-tuner (1.4.8). If this starts failing,
    keras-tuner has fixed it and :mod:`tuning.oracle`'s workaround may go."""
    killed_search(kt.oracles.GridSearchOracle, tmp_path, kill_during=3)
    with pytest.raises(KeyError):
        search(make(kt.oracles.GridSearchOracle, tmp_path))


def test_stock_oracle_stops_silently_after_a_kill_between_trials(tmp_path: Path) -> None:
    """The same bug's other face: nothing to retry, nothing queued, the search just ends."""
    killed_search(kt.oracles.GridSearchOracle, tmp_path, kill_after=2)
    resumed = make(kt.oracles.GridSearchOracle, tmp_path)
    search(resumed)
    assert resumed.ran == []
    assert len(completed(resumed)) == 2  # 4 of the 6 combinations are never run


@pytest.mark.parametrize(
    "kills", [{"kill_during": 3}, {"kill_after": 2}, {"kill_after": 1}, {"kill_during": 1}]
)
def test_resumed_search_runs_each_remaining_combination_once(tmp_path: Path, kills) -> None:
    first = make(ResumableGridSearchOracle, tmp_path, **kills)
    with pytest.raises(Killed):
        search(first)
    finished_before = completed(first)
    resumed = make(ResumableGridSearchOracle, tmp_path)
    search(resumed)
    assert completed(resumed) == ALL
    # nothing finished is run again; a trial killed half-way is run again
    assert not [v for v in resumed.ran if v in finished_before]
    assert sorted(finished_before + resumed.ran, key=lambda v: (v["a"], v["b"])) == ALL
    assert len(resumed.oracle.trials) == len(ALL)
    assert resumed.get_best_hyperparameters()[0].values == {"a": 2, "b": 3}


def test_a_second_kill_and_resume_still_completes_the_grid(tmp_path: Path) -> None:
    killed_search(ResumableGridSearchOracle, tmp_path, kill_during=2)
    killed_search(ResumableGridSearchOracle, tmp_path, kill_after=2)
    resumed = make(ResumableGridSearchOracle, tmp_path)
    search(resumed)
    assert completed(resumed) == ALL
    assert resumed.ran == ALL[3:]


def test_a_trial_started_on_disk_but_not_in_the_oracle_state_is_run_again(tmp_path: Path) -> None:
    """Killed between writing a new trial's ``trial.json`` and the oracle's state."""
    killed_search(ResumableGridSearchOracle, tmp_path, kill_during=3)
    project = tmp_path / "search"
    state = json.loads((project / "oracle.json").read_text())
    (running,) = state["ongoing_trials"].values()
    state["ongoing_trials"] = {}
    state["start_order"].remove(running)
    (project / "oracle.json").write_text(json.dumps(state))
    resumed = make(ResumableGridSearchOracle, tmp_path)
    search(resumed)
    assert completed(resumed) == ALL
    assert resumed.ran == ALL[2:]


def test_state_files_are_written_atomically(tmp_path: Path, monkeypatch) -> None:
    """keras-tuner writes its JSON in place; ours go through a temporary file and a rename."""
    import os

    renamed: list[str] = []
    real_replace = os.replace

    def replace(src, dst) -> None:  # noqa: ANN001
        renamed.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    search(make(ResumableGridSearchOracle, tmp_path))
    assert "oracle.json" in renamed and "trial.json" in renamed
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
