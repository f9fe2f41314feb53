"""A prepared data set held by the runs that read it: ``prepare --overwrite`` refuses to
replace it under them, and ``train --resume`` refuses to go on with other data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from coat_tf import config as cfg
from coat_tf.claims import DATA_LOCK, DataInUse, hold_data, replace_data
from coat_tf.config import RunConfig
from coat_tf.data.__main__ import main as data_main
from coat_tf.data.manifest import content_hash, data_files, read_manifest, verify_files
from tests.tiny_data import write_events

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no flock without fcntl")


def _prepare_argv(events: Path, out: Path, *options: str) -> list[str]:
    return ["prepare", "--source", "events", "--input", str(events), "--out", str(out)] + [
        "--since",
        "none",
        "--min-user-interactions",
        "5",
        "--eval-negatives",
        "20",
        "--shards",
        "1",
        "--quiet",
        *options,
    ]


@pytest.fixture
def data(tmp_path: Path, capsys) -> Path:
    """A small prepared data set (events of 30 listeners)."""
    events = write_events(tmp_path / "events.tsv", users=30, songs=120, per_user=12)
    assert data_main(_prepare_argv(events, tmp_path / "data")) == 0
    capsys.readouterr()
    return tmp_path / "data"


def _holder(data: Path) -> subprocess.Popen:
    """Another process that holds ``data`` as a run does, until killed."""
    script = textwrap.dedent(
        f"""
        import time
        from coat_tf.claims import hold_data
        with hold_data({str(data)!r}):
            print("held", flush=True)
            time.sleep(120)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_the_lock_file_is_not_part_of_the_data_set(data: Path) -> None:
    before = (content_hash(data), data_files(data))
    with hold_data(data):
        assert (data / DATA_LOCK).is_file()
        assert (content_hash(data), data_files(data)) == before
        verify_files(data, read_manifest(data))
    assert (content_hash(data), data_files(data)) == before


def test_overwrite_is_refused_while_another_process_reads_the_data(
    data: Path, tmp_path: Path, capsys
) -> None:
    manifest = (data / "manifest.json").read_text()
    argv = _prepare_argv(tmp_path / "events.tsv", data, "--overwrite", "--seed", "7")
    holder = _holder(data)
    try:
        with hold_data(data):  # several runs read one data set at once
            pass
        assert data_main(argv) == 2
        err = capsys.readouterr().err
        assert f"error: {data}: is read by process {holder.pid} on " in err
        assert "a training run holds it" in err and "Traceback" not in err
        assert (data / "manifest.json").read_text() == manifest  # untouched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert data_main(argv) == 0  # its lock went with it
    assert (data / "manifest.json").read_text() != manifest


def test_a_run_cannot_start_on_data_being_rebuilt(data: Path) -> None:
    being_rebuilt = rf"{data}: is being rebuilt by process {os.getpid()}"
    with replace_data(data), pytest.raises(DataInUse, match=being_rebuilt), hold_data(data):
        pytest.fail("held a data set that is being replaced")
    read = f"is read by process {os.getpid()}"
    with hold_data(data), hold_data(data), pytest.raises(DataInUse, match=read), replace_data(data):
        pytest.fail("replaced a data set that is read")


def test_train_does_not_start_on_data_being_rebuilt(data: Path, tmp_path: Path, capsys) -> None:
    from coat_tf.train import main as train_main

    argv = ["--data", str(data), "--run-dir", str(tmp_path / "run"), "--quiet", "--no-export"]
    with replace_data(data):
        assert train_main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: {data}: is being rebuilt by process {os.getpid()} on " in err
    assert "(prepare --overwrite)" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "config.json").exists()


def test_experiments_and_searches_do_not_start_on_data_being_rebuilt(
    data: Path, tmp_path: Path, capsys
) -> None:
    from coat_tf.experiments.__main__ import main as experiments_main
    from tuning.search import main as search_main

    grid = ["--models", "gmf", "--seeds", "0", "--factors", "8", "--epochs", "1"]
    experiment = ["ncf", "--data", str(data), "--out", str(tmp_path / "out"), *grid]
    search = ["--model", "gmf", "--data", str(data), "--dir", str(tmp_path / "search")]
    with replace_data(data):
        assert experiments_main(experiment) == 2
        assert search_main([*search, "--learning-rate", "0.001", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count(f"error: {data}: is being rebuilt by process {os.getpid()} on ") == 2
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "runs").exists() and not (tmp_path / "search").exists()


def test_an_experiment_holds_its_data_set_while_it_trains(
    data: Path, tmp_path: Path, monkeypatch
) -> None:
    """``prepare --overwrite`` is refused in the middle of an experiment's grid."""
    import coat_tf.runner
    from coat_tf.experiments.__main__ import main as experiments_main
    from tests.test_experiments import _fake_metrics

    refused: list[str] = []

    def train(config, prepared, folder, **_):  # noqa: ANN001, ANN202
        with pytest.raises(DataInUse) as busy, replace_data(data):
            pass
        refused.append(str(busy.value))
        metrics = _fake_metrics(folder)
        metrics.update(data=str(prepared.path), data_hash=prepared.manifest.get("content_hash"))
        return metrics, None

    monkeypatch.setattr(coat_tf.runner, "train_and_evaluate", train)
    argv = ["ncf", "--data", str(data), "--out", str(tmp_path / "out"), "--models", "gmf"]
    grid = ["--seeds", "0", "1", "--factors", "8", "--epochs", "1", "--no-full-catalogue"]
    assert experiments_main([*argv, *grid]) == 0
    assert len(refused) == 2 and all("is read by process" in text for text in refused)
    with replace_data(data):  # released when the experiment ends
        pass


def test_resume_refuses_a_rebuilt_data_set(data: Path, tmp_path: Path, capsys) -> None:
    from coat_tf.train import main as train_main

    old = read_manifest(data)["content_hash"]
    argv = _prepare_argv(tmp_path / "events.tsv", data, "--overwrite", "--seed", "7")
    assert data_main(argv) == 0
    new = read_manifest(data)["content_hash"]
    assert new != old
    run = tmp_path / "run"
    run.mkdir()
    cfg.save(RunConfig(model_name="gmf", data_dir=str(data), data_hash=old), run / "config.json")
    (run / "best.json").write_text('{"epoch": 1, "val_ndcg": 0.1}')  # a killed run
    capsys.readouterr()
    argv = ["--resume", "--run-dir", str(run), "--quiet", "--export-dir", str(tmp_path / "saved")]
    assert train_main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"was trained on data with content hash {old}, but {data} now holds content " in err
    assert f"hash {new}" in err and "Traceback" not in err
    assert not (run / "metrics.json").exists()


@pytest.mark.slow
def test_a_run_records_the_data_sets_hash(data: Path, tmp_path: Path) -> None:
    from coat_tf.train import main as train_main

    run = tmp_path / "run"
    argv = ["--data", str(data), "--run-dir", str(run), "--model", "gmf", "--epochs", "1"]
    argv += ["--embedding-size", "8", "--no-export", "--no-full-catalogue", "--quiet"]
    argv += ["--no-xla"]
    assert train_main(argv) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["data_hash"] == read_manifest(data)["content_hash"]
    assert not (data / DATA_LOCK).read_text()  # the last reader clears the holders' names
