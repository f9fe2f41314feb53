"""The bad-input corpus (``tests/bad_input_cases.py``): every case exits with its status, prints
no traceback, and names the file, line or option at fault and the reason.

The commands run in this process (``main([...])``); the few checks that need a real process
(what reaches stderr, including TensorFlow's own lines) are at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from coat_tf.chords.cli import main as chords_main
from coat_tf.data.__main__ import main as data_main
from coat_tf.experiments.__main__ import main as experiments_main
from coat_tf.recommend import main as recommend_main
from coat_tf.train import main as train_main
from tests.bad_input_cases import CASES, Case, Env
from tests.tiny_data import prepare_tiny
from tuning.search import main as tune_main

MAINS: dict[str, Callable[[list[str]], int]] = {
    "train": train_main,
    "prepare": data_main,
    "chords": chords_main,
    "recommend": recommend_main,
    "experiments": experiments_main,
    "tune": tune_main,
}


def run_main(command: str, argv: list[str]) -> int:
    """The exit status of ``command``'s ``main(argv)``, argparse's exits included."""
    try:
        return MAINS[command](argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    """Read-only originals that cases copy before damaging: a prepared data set, an export,
    an export whose weights are NaN, and a finished run folder."""
    import tensorflow as tf

    from coat_tf.export import export_model
    from tests.test_export import tiny_data, trained

    root = tmp_path_factory.mktemp("bad_inputs")
    (root / "tiny").mkdir()
    data = prepare_tiny(root / "tiny")
    small = tiny_data(root)
    recommender, run = trained(small, "coat")
    export = export_model(recommender, small, run, out_root=root / "saved", name="coat")
    model = recommender.model
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    nan_export = export_model(recommender, small, run, out_root=root / "saved", name="nan")
    tf.keras.backend.clear_session()
    finished = root / "finished_run"
    finished.mkdir()
    (finished / "config.json").write_text("{}")
    (finished / "metrics.json").write_text("{}")
    return {"data": data, "export": export, "nan_export": nan_export, "run": finished}


def test_the_corpus_is_large_and_covers_every_command() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.command for case in CASES} == set(MAINS)
    assert {case.code for case in CASES} == {1, 2}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input(case: Case, fixtures: dict[str, Path], tmp_path: Path, capsys) -> None:
    env = Env(tmp_path, fixtures)
    argv = case.argv(env)
    code = run_main(case.command, argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == case.code, f"exit {code}, expected {case.code}\n{err}"
    message = " ".join(err.split())  # argparse and long messages wrap
    for words in case.says:
        assert words in message, f"{words!r} not in the message:\n{err}"
    if case.check is not None:
        case.check(env)


def test_a_failed_run_does_not_block_a_plain_rerun(fixtures, tmp_path, capsys) -> None:
    """Item 5: the same command, run again after a failure, trains (the failed run's files
    are kept aside)."""
    run_dir = tmp_path / "run"
    argv = ["--data", str(fixtures["data"]), "--run-dir", str(run_dir), "--no-export"]
    argv += ["--model", "gmf", "--embedding-size", "8", "--no-full-catalogue", "--epochs", "1"]
    assert train_main([*argv, "--learning-rate", "1e30", "--quiet"]) == 1
    assert (run_dir / "failure.json").is_file()
    capsys.readouterr()
    assert train_main(argv) == 0
    err = capsys.readouterr().err
    assert "held a failed run" in err
    assert err.count("devices: ") == 1  # said once, plainly
    assert (run_dir / "metrics.json").is_file() and not (run_dir / "failure.json").exists()
    (aside,) = run_dir.glob("failed-*")
    assert json.loads((aside / "failure.json").read_text())["error"] == "TrainingDiverged"


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env.pop("COAT_TF_QUIET_TENSORFLOW", None)
    return subprocess.run(
        [sys.executable, *code.split()],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "code", "words"),
    [
        ("-m coat_tf.train --data DATA --learning-rate inf --quiet", 2, "finite positive"),
        ("-m coat_tf.data stats DATA", 2, "chords.npy: damaged"),
        ("-m coat_tf.chords extract EMPTY --out OUT", 2, "no audio files"),
        ("-m coat_tf.recommend --model EXPORT --user u1", 2, "saved_model.pb: damaged"),
        ("-m coat_tf.experiments ncf --data DATA --out OUT --models bpr", 2, "unknown model"),
    ],
    ids=["train", "stats", "chords", "recommend", "experiments"],
)
def test_a_real_process_prints_one_error_and_no_tensorflow_noise(
    fixtures, tmp_path, command: str, code: int, words: str
) -> None:
    """Each command as a user starts it: exit status, the message, no traceback, and none of
    TensorFlow's start-up lines (the CUDA probe's "failed call to cuInit" error among them)."""
    env = Env(tmp_path, fixtures)
    if "stats" in command:
        (env.data / "chords.npy").write_bytes(b"")
    if "recommend" in command:
        (env.export / "saved_model.pb").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    command = (
        command.replace("DATA", str(env.data))
        .replace("EMPTY", str(tmp_path / "empty"))
        .replace("OUT", str(tmp_path / "out"))
        .replace("EXPORT", str(env.export) if "recommend" in command else "")
    )
    result = _python(command, Path.cwd())
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert words in result.stderr
    for noise in ("cuInit", "cudart_stub", "absl::InitializeLog", "cuda_"):
        assert noise not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
