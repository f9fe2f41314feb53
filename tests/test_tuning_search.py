"""python -m tuning.search end to end on tiny data: the table, the best configuration and its
round trip through the training command, the HParams logs, WMF's own grid, failed trials,
option errors, a SIGKILL followed by the same command, two searches on one folder, trials
whose results were deleted, and a full disk."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coat_tf import config as cfg
from coat_tf.config import RunConfig
from coat_tf.data import PreparedDataset
from tests.tiny_data import prepare_tiny
from tuning.search import main

TINY_GRID = ["--batch-size", "64", "128", "--learning-rate", "0.001", "--embedding-size", "8"]


@contextlib.contextmanager
def trial_module(name: str) -> Iterator[None]:
    """Trials run ``python -m NAME`` instead of ``tuning.trial``."""
    import tuning.tuner

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tuning.tuner, "TRIAL_MODULE", name)
        yield


def untouchable_test_split() -> contextlib.AbstractContextManager:
    """Trials run in a process where reading the test split raises (tests/guarded_trial.py)."""
    return trial_module("tests.guarded_trial")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return prepare_tiny(tmp_path_factory.mktemp("tiny"))


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def gmf_search(tiny: Path, tmp_path_factory) -> tuple[Path, str]:
    """A 2 x 1 x 1 GMF search on tiny data, 1 epoch per trial, test split untouchable."""
    folder = tmp_path_factory.mktemp("search") / "gmf"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), untouchable_test_split():
        code = main(
            ["--data", str(tiny), "--model", "gmf", *TINY_GRID, "--epochs", "1"]
            + ["--dir", str(folder)]
        )
    assert code == 0
    return folder, out.getvalue()


def test_search_writes_the_table_and_the_best_config(gmf_search) -> None:
    folder, out = gmf_search
    rows = read_csv(folder / "results.csv")
    assert [row["batch_size"] for row in sorted(rows, key=lambda r: r["trial"])] == ["64", "128"]
    assert all(row["status"] == "COMPLETED" for row in rows)
    scores = [float(row["val_ndcg"]) for row in rows]
    assert scores == sorted(scores, reverse=True)  # best first
    assert all(0 <= float(r["val_ndcg"]) <= float(r["val_hr"]) <= 1 for r in rows)
    assert all(float(row["peak_rss_mb"]) > 0 and float(row["seconds"]) > 0 for row in rows)
    markdown = (folder / "results.md").read_text()
    assert markdown.count("| COMPLETED |") == 2 and "objective validation NDCG@10" in markdown
    best = cfg.load(RunConfig, folder / "best_config.json")
    assert best.model_name == "gmf" and best.train.epochs == 1
    assert best.train.batch_size == int(rows[0]["batch_size"])
    assert (best.train.learning_rate, best.model.embedding_size) == (0.001, 8)
    # one progress line per trial, with what is left
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 2 and lines[0].startswith("[1/2]") and "1 left, about" in lines[0]
    for trial in ("trial_0", "trial_1"):
        metrics = json.loads((folder / trial / "run" / "metrics.json").read_text())
        assert "test" not in metrics and "export" not in metrics
        assert list((folder / trial / "run" / "tensorboard").rglob("events.out.tfevents.*"))


def test_the_guard_catches_a_read_of_the_test_split(tiny: Path) -> None:
    """The guard the searches' trials run under can fail."""
    from tests.guarded_trial import SplitTouched, guard

    undo = guard()
    try:
        with pytest.raises(SplitTouched):
            len(PreparedDataset.load(tiny).test.users)
    finally:
        undo()
    assert len(PreparedDataset.load(tiny).test.users) == 80


def test_the_best_config_trains_as_it_is(gmf_search, tmp_path: Path) -> None:
    from coat_tf.train import main as train

    folder, _ = gmf_search
    run_dir = tmp_path / "run"
    argv = ["--config", str(folder / "best_config.json"), "--run-dir", str(run_dir)]
    assert train([*argv, "--no-export", "--no-full-catalogue", "--quiet"]) == 0
    assert cfg.load(RunConfig, run_dir / "config.json") == cfg.load(
        RunConfig, folder / "best_config.json"
    )
    assert "test" in json.loads((run_dir / "metrics.json").read_text())


def test_hparams_dashboard_has_one_session_per_trial(gmf_search) -> None:
    import tensorflow as tf

    folder, _ = gmf_search
    rows = {row["trial"]: row for row in read_csv(folder / "results.csv")}

    def tags(run: Path) -> dict[str, float | None]:
        found = {}
        for events in run.glob("events.out.tfevents.*"):
            for event in tf.compat.v1.train.summary_iterator(str(events)):
                for value in event.summary.value:
                    scalar = tf.make_ndarray(value.tensor) if value.tensor.dtype else None
                    found[value.tag] = None if scalar is None or scalar.ndim else float(scalar)
        return found

    assert "_hparams_/experiment" in tags(folder / "hparams_experiment")
    for trial, row in rows.items():
        session = tags(folder / f"trial_{trial}" / "hparams")
        assert "_hparams_/session_start_info" in session
        assert math.isclose(session["validation/ndcg"], float(row["val_ndcg"]), rel_tol=1e-6)
        assert math.isclose(session["validation/hr"], float(row["val_hr"]), rel_tol=1e-6)


def test_wmf_searches_its_own_grid(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "wmf"
    argv = ["--data", str(tiny), "--model", "wmf", "--embedding-size", "4", "8"]
    argv += ["--wmf-regularization", "0.01", "--wmf-alpha", "1", "--epochs", "2"]
    with untouchable_test_split():
        assert main([*argv, "--dir", str(folder), "--quiet"]) == 0
    rows = read_csv(folder / "results.csv")
    assert sorted(row["embedding_size"] for row in rows) == ["4", "8"]
    assert {"regularization", "alpha"} <= set(rows[0])
    best = cfg.load(RunConfig, folder / "best_config.json")
    assert best.model_name == "wmf" and best.model.wmf.regularization == 0.01


def test_itemknn_searches_its_neighbourhood_size(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "itemknn"
    argv = ["--data", str(tiny), "--model", "itemknn", "--itemknn-neighbours", "5", "50"]
    with untouchable_test_split():
        assert main([*argv, "--dir", str(folder), "--quiet"]) == 0
    rows = read_csv(folder / "results.csv")
    assert sorted(row["neighbours"] for row in rows) == ["5", "50"]
    best = cfg.load(RunConfig, folder / "best_config.json")
    assert best.model_name == "itemknn" and best.model.itemknn.neighbours in (5, 50)


def test_model_grids_are_declared_beside_the_models() -> None:
    from coat_tf.models import MODELS
    from coat_tf.models.registry import PAPER_GRID
    from coat_tf.models.wmf import SEARCH_GRID
    from tuning.grid import Grid

    assert PAPER_GRID == {
        "train.batch_size": (128, 256, 512, 1024),
        "train.learning_rate": (0.0001, 0.0005, 0.001, 0.005),
        "model.embedding_size": (8, 16, 32, 64),
    }
    assert MODELS["popularity"].grid == {}
    assert MODELS["itemknn"].grid == {"model.itemknn.neighbours": (20, 50, 100, 200)}
    for name, spec in MODELS.items():
        grid = Grid.from_mapping(spec.grid)
        if spec.trainer == "one_pass":
            assert grid.size == len(spec.grid.get("model.itemknn.neighbours", (1,)))
        else:
            assert grid.size == 64
            assert spec.grid == (SEARCH_GRID if name == "wmf" else PAPER_GRID)
        # every point of every grid is a valid configuration
        for values in grid.combinations():
            grid.apply(RunConfig(model_name=name), values)


def test_failed_trials_are_recorded_and_never_best(
    tiny: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)  # the default folder: tuning_runs/<model>
    argv = ["--data", str(tiny), "--model", "gmf", "--batch-size", "16", "32", "64", "128"]
    argv += ["--learning-rate", "0.001", "--embedding-size", "8"]
    with trial_module("tests.fake_trial"):  # 16 diverges, 32 is SIGKILLed
        assert main(argv) == 0
    folder = tmp_path / "tuning_runs" / "gmf"
    rows = read_csv(folder / "results.csv")
    assert [row["batch_size"] for row in rows] == ["64", "128", "16", "32"]
    assert [row["status"] for row in rows] == ["COMPLETED", "COMPLETED", "FAILED", "FAILED"]
    assert "training diverged" in rows[2]["reason"] and "epoch 2" in rows[2]["reason"]
    assert "SIGKILL" in rows[3]["reason"]
    assert "FAILED: training diverged" in capsys.readouterr().out
    assert cfg.load(RunConfig, folder / "best_config.json").train.batch_size == 64
    assert not (folder / "trial_0" / "hparams").exists()  # failed: no HParams session
    # python -m coat_tf.experiments --tuned tuning_runs reads it
    from coat_tf.experiments.plan import tuned_config

    assert tuned_config(tmp_path / "tuning_runs", "gmf")["train"]["batch_size"] == 64
    # the same command again: every trial is done, nothing runs, the table is the same
    before = (folder / "results.csv").read_text()
    with trial_module("no_such_module"):  # a trial started now would crash
        assert main(argv) == 0
    assert (folder / "results.csv").read_text() == before


def test_a_crashed_trial_stops_the_search_and_is_run_again(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    argv = ["--data", str(tiny), "--model", "gmf", "--batch-size", "64", "48"]
    argv += ["--learning-rate", "0.001", "--embedding-size", "8", "--dir", str(tmp_path / "s")]
    with trial_module("tests.fake_trial"):  # 48 raises
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: a bug in the trial" in err and "run the same command again" in err
    assert [row["batch_size"] for row in read_csv(tmp_path / "s" / "results.csv")] == ["64"]
    with trial_module("tests.fake_trial"):
        assert main(argv) == 1  # the same trial again, not a later one
    assert [row["batch_size"] for row in read_csv(tmp_path / "s" / "results.csv")] == ["64"]


def test_a_trial_without_a_finite_validation_ndcg_fails(
    tiny: Path, tmp_path: Path, monkeypatch
) -> None:
    import coat_tf.runner
    from tuning.process import FAILED_STATUS
    from tuning.trial import run_trial

    def diverged(run, data, run_dir, **kwargs):  # noqa: ANN001, ANN202
        assert kwargs["evaluate_on_test"] is False and kwargs["inspect"] is False
        return {"validation": {"hr": float("nan"), "ndcg": float("nan")}}, None

    monkeypatch.setattr(coat_tf.runner, "train_and_evaluate", diverged)
    cfg.save(RunConfig(data_dir=str(tiny)), tmp_path / "config.json")
    assert run_trial(tmp_path) == FAILED_STATUS
    failure = json.loads((tmp_path / "failure.json").read_text())
    assert "no finite validation NDCG" in failure["message"]
    assert not (tmp_path / "metrics.json").exists()


def test_bad_options_and_other_searches_are_refused(tiny: Path, tmp_path: Path, capsys) -> None:
    base = ["--data", str(tiny), "--dir", str(tmp_path / "s")]
    assert main([*base, "--model", "gmf", "--wmf-alpha", "1"]) == 2
    assert "--wmf-alpha is not an axis" in capsys.readouterr().err
    assert main([*base, "--model", "wmf", "--learning-rate", "0.1"]) == 2
    assert main([*base, "--model", "popularity"]) == 2
    assert "--model popularity has no hyperparameters to search" in capsys.readouterr().err
    assert main([*base, "--model", "gmf", "--batch-size", "0"]) == 2
    assert "batch_size must be a positive integer" in capsys.readouterr().err
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "search.json").write_text(json.dumps({"model": "coat"}))
    assert main([*base, "--model", "gmf", "--batch-size", "64"]) == 2
    assert "holds a search with other settings" in capsys.readouterr().err
    # a data set whose validation items are training items too: nothing to choose on
    manifest = json.loads((tiny / "manifest.json").read_text())
    leaky = tmp_path / "leaky"
    shutil.copytree(tiny, leaky)
    manifest["settings"]["validation_in_train"] = True
    (leaky / "manifest.json").write_text(json.dumps(manifest))
    assert main(["--data", str(leaky), "--dir", str(tmp_path / "t"), "--model", "gmf"]) == 2
    assert "keeps its validation items in training" in capsys.readouterr().err


def children(pid: int) -> list[int]:
    pids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def wait_gone(pid: int, seconds: float = 20) -> bool:
    """Whether process ``pid`` has ended (or is a zombie) within ``seconds``."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def test_killed_search_resumes_with_only_the_second_trial(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "search"
    argv = [sys.executable, "-m", "tuning.search", "--data", str(tiny), "--model", "gmf"]
    argv += [*TINY_GRID, "--epochs", "1", "--dir", str(folder)]
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    trial_file = folder / "trial_0" / "trial.json"
    while not (
        trial_file.is_file() and json.loads(trial_file.read_text())["status"] == "COMPLETED"
    ):
        assert first.poll() is None, first.stderr.read().decode()[-3000:]
        assert time.time() < deadline, "the first trial did not finish"
        time.sleep(0.1)
    while not (folder / "results.csv").is_file() or len(read_csv(folder / "results.csv")) < 1:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = read_csv(folder / "results.csv")
    assert [row["trial"] for row in before] == ["0"]
    trial_0 = (folder / "trial_0" / "run" / "metrics.json").read_bytes()

    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    progress = [line for line in again.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 1 and progress[0].startswith("[2/2] trial_1")  # only the second
    after = read_csv(folder / "results.csv")
    assert sorted(row["trial"] for row in after) == ["0", "1"]
    assert [row for row in after if row["trial"] == "0"] == before  # the same row
    assert (folder / "trial_0" / "run" / "metrics.json").read_bytes() == trial_0
    assert (folder / "best_config.json").is_file()
    leftovers = [
        p
        for p in folder.rglob("*")
        if p.name.startswith(".") or "_temp" in p.name or p.suffix in (".tmp", ".partial")
    ]
    assert leftovers == []


def search_process(argv: list[str], **env: str) -> subprocess.Popen:
    """``python -m tuning.search argv`` in a process of its own, its trials run by
    ``tests/fake_trial.py``."""
    code = (
        "import sys, tuning.search, tuning.tuner; tuning.tuner.TRIAL_MODULE = 'tests.fake_trial'; "
        "sys.exit(tuning.search.main(sys.argv[1:]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        env={**os.environ, "PYTHONPATH": str(Path.cwd()), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_search_on_the_same_folder_is_refused(tiny: Path, tmp_path: Path) -> None:
    """Two searches on one --dir: the second stops at once naming the first, which finishes."""
    folder, gate = tmp_path / "search", tmp_path / "gate"
    argv = ["--data", str(tiny), "--model", "gmf", "--batch-size", "64", "128"]
    argv += ["--learning-rate", "0.001", "--embedding-size", "8", "--dir", str(folder)]
    first = search_process(argv, FAKE_TRIAL_GATE=str(gate))
    try:
        deadline = time.time() + 300
        while not (folder / "trial_0" / "run" / "config.json").is_file():  # its first trial
            assert first.poll() is None, first.stderr.read()[-3000:]
            assert time.time() < deadline, "the first search never started a trial"
            time.sleep(0.1)
        second = search_process(argv)
        out, err = second.communicate(timeout=300)
        assert second.returncode == 2, err[-3000:]
        assert "Traceback" not in err
        assert f"is claimed by process {first.pid} on " in err, err
        assert "one search at a time" in err and len(err.strip().splitlines()) == 1
        assert first.poll() is None  # the first goes on
    finally:
        gate.touch()
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert sorted(row["batch_size"] for row in read_csv(folder / "results.csv")) == ["128", "64"]
    assert not (folder / "claim.lock").exists()  # released when the search ends


def test_a_trial_whose_results_are_gone_runs_again(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    argv = ["--data", str(tiny), "--model", "gmf", "--batch-size", "16", "64", "128"]
    argv += ["--learning-rate", "0.001", "--embedding-size", "8", "--dir", str(folder)]
    with trial_module("tests.fake_trial"):  # 16 diverges; 64 scores best
        assert main([*argv, "--quiet"]) == 0
    before = read_csv(folder / "results.csv")
    best = (folder / "best_config.json").read_text()
    by_batch = {row["batch_size"]: row["trial"] for row in before}
    shutil.rmtree(folder / f"trial_{by_batch['64']}" / "run")  # the best's results
    (folder / f"trial_{by_batch['16']}" / "run" / "failure.json").unlink()  # a failure's
    shutil.rmtree(folder / f"trial_{by_batch['128']}")  # a whole trial, keras-tuner's file too
    out = io.StringIO()
    with trial_module("tests.fake_trial"), contextlib.redirect_stdout(out):
        assert main(argv) == 0
    progress = [line for line in out.getvalue().splitlines() if line.startswith("[")]
    assert sorted(line.split()[1] for line in progress) == [
        f"trial_{by_batch[batch]}" for batch in ("16", "64", "128")
    ]  # those three again, and only those
    assert read_csv(folder / "results.csv") == before
    assert (folder / "best_config.json").read_text() == best
    assert (folder / f"trial_{by_batch['64']}" / "hparams").is_dir()
    # no trial with results: no best configuration
    for trial in ("0", "1", "2"):
        shutil.rmtree(folder / f"trial_{trial}" / "run")
    with trial_module("no_such_module"), contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 1  # the first trial to run again crashes
    assert not (folder / "best_config.json").exists()
    assert read_csv(folder / "results.csv") == []


def test_a_full_disk_fails_the_trial_not_the_search(
    tiny: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import coat_tf.runner
    from tuning.process import FAILED_STATUS
    from tuning.trial import run_trial

    def no_space(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "best/weights")

    monkeypatch.setattr(coat_tf.runner, "train_and_evaluate", no_space)
    cfg.save(RunConfig(data_dir=str(tiny)), tmp_path / "config.json")
    assert run_trial(tmp_path) == FAILED_STATUS
    failure = json.loads((tmp_path / "failure.json").read_text())
    assert "No space left on device" in failure["message"]
    assert not (tmp_path / "metrics.json").exists()
    monkeypatch.undo()
    # in the search: 56 and 72 run the real trial on a full disk (72: no failure.json either)
    folder = tmp_path / "s"
    argv = ["--data", str(tiny), "--model", "gmf", "--batch-size", "56", "64", "72"]
    argv += ["--learning-rate", "0.001", "--embedding-size", "8", "--dir", str(folder)]
    with trial_module("tests.fake_trial"):
        assert main([*argv, "--quiet"]) == 0
    rows = {row["batch_size"]: row for row in read_csv(folder / "results.csv")}
    assert [rows[b]["status"] for b in ("56", "64", "72")] == ["FAILED", "COMPLETED", "FAILED"]
    for batch in ("56", "72"):
        assert "No space left on device" in rows[batch]["reason"], rows[batch]
    assert cfg.load(RunConfig, folder / "best_config.json").train.batch_size == 64


def test_a_trial_failed_by_the_search_process_has_its_reason(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    argv = ["--data", str(tiny), "--model", "gmf", "--batch-size", "64", "88"]
    argv += ["--learning-rate", "0.001", "--embedding-size", "8", "--dir", str(folder)]
    with trial_module("tests.fake_trial"):  # 88's metrics.json has no figures
        assert main([*argv, "--quiet"]) == 0
    rows = {row["batch_size"]: row for row in read_csv(folder / "results.csv")}
    assert rows["88"]["status"] == "FAILED" and "KeyError: 'validation'" in rows["88"]["reason"]


def test_a_full_disk_in_the_search_process_stops_it_with_one_line(
    tiny: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import tuning.results

    def no_space(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "results.csv")

    monkeypatch.setattr(tuning.results, "write_tables", no_space)
    argv = ["--data", str(tiny), "--model", "gmf", "--batch-size", "64"]
    argv += ["--learning-rate", "0.001", "--embedding-size", "8", "--dir", str(tmp_path / "s")]
    with trial_module("tests.fake_trial"):
        assert main([*argv, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "No space left on device" in err and "run the same command again" in err
    assert not (tmp_path / "s" / "claim.lock").exists()


def test_a_folder_that_cannot_be_written_is_refused(
    tiny: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import tuning.search

    def denied(folder):  # noqa: ANN001, ANN202
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder / "claim.lock"))

    monkeypatch.setattr(tuning.search, "claim", denied)
    argv = ["--data", str(tiny), "--model", "gmf", "--batch-size", "64", "--quiet"]
    assert main([*argv, "--dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --dir {tmp_path / 's'}: cannot write there")
    assert "Permission denied" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s" / "search.json").exists()


def test_data_with_fewer_candidates_than_the_cut_off_is_refused(tmp_path: Path, capsys) -> None:
    from coat_tf.data import PrepareConfig, prepare
    from tests.tiny_data import write_events

    config = PrepareConfig.for_source(
        "events", since=None, min_user_interactions=5, eval_negatives=5
    )
    data = tmp_path / "prepared"
    prepare("events", write_events(tmp_path / "events.tsv"), data, config, progress=False)
    assert main(["--data", str(data), "--dir", str(tmp_path / "t"), "--model", "gmf"]) == 2
    err = capsys.readouterr().err
    assert "top_k (--top-k) is 10" in err and "6 songs per user" in err
    assert not (tmp_path / "t").exists()
