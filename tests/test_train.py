"""The main job end to end on a tiny data set."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from coat_tf import config as cfg
from coat_tf.callbacks import BestWeights, StopOnInterrupt, StopWithoutImprovement
from coat_tf.claims import claim
from coat_tf.config import RunConfig
from coat_tf.runs import epochs_trained
from coat_tf.train import DEMO_EMBEDDING_SIZE, build_parser, main, resolve_config
from tests.tiny_data import prepare_tiny

FAST = ["--epochs", "2", "--batch-size", "256", "--embedding-size", "8", "--quiet"]
#: For the checks that should stop before training: short if they do not.
ONE_EPOCH = ["--model", "gmf", "--epochs", "1", "--embedding-size", "8", "--quiet"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return prepare_tiny(tmp_path_factory.mktemp("tiny"))


def test_cli_writes_everything_it_promises(tiny: Path, tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "run"
    code = main(
        [
            "--data",
            str(tiny),
            "--run-dir",
            str(run_dir),
            "--export-dir",
            str(tmp_path / "saved"),
            *FAST,
        ]
    )
    assert code == 0
    for name in ("config.json", "metrics.json", "best/weights.index", "best.json"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    for split in ("sampled", "full_catalogue"):
        assert 0 <= metrics["test"][split]["hr"] <= 1
        assert 0 <= metrics["test"][split]["ndcg"] <= metrics["test"][split]["hr"]
        assert metrics["test"][split]["users"] == 80
    assert metrics["validation"]["ndcg"] >= 0
    assert metrics["examples_per_second"] > 0
    assert (tmp_path / "saved" / "coat" / "1").is_dir()
    run = cfg.load(RunConfig, run_dir / "config.json")
    assert run.model.num_users == 80 and run.model.embedding_size == 8
    assert "test (full catalogue)" in capsys.readouterr().out


def test_config_file_then_options(tiny: Path, tmp_path: Path) -> None:
    run = RunConfig(model_name="gmf")
    run.train.learning_rate = 0.005
    run.train.epochs = 1
    cfg.save(run, tmp_path / "in.json")
    code = main(
        [
            "--config",
            str(tmp_path / "in.json"),
            "--data",
            str(tiny),
            "--model",
            "coat-uniform",
            "--run-dir",
            str(tmp_path / "run"),
            "--no-export",
            "--no-full-catalogue",
            "--no-xla",
            "--quiet",
        ]
    )
    assert code == 0
    saved = cfg.load(RunConfig, tmp_path / "run" / "config.json")
    assert saved.model_name == "coat-uniform"
    assert saved.model.attention_mode == "uniform"  # what was trained, recorded
    assert saved.train.learning_rate == 0.005 and saved.train.epochs == 1
    assert (
        "full_catalogue" not in json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    )


def test_demo_runs_default_to_the_demo_embedding_size(tmp_path: Path) -> None:
    parser = build_parser()
    assert resolve_config(parser.parse_args([])).model.embedding_size == DEMO_EMBEDDING_SIZE
    assert resolve_config(parser.parse_args(["--data", "d"])).model.embedding_size == 64
    options = parser.parse_args(["--embedding-size", "8"])
    assert resolve_config(options).model.embedding_size == 8
    cfg.save(RunConfig(), tmp_path / "run.json")
    from_file = parser.parse_args(["--config", str(tmp_path / "run.json")])
    assert resolve_config(from_file).model.embedding_size == 64


def test_the_model_option_decides_the_attention_mode(tmp_path: Path) -> None:
    parser = build_parser()
    cfg.save(RunConfig(model_name="coat-uniform"), tmp_path / "uniform.json")
    for name, mode in cfg.MODEL_ATTENTION_MODES.items():
        options = parser.parse_args(["--config", str(tmp_path / "uniform.json"), "--model", name])
        assert resolve_config(options).model.attention_mode == mode
    options = parser.parse_args(["--config", str(tmp_path / "uniform.json")])
    assert resolve_config(options).model.attention_mode == "uniform"


def test_a_cut_off_beyond_the_candidates_stops_a_run_before_training(tiny: Path, tmp_path) -> None:
    """The experiments and the tuner's trials call the runner directly: it refuses too."""
    from coat_tf.data import PreparedDataset
    from coat_tf.models.registry import content_shapes
    from coat_tf.runner import train_and_evaluate
    from coat_tf.trained import RunError

    data = PreparedDataset.load(tiny)
    model = cfg.ModelConfig(embedding_size=8, **content_shapes(data))
    run = RunConfig(model=model, train=cfg.TrainConfig(top_k=101, epochs=1), model_name="gmf")
    with pytest.raises(RunError, match="top_k .* is 101.*100 songs per user"):
        train_and_evaluate(run, data, tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv", [["--embedding-size", "0"], ["--resume"]])
def test_bad_options_are_clear(argv: list[str], tmp_path: Path, capsys) -> None:
    assert main([*argv, "--data", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err


def test_missing_data_is_clear(tmp_path: Path, capsys) -> None:
    assert main(["--data", str(tmp_path / "nope"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "not a prepared data set" in capsys.readouterr().err


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_resume_continues_a_killed_run(tiny: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    argv = [
        "--data",
        str(tiny),
        "--run-dir",
        str(run_dir),
        "--no-export",
        "--epochs",
        "4",
        "--batch-size",
        "64",
        "--embedding-size",
        "8",
        "--quiet",
        "--patience",
        "10",
        "--no-xla",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    first = subprocess.Popen(
        _python(f"from coat_tf.train import main; main({argv!r})"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while not list((run_dir / "backup").rglob("checkpoint")):
        assert first.poll() is None, first.stderr.read()
        assert time.time() < deadline, "no backup written"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (run_dir / "metrics.json").exists()
    # the run's own config.json supplies the settings: only the folder is needed to resume
    assert main(["--run-dir", str(run_dir), "--resume", "--no-export", "--quiet"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 1 <= metrics["epochs_this_process"] < 4  # only the epochs left were run
    assert metrics["epochs"] > metrics["epochs_this_process"]  # counted from the run's start
    assert json.loads((run_dir / "best.json").read_text())["epoch"] <= 4
    assert 0 <= metrics["test"]["sampled"]["ndcg"] <= metrics["test"]["sampled"]["hr"] <= 1
    leftovers = [p for p in run_dir.rglob("*") if p.name.startswith(".") or "_temp" in p.name]
    assert leftovers == []  # no temporary file or folder is left behind
    assert not (run_dir / "failure.json").exists()


def test_a_run_killed_after_training_is_only_evaluated_on_resume(
    tiny: Path, tmp_path, capsys
) -> None:
    run_dir = tmp_path / "run"
    argv = ["--data", str(tiny), "--run-dir", str(run_dir), "--no-export", *FAST, "--no-xla"]
    assert main(argv) == 0
    first = json.loads((run_dir / "metrics.json").read_text())
    trained = json.loads((run_dir / "trained.json").read_text())
    assert trained["epochs"] == first["epochs"] == 2
    # a kill during the test evaluation: training ended (its backup is gone), no metrics yet
    (run_dir / "metrics.json").unlink()
    assert not list((run_dir / "backup").rglob("*"))
    resume = ["--run-dir", str(run_dir), "--resume", "--no-export", "--quiet"]
    with claim(run_dir):  # as if the killed process were still running: hands off
        assert main(resume) == 2
    assert f"is claimed by process {os.getpid()}" in capsys.readouterr().err
    assert not (run_dir / "metrics.json").exists()
    assert main(resume) == 0
    again = json.loads((run_dir / "metrics.json").read_text())
    assert again["epochs"] == 2 and again["train_seconds"] == first["train_seconds"]
    for split in ("sampled", "full_catalogue"):  # the same best weights, evaluated again
        for name in ("hr", "ndcg"):
            assert again["test"][split][name] == pytest.approx(first["test"][split][name])


def test_two_replicas_with_mirrored_strategy(tiny: Path, tmp_path: Path) -> None:
    argv = ["--data", str(tiny), "--run-dir", str(tmp_path / "run"), "--no-export"]
    code = (
        "import coat_tf, tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "two = [tf.config.LogicalDeviceConfiguration()] * 2\n"
        "tf.config.set_logical_device_configuration(cpu, two)\n"
        "from coat_tf.train import main\n"
        f"raise SystemExit(main({[*argv, '--devices', '2', *FAST]!r}))\n"
    )
    result = subprocess.run(
        _python(code),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["replicas"] == 2
    assert metrics["epochs"] == 2


def test_test_every_epoch_records_figures_that_choose_nothing(tiny: Path, tmp_path: Path) -> None:
    """NCF's epoch rule as a measurement: test figures after every epoch, beside (not instead
    of) the epoch chosen on validation."""
    run_dir = tmp_path / "run"
    argv = ["--data", str(tiny), "--model", "gmf", "--run-dir", str(run_dir), "--no-export"]
    options = ["--epochs", "3", "--patience", "5", "--batch-size", "256", "--quiet"]
    assert main([*argv, *options, "--embedding-size", "8", "--test-every-epoch"]) == 0
    epochs = json.loads((run_dir / "test_each_epoch.json").read_text())
    assert sorted(epochs) == ["1", "2", "3"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    best = metrics["test_every_epoch"]["best_by_test"]
    # NCF's code keeps the first epoch with the highest test HR
    highest = max(e["hr"] for e in epochs.values())
    assert best["epoch"] == min(int(n) for n, e in epochs.items() if e["hr"] == highest)
    assert best == {"epoch": best["epoch"], **epochs[str(best["epoch"])]}
    # the reported test figures are those of the epoch chosen on validation
    chosen = epochs[str(metrics["best_epoch"])]
    assert metrics["test"]["sampled"]["ndcg"] == pytest.approx(chosen["ndcg"], abs=1e-6)
    assert not any(
        key.startswith("test") for key in json.loads((run_dir / "best.json").read_text())
    )


def test_a_pretrained_start_is_validated_and_kept_if_no_epoch_beats_it(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    """NeuMF from a GMF and an MLP is a model before its first step: it is validated as epoch
    0, and chosen when training does not beat it (NCF's code counts it too). Adam at 1e-30
    leaves the float32 weights as they are, so every epoch ties with the start and the tie
    keeps the start; the early stopping takes the start as the bar to beat."""
    data = ["--data", str(tiny), "--no-export", "--batch-size", "256", "--quiet"]
    parts = {}
    for model in ("gmf", "mlp"):
        parts[model] = tmp_path / model
        argv = [*data, "--model", model, "--run-dir", str(parts[model])]
        assert main([*argv, "--epochs", "1", "--embedding-size", "8"]) == 0
    run_dir = tmp_path / "neumf"
    argv = [*data, "--model", "neumf", "--run-dir", str(run_dir), "--embedding-size", "8"]
    pretrained = ["--pretrain-gmf", str(parts["gmf"]), "--pretrain-mlp", str(parts["mlp"])]
    options = ["--learning-rate", "1e-30", "--epochs", "6", "--patience", "2"]
    assert main([*argv, *pretrained, *options, "--test-every-epoch"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["best_epoch"] == 0
    assert "(best 0: the pre-trained start)" in capsys.readouterr().out
    assert json.loads((run_dir / "best.json").read_text())["epoch"] == 0
    assert metrics["epochs"] == 2  # two epochs without beating the start (patience 2)
    epochs = json.loads((run_dir / "test_each_epoch.json").read_text())
    assert sorted(epochs) == ["0", "1", "2"]
    assert metrics["test"]["sampled"]["ndcg"] == pytest.approx(epochs["0"]["ndcg"], abs=1e-6)
    assert epochs["1"] == epochs["0"]  # the weights did not move


@pytest.mark.parametrize(
    ("best_epoch", "patience", "last_epoch"),
    [(0, 2, 2), (5, 3, 8), (3, 0, 4), (3, 1, 4)],
)
def test_early_stopping_counts_from_the_best_epoch_on_disk(
    tmp_path: Path, best_epoch: int, patience: int, last_epoch: int
) -> None:
    """The best epoch read back from ``best.json`` (a pre-trained start, 0, or a resumed run's
    best) is where the patience counts from; training stops after ``last_epoch``."""
    (tmp_path / "best.json").write_text(json.dumps({"epoch": best_epoch, "val_ndcg": 0.5}))
    stopper = StopWithoutImprovement(BestWeights(tmp_path), patience)
    model = types.SimpleNamespace(stop_training=False)
    stopper.set_model(model)
    for epoch in range(best_epoch + 1, last_epoch + 1):  # counted from 1; Keras passes epoch - 1
        assert not model.stop_training, epoch
        stopper.on_epoch_end(epoch - 1)
    assert model.stop_training


def test_test_every_epoch_is_refused_for_wmf(tiny: Path, tmp_path: Path, capsys) -> None:
    argv = ["--data", str(tiny), "--model", "wmf", "--run-dir", str(tmp_path / "r"), "--quiet"]
    assert main([*argv, "--test-every-epoch", "--no-export"]) != 0
    assert "WMF has no epochs" in capsys.readouterr().err


@pytest.mark.parametrize("steps_per_execution", [1, 7])
def test_an_epoch_is_one_pass_of_the_input(
    tiny: Path, tmp_path: Path, steps_per_execution: int, monkeypatch
) -> None:
    """Several steps per execution (7 does not divide the epoch) run the same number of
    optimizer steps as one: an epoch is exactly one pass of positives and their negatives."""
    from coat_tf import runner
    from coat_tf.data import PreparedDataset
    from coat_tf.models.registry import content_shapes

    steps_seen: list[int] = []

    class CountingSteps(runner.StopOnNonFiniteLoss):  # the optimizer's steps after each epoch
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            steps_seen.append(int(self.model.optimizer.iterations))
            super().on_epoch_end(epoch, logs)

    monkeypatch.setattr(runner, "StopOnNonFiniteLoss", CountingSteps)
    data = PreparedDataset.load(tiny)
    argv = ["--data", str(tiny), "--model", "gmf", *FAST, "--patience", "5"]
    run = resolve_config(
        build_parser().parse_args([*argv, "--steps-per-execution", str(steps_per_execution)])
    )
    run = dataclasses.replace(run, model=dataclasses.replace(run.model, **content_shapes(data)))
    assert run.train.steps_per_execution == steps_per_execution
    runner.train_and_evaluate(
        run, data, tmp_path / "run", full_catalogue=False, verbose=False, inspect=False
    )
    per_epoch = -(-len(data.train) * (1 + run.train.negatives) // run.train.batch_size)
    assert per_epoch % 7 != 0
    # (the model's own count afterwards is that of the best epoch's weights, loaded at the end)
    assert steps_seen == [per_epoch, 2 * per_epoch]


@pytest.mark.parametrize("model", ["popularity", "itemknn"])
def test_fitted_baselines_train_evaluate_export_and_resume(
    model: str, tiny: Path, tmp_path: Path, capsys
) -> None:
    from coat_tf.recommend import main as recommend
    from coat_tf.trained import load_recommender

    run_dir, saved = tmp_path / "run", tmp_path / "saved"
    argv = ["--data", str(tiny), "--model", model, "--run-dir", str(run_dir), "--quiet"]
    assert main([*argv, "--export-dir", str(saved), "--itemknn-neighbours", "20"]) == 0
    assert "fitted in one pass" in capsys.readouterr().out
    for name in ("config.json", "metrics.json", "best.json", "best/state.npz"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["model"] == model and metrics["epochs"] == 0 == metrics["best_epoch"]
    for split in ("sampled", "full_catalogue"):
        assert metrics["test"][split]["users"] == 80
        assert 0 < metrics["test"][split]["ndcg"] <= metrics["test"][split]["hr"] <= 1
    run = cfg.load(RunConfig, run_dir / "config.json")
    assert run.model.itemknn.neighbours == 20
    # the state is read back, and the export answers queries
    _, again = load_recommender(run_dir)
    assert again.name == model and again.num_songs == run.model.num_songs
    user = (tiny / "users.tsv").read_text().splitlines()[1].split("\t")[-1]
    assert recommend(["--model", str(saved / model), "--user", user, "--k", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["recommendations"]) == 3
    # killed before metrics.json: only --resume continues, and it does not fit again
    state = (run_dir / "best" / "state.npz").stat().st_mtime_ns
    (run_dir / "metrics.json").unlink()
    assert main([*argv, "--no-export"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["--run-dir", str(run_dir), "--resume", "--no-export", "--quiet"]) == 0
    assert (run_dir / "best" / "state.npz").stat().st_mtime_ns == state
    resumed = json.loads((run_dir / "metrics.json").read_text())
    for split in ("sampled", "full_catalogue"):  # the same state, evaluated again
        for name in ("hr", "ndcg"):
            assert resumed["test"][split][name] == pytest.approx(metrics["test"][split][name])
    assert resumed["train_seconds"] == metrics["train_seconds"]


def test_test_every_epoch_is_refused_for_the_fitted_baselines(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    argv = ["--data", str(tiny), "--model", "popularity", "--run-dir", str(tmp_path / "r")]
    assert main([*argv, "--quiet", "--test-every-epoch", "--no-export"]) == 2
    assert "popularity has no epochs" in capsys.readouterr().err


def test_a_damaged_fitted_state_is_named_when_read_back(tmp_path: Path) -> None:
    from coat_tf.trained import RunError, load_recommender

    cfg.save(RunConfig(model_name="popularity"), tmp_path / "config.json")
    with pytest.raises(RunError, match="no fitted state.*state.npz.*did the run finish"):
        load_recommender(tmp_path)
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "state.npz").write_bytes(b"\x00")
    with pytest.raises(RunError, match="state.npz: not a readable PopularityRecommender state"):
        load_recommender(tmp_path)


def test_ctrl_c_keeps_the_run_resumable_and_resume_counts_its_epochs(
    tiny: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Ctrl-C after epoch 2: one line, status 130, the backup kept. A resume then never
    counts 0 epochs: past its --epochs it is refused, at them it is evaluated, and a run whose
    training ended is evaluated whatever --epochs says, its config.json left as trained."""
    import tensorflow as tf

    class CtrlC(tf.keras.callbacks.TensorBoard):  # the last callback: after the backup
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            super().on_epoch_end(epoch, logs)
            if epoch == 1:
                raise KeyboardInterrupt

    monkeypatch.setattr(tf.keras.callbacks, "TensorBoard", CtrlC)
    run_dir = tmp_path / "run"
    argv = ["--data", str(tiny), "--model", "gmf", "--run-dir", str(run_dir), "--no-export"]
    options = ["--embedding-size", "8", "--patience", "10", "--no-full-catalogue", "--quiet"]
    assert main([*argv, *options, "--epochs", "4"]) == 130
    assert capsys.readouterr().err == f"interrupted: resume with --resume --run-dir {run_dir}\n"
    assert epochs_trained(run_dir) == (2, False)  # the backup of epoch 2 is kept
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "claim.lock").exists()
    monkeypatch.undo()

    resume = ["--run-dir", str(run_dir), "--resume", "--no-export", "--no-full-catalogue"]
    assert main([*resume, "--quiet", "--epochs", "1"]) == 2
    assert "has already trained 2 epochs, more than the 1 asked" in capsys.readouterr().err
    assert cfg.load(RunConfig, run_dir / "config.json").train.epochs == 4  # untouched
    assert main([*resume, "--quiet", "--epochs", "2"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (metrics["epochs"], metrics["epochs_this_process"]) == (2, 0)
    assert epochs_trained(run_dir) == (2, True)

    (run_dir / "metrics.json").unlink()  # killed during the evaluation
    assert main([*resume, "--quiet", "--epochs", "1"]) == 0
    assert "ended after 2 epochs; --epochs 1 is ignored" in capsys.readouterr().err
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 2
    assert cfg.load(RunConfig, run_dir / "config.json").train.epochs == 2


def test_a_run_folder_in_use_names_its_process(tiny: Path, tmp_path: Path, capsys) -> None:
    """A live process trains in the folder: a plain run says so (not "killed?"), naming it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")
    (run_dir / "best.json").write_text('{"epoch": 3, "val_ndcg": 0.2}')  # as mid-training
    argv = ["--data", str(tiny), "--run-dir", str(run_dir), "--no-export", *ONE_EPOCH]
    with claim(run_dir):
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"is claimed by process {os.getpid()} on " in err and "live process" in err
    assert "killed" not in err and "--resume" not in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("where", ["run-dir", "export-dir"])
def test_a_folder_that_cannot_be_written_is_refused_before_any_work(
    tiny: Path, tmp_path: Path, capsys, monkeypatch, where: str
) -> None:
    """Permission denied or a read-only file system (the tests run as root, so the check is
    told so): one line naming the folder, status 2, nothing written."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != blocked and real_access(path, mode)
    )
    run_dir = blocked / "run" if where == "run-dir" else tmp_path / "run"
    argv = ["--data", str(tiny), "--run-dir", str(run_dir), *ONE_EPOCH]
    assert main([*argv, "--export-dir", str(blocked / "saved")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --{where} ") and f"cannot write in {blocked}" in err
    assert len(err.splitlines()) == 1
    assert not run_dir.exists() and list(blocked.iterdir()) == []


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("coat_tf.train.claim", PermissionError(errno.EACCES, "Permission denied")),
        ("coat_tf.config.atomic_write_text", OSError(errno.EROFS, "Read-only file system")),
    ],
)
def test_a_write_refused_in_the_run_folder_names_the_path(
    tiny: Path, tmp_path: Path, capsys, monkeypatch, target: str, error: OSError
) -> None:
    """The system refuses the claim or config.json after the checks: still one line."""
    run_dir = tmp_path / "run"
    path = run_dir / ("claim.lock" if "claim" in target else "config.json")

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise type(error)(error.errno, error.strerror, str(path))

    monkeypatch.setattr(target, refuse)
    argv = ["--data", str(tiny), "--run-dir", str(run_dir), "--no-export", *ONE_EPOCH]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"error: --run-dir {run_dir}: {path}: {error.strerror}\n"
    assert not (run_dir / "config.json").exists()


def test_a_run_folder_that_refuses_writes_mid_run_fails_without_a_traceback(
    tiny: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """The folder turns read-only during training: the failure report cannot be written
    either, and the run still ends with status 1 and its reasons, not a traceback."""
    from coat_tf import runner

    run_dir = tmp_path / "run"

    def refused(name: str):  # noqa: ANN202
        def write(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            raise OSError(errno.EROFS, "Read-only file system", str(run_dir / name))

        return write

    monkeypatch.setattr(runner, "train_and_evaluate", refused("backup"))
    monkeypatch.setattr("coat_tf.train.write_failure_report", refused("failure.json"))
    argv = ["--data", str(tiny), "--run-dir", str(run_dir), "--no-export", *ONE_EPOCH]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"Read-only file system: '{run_dir / 'backup'}'" in err
    assert f"could not be written ({run_dir / 'failure.json'}: Read-only file system)" in err


def test_epochs_trained_reads_a_wmf_run_and_a_finished_training(tmp_path: Path) -> None:
    """How far a run got, for the models without a Keras backup too."""
    import numpy as np

    assert epochs_trained(tmp_path) == (0, False)
    np.savez(tmp_path / "wmf_state.npz", users=np.zeros(1), songs=np.zeros(1), iterations=5)
    assert epochs_trained(tmp_path) == (5, False)
    (tmp_path / "trained.json").write_text('{"epochs": 7}')
    assert epochs_trained(tmp_path) == (7, True)


def test_a_real_ctrl_c_exits_130_with_one_line(tiny: Path, tmp_path: Path) -> None:
    """SIGINT, as a terminal's Ctrl-C sends it, to a training process after its first backup."""
    run_dir = tmp_path / "run"
    argv = ["--data", str(tiny), "--run-dir", str(run_dir), "--no-export", "--model", "gmf"]
    # enough epochs that a loaded machine cannot finish them between the backup and the signal
    argv += ["--embedding-size", "8", "--epochs", "2000", "--patience", "2000", "--quiet"]
    argv += ["--batch-size", "64", "--no-xla"]
    process = subprocess.Popen(
        _python(f"import sys; from coat_tf.train import main; sys.exit(main({argv!r}))"),
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while not list((run_dir / "backup").rglob("checkpoint")):
        assert process.poll() is None, process.stderr.read()
        assert time.time() < deadline, "no backup written"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    *before, last = err.splitlines()
    assert last == f"interrupted: resume with --resume --run-dir {run_dir}", err
    # a signal that lands in a finaliser is reported by Python itself ("Exception ignored
    # in ...", its traceback, "KeyboardInterrupt: ") and then stops training at the epoch's
    # end; nothing else
    assert not before or (
        before[0].startswith("Exception ignored") and before[-1].startswith("KeyboardInterrupt")
    ), err
    assert epochs_trained(run_dir)[0] >= 1 and not (run_dir / "metrics.json").exists()


def test_a_ctrl_c_that_python_swallows_still_stops_training_at_the_epoch_end() -> None:
    """A SIGINT whose KeyboardInterrupt is lost (as in a finaliser) stops ``fit`` anyway."""
    import numpy as np
    import tensorflow as tf

    class SwallowedSignal(tf.keras.callbacks.Callback):  # a finaliser eating the interrupt
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch == 1:
                with contextlib.suppress(KeyboardInterrupt):
                    signal.raise_signal(signal.SIGINT)

    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    before = signal.getsignal(signal.SIGINT)
    interrupt = StopOnInterrupt()
    epochs_seen: list[int] = []
    counter = tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda e, _: epochs_seen.append(e))
    x = np.zeros((4, 2), np.float32)
    callbacks = [SwallowedSignal(), interrupt, counter]
    try:
        with pytest.raises(KeyboardInterrupt):  # not all 50 epochs
            model.fit(x, x[:, :1], epochs=50, verbose=0, callbacks=callbacks)
    finally:
        interrupt.restore()
    # the swallowed interrupt stopped training at the end of the epoch it fell in
    assert epochs_seen == [0]
    assert signal.getsignal(signal.SIGINT) is before
