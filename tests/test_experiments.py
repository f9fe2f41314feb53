"""``python -m coat_tf.experiments``: smoke runs of every experiment, resuming, settings."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from coat_tf.data.manifest import update_checksums
from coat_tf.experiments.__main__ import main
from coat_tf.experiments.plan import plan, read_overrides, run_dir
from coat_tf.experiments.report import markdown, summarise
from coat_tf.runs import ncf_epoch_rule
from tests.tiny_data import prepare_tiny

SMOKE = ["--seeds", "0", "--factors", "8", "--epochs", "1", "--no-full-catalogue"]
SHAPES = {"num_users": 5, "num_songs": 50, "num_chords": 25, "sequence_length": 100}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The tiny data set with chords, and random MFCC excerpts for the audio baselines."""
    folder = prepare_tiny(tmp_path_factory.mktemp("experiments"))
    songs = len(np.load(folder / "chords.npy"))
    mfcc = np.random.default_rng(0).normal(size=(songs, 20, 64)).astype(np.float32)
    np.save(folder / "mfcc.npy", mfcc)
    update_checksums(folder)
    return folder


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["table1", "fig2", "ncf"])
def test_smoke_run_writes_the_table_the_plot_and_every_run(tiny, tmp_path, experiment) -> None:
    out = tmp_path / experiment
    config = tmp_path / "config.json"
    # the audio models read 64 frames in steps of 8 here; no XLA compilation for one epoch
    defaults = {"model": {"mfcc_pool": 8}, "train": {"jit_compile": False}}
    config.write_text(json.dumps({"defaults": defaults}))
    code = main(
        [experiment, "--data", str(tiny), "--out", str(out), "--config", str(config), *SMOKE]
    )
    assert code == 0
    rows = _rows(out / "results.csv")
    expected = {
        "table1": {"coat", "coat-ones", "coat-uniform"},
        "fig2": {"coat", "wmf", "neumf", "neumf-cnn", "neumf-lstm"},
        "ncf": {"gmf", "mlp", "neumf", "neumf-pre", "wmf"},
    }[experiment]
    assert {r["model"] for r in rows} == expected
    for row in rows:
        assert 0 <= float(row["sampled_ndcg"]) <= float(row["sampled_hr"]) <= 1
        assert (Path(row["run_dir"]) / "metrics.json").is_file()
        assert (Path(row["run_dir"]) / "config.json").is_file()
    text = (out / f"{experiment}.md").read_text()
    assert "## NDCG@10, 99 sampled negatives" in text and "| F = 8 |" in text
    assert (out / f"{experiment}.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_a_second_call_runs_only_what_is_missing(tiny, tmp_path, capsys) -> None:
    out = tmp_path / "again"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"defaults": {"train": {"jit_compile": False}}}))
    args = ["ncf", "--data", str(tiny), "--out", str(out), "--models", "gmf", "wmf", *SMOKE]
    args += ["--config", str(config)]
    assert main(args) == 0
    first = {r["model"]: r for r in _rows(out / "results.csv")}
    # lose one finished run's metrics, as if it had been killed before writing them
    (run_dir(out, "wmf", 8, 0) / "metrics.json").unlink()
    capsys.readouterr()
    assert main(args) == 0
    assert "2 runs, 1 finished before, 1 to run" in capsys.readouterr().err
    second = {r["model"]: r for r in _rows(out / "results.csv")}
    assert second["gmf"] == first["gmf"]
    assert second["wmf"]["val_ndcg"] == first["wmf"]["val_ndcg"]


def test_results_list_the_runs_of_every_experiment_in_the_folder(tmp_path) -> None:
    from coat_tf.experiments.execute import other_rows

    metrics = {
        "test": {"sampled": {"hr": 0.5, "ndcg": 0.25}},
        "validation": {"hr": 0.4, "ndcg": 0.2},
        "best_epoch": 3,
        "epochs": 6,
        "train_seconds": 12.0,
        "hyperparameters_from": "tuned",
    }
    for model in ("coat", "wmf"):
        folder = run_dir(tmp_path, model, 16, 2)
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "runs" / "coat" / "notes").mkdir()
    known = [{"run_dir": str(run_dir(tmp_path, "coat", 16, 2))}]
    rows = other_rows(tmp_path, known)
    assert [(r["model"], r["factors"], r["seed"], r["source"]) for r in rows] == [
        ("wmf", 16, 2, "tuned")
    ]
    assert rows[0]["sampled_ndcg"] == 0.25 and np.isnan(rows[0]["full_ndcg"])


def _fake_metrics(run_dir: Path) -> dict:
    ndcg = 0.1 * (1 + sum(map(ord, str(run_dir))) % 5)  # differs between runs
    return {
        "data": "/nowhere/ml1m",
        "test": {"sampled": {"hr": 2 * ndcg, "ndcg": ndcg}},
        "validation": {"hr": 0.4, "ndcg": 0.2},
        "best_epoch": 1,
        "epochs": 1,
        "train_seconds": 1.0,
    }


def test_processes_sharing_a_folder_split_the_runs_and_report_them_all(
    tmp_path, monkeypatch, capsys
) -> None:
    """Two processes running one plan on one folder: each trains what the other does not
    hold, and ``--report-only`` draws the whole grid. The other process is a claim held
    here, the training a stand-in that records which runs it trained."""
    import coat_tf.runner
    from coat_tf.claims import claim
    from coat_tf.experiments.execute import execute

    trained = []

    def train(config, data, folder, **_) -> tuple[dict, None]:
        assert (folder / "claim.lock").is_file()  # trained under this process's claim
        trained.append(folder)
        return _fake_metrics(folder), None

    monkeypatch.setattr(coat_tf.runner, "train_and_evaluate", train)
    out = tmp_path / "out"
    runs = plan("fig2", ["gmf", "neumf"], [8], [0, 1], out, SHAPES, "/d", read_overrides(None))
    elsewhere = runs[1]  # gmf F=8 seed 0 ran first; this one another process holds
    with claim(elsewhere.run_dir):
        rows = execute(runs, None, out)
        assert [r["run_dir"] for r in rows] == [str(r.run_dir) for r in runs if r != elsewhere]
        assert trained == [r.run_dir for r in runs if r != elsewhere]
        err = capsys.readouterr().err
        assert f"[2/4] neumf F=8 seed 0: left to another process ({elsewhere.run_dir}" in err
        assert "1 runs of the plan are not finished" in err
        # the other process finishes its run while this one is still going
        metrics = {**_fake_metrics(Path("x")), "hyperparameters_from": "defaults"}
        (elsewhere.run_dir / "metrics.json").write_text(json.dumps(metrics))
    assert not (elsewhere.run_dir / "claim.lock").exists()
    trained.clear()
    rows = execute(runs, None, out)  # a later call: nothing left to train, every row
    assert trained == [] and [r["run_dir"] for r in rows] == [str(r.run_dir) for r in runs]
    assert len(_rows(out / "results.csv")) == 4

    # a second command on the folder, another model; one report over both
    more = plan("fig2", ["wmf"], [8], [0], out, SHAPES, "/d", read_overrides(None))
    execute(more, None, out)
    capsys.readouterr()
    args = ["fig2", "--out", str(out), "--report-only", "--factors", "8", "--seeds", "0", "1"]
    assert main([*args, "--models", "gmf", "neumf", "wmf", "mlp"]) == 0
    assert "5 of the grid's 8 runs are finished" in capsys.readouterr().out
    text = (out / "fig2.md").read_text()
    assert text.startswith("# COAT against the baselines over predictive factors (Fig. 2) — ml1m")
    assert "- neumf: defaults\n" in text
    for model, seeds in (("gmf", 2), ("neumf", 2)):
        assert f"| {model} |" in text and f"({seeds} seed" not in text
    assert "| wmf | " in text and "| mlp |" not in text
    assert (out / "fig2.png").read_bytes().startswith(b"\x89PNG")
    assert main(["fig2", "--out", str(tmp_path / "empty"), "--report-only"]) == 2
    assert "no run of the grid is finished" in capsys.readouterr().err
    assert main([*args, "--models", "bpr"]) == 2


def test_plan_orders_runs_and_resolves_settings(tmp_path) -> None:
    overrides = {
        "defaults": {"train": {"batch_size": 128}},
        "models": {"neumf": {"train": {"learning_rate": 0.005}}},
    }
    runs = plan(
        "ncf", ["gmf", "mlp", "neumf-pre"], [8, 16], [0, 1], tmp_path, SHAPES, "/d", overrides
    )
    assert len(runs) == 12
    assert [(r.seed, r.factors, r.model) for r in runs[:3]] == [
        (0, 8, "gmf"),
        (0, 8, "mlp"),
        (0, 8, "neumf-pre"),
    ]
    pre = runs[2]
    assert pre.config.model_name == "neumf" and pre.source == "config file"
    assert pre.config.train.learning_rate == 0.005 and pre.config.train.batch_size == 128
    assert pre.config.train.pretrain_gmf == str(run_dir(tmp_path, "gmf", 8, 0))
    assert pre.config.model.embedding_size == 8 and pre.config.model.num_songs == 50
    assert runs[0].source == "defaults" and runs[0].config.train.batch_size == 128
    with pytest.raises(ValueError, match="list gmf, mlp before neumf-pre"):
        plan("ncf", ["neumf-pre", "gmf", "mlp"], [8], [0], tmp_path, SHAPES, "/d", overrides)
    with pytest.raises(ValueError, match="unknown model"):
        plan("ncf", ["bpr"], [8], [0], tmp_path, SHAPES, "/d", overrides)


def test_pretrained_neumf_can_start_from_another_folders_finished_parts(tmp_path) -> None:
    """``--pretrained-from``: a variant of ``neumf-pre``'s settings in its own folder reuses
    finished GMF and MLP runs; missing or unfinished ones are named before anything runs."""
    parts, out = tmp_path / "ncf", tmp_path / "variant"
    overrides = {"defaults": {}, "models": {"neumf-pre": {"train": {"optimizer": "sgd"}}}}

    def planned():  # noqa: ANN202
        return plan(
            "ncf", ["neumf-pre"], [8], [0, 1], out, SHAPES, "/d", overrides, None, None, parts
        )

    with pytest.raises(ValueError, match="not finished: .*gmf/f8/seed0.*mlp/f8/seed0"):
        planned()
    for model in ("gmf", "mlp"):
        for seed in (0, 1):
            run_dir(parts, model, 8, seed).mkdir(parents=True)
            if seed == 0 or model == "gmf":
                (run_dir(parts, model, 8, seed) / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match=r"not finished: \S*mlp/f8/seed1$"):
        planned()
    (run_dir(parts, "mlp", 8, 1) / "metrics.json").write_text("{}")
    runs = planned()
    assert [(r.model, r.seed, r.run_dir) for r in runs] == [
        ("neumf-pre", 0, run_dir(out, "neumf-pre", 8, 0)),
        ("neumf-pre", 1, run_dir(out, "neumf-pre", 8, 1)),
    ]
    assert runs[1].config.train.pretrain_gmf == str(run_dir(parts, "gmf", 8, 1))
    assert runs[1].config.train.pretrain_mlp == str(run_dir(parts, "mlp", 8, 1))
    assert runs[1].config.train.optimizer == "sgd"
    # without it the parts must be this experiment's, listed first
    with pytest.raises(ValueError, match="list gmf, mlp before neumf-pre"):
        plan("ncf", ["neumf-pre"], [8], [0], out, SHAPES, "/d", overrides)


def test_tuned_configurations_fill_in_hyperparameters(tmp_path) -> None:
    tuned = tmp_path / "tuning"
    (tuned / "coat").mkdir(parents=True)
    best = {
        "model": {"embedding_size": 32, "num_users": 999, "l2": 1e-4},
        "train": {"batch_size": 512, "learning_rate": 0.0005, "seed": 7},
        "model_name": "coat",
        "data_dir": "/elsewhere",
    }
    (tuned / "coat" / "best_config.json").write_text(json.dumps(best))
    runs = plan(
        "table1",
        ["coat", "coat-ones"],
        [8],
        [3],
        tmp_path,
        SHAPES,
        "/d",
        read_overrides(None),
        tuned,
    )
    coat, ones = runs
    assert coat.source == "tuned" and ones.source == "defaults"
    assert (coat.config.train.batch_size, coat.config.train.learning_rate) == (512, 0.0005)
    assert coat.config.model.l2 == 1e-4
    # the experiment's axes and the data set's sizes win over the tuned file
    assert coat.config.model.embedding_size == 8 and coat.config.train.seed == 3
    assert coat.config.model.num_users == 5 and coat.config.data_dir == "/d"


def test_report_marks_the_best_mean_and_counts_seeds() -> None:
    rows = []
    for seed, (a, b) in enumerate([(0.30, 0.20), (0.32, 0.26)]):
        for model, value in (("coat", a), ("gmf", b)):
            rows.append(
                {
                    "model": model,
                    "factors": 8,
                    "seed": seed,
                    "source": "defaults",
                    **{k: value for k in ("sampled_hr", "sampled_ndcg", "full_hr", "full_ndcg")},
                }
            )
    mean, spread, count = summarise(rows, "full_ndcg")[("coat", 8)]
    assert (mean, count) == (pytest.approx(0.31), 2) and spread == pytest.approx(0.0141421, 1e-4)
    text = markdown("table1", rows, "T")
    assert "| coat | **0.3100 ± 0.0141** |" in text and "| gmf | 0.2300 ± 0.0424 |" in text
    # one run has no spread to show; a model short of seeds says how many it has
    text = markdown("table1", rows[:3], "T")
    assert "| coat | **0.3100 ± 0.0141** |" in text and "| gmf | 0.2000 (1 seed) |" in text
    text = markdown("table1", rows[:2], "T")
    assert "| coat | **0.3000** |" in text and "±" not in text.split("##")[1]
    assert "NCF's rule" not in text  # no run recorded the test figures of every epoch


def test_report_leaves_out_the_figures_no_run_has() -> None:
    """Runs scored without the full catalogue (``--no-full-catalogue``), over two seeds: the
    sampled tables only, and no error from a spread of missing figures."""
    rows = [
        {"model": "gmf", "factors": 8, "seed": seed, "source": "defaults",
         "sampled_hr": 0.6 + seed / 10, "sampled_ndcg": 0.3, "full_hr": float("nan"),
         "full_ndcg": float("nan")}
        for seed in (0, 1)
    ]  # fmt: skip
    assert summarise(rows, "full_ndcg") == {}
    text = markdown("ncf", rows, "T")
    assert "| gmf | **0.6500 ± 0.0707** |" in text and "full catalogue" not in text
    rows[1]["full_ndcg"] = 0.2  # one run has it: its figure alone, counted as one seed
    assert summarise(rows, "full_ndcg") == {("gmf", 8): (0.2, 0.0, 1)}


def test_report_adds_ncf_s_rule_for_the_runs_that_recorded_it() -> None:
    metrics = ("sampled_hr", "sampled_ndcg", "full_hr", "full_ndcg")
    rows = [
        {"model": "neumf", "factors": 8, "seed": 0, "source": "defaults",
         **dict.fromkeys(metrics, 0.40), "ncf_rule_sampled_hr": 0.70,
         "ncf_rule_sampled_ndcg": 0.45},
        {"model": "gmf", "factors": 8, "seed": 0, "source": "defaults",
         **dict.fromkeys(metrics, 0.30), "ncf_rule_sampled_hr": float("nan"),
         "ncf_rule_sampled_ndcg": float("nan")},
    ]  # fmt: skip
    text = markdown("ncf", rows, "T")
    rule = text.split("best epoch on test (NCF's rule)")[2]
    assert "| neumf | **0.4500** |" in rule and "gmf" not in rule.split("## Hyperparameters")[0]


def test_ncf_s_rule_keeps_the_first_epoch_with_the_highest_test_hr() -> None:
    """As NCF's code (``if hr > best_hr``): HR chooses, the first of equals stays, epochs in
    numeric order (10 after 9), a pre-trained start (epoch 0) counts."""
    epochs = {
        "10": {"hr": 0.7, "ndcg": 0.40},
        "9": {"hr": 0.7, "ndcg": 0.38},
        "2": {"hr": 0.6, "ndcg": 0.45},
        "0": {"hr": 0.5, "ndcg": 0.30},
    }
    assert ncf_epoch_rule(epochs) == {"epoch": 9, "hr": 0.7, "ndcg": 0.38}
    assert ncf_epoch_rule({"0": {"hr": 0.7, "ndcg": 0.4}, "1": {"hr": 0.7, "ndcg": 0.5}}) == {
        "epoch": 0,
        "hr": 0.7,
        "ndcg": 0.4,
    }
    with pytest.raises(ValueError, match="no epoch"):
        ncf_epoch_rule({})


def test_missing_content_stops_before_any_run(tmp_path, capsys) -> None:
    data = prepare_tiny(tmp_path)
    (data / "mfcc.npy").unlink(missing_ok=True)
    code = main(["fig2", "--data", str(data), "--out", str(tmp_path / "out"), *SMOKE])
    assert code == 2
    assert "no mfcc.npy" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


GRID = ["--seeds", "0", "--factors", "8", "--epochs", "1", "--no-full-catalogue"]


@pytest.fixture
def fake_training(monkeypatch) -> list[Path]:
    """Training replaced by a stand-in that returns figures at once; lists the run folders
    it trained, in order."""
    import coat_tf.runner

    trained: list[Path] = []

    def train(config, data, folder, **_) -> tuple[dict, None]:
        trained.append(folder)
        metrics = _fake_metrics(folder)
        metrics.update(data=str(data.path), data_hash=data.manifest.get("content_hash"))
        return metrics, None

    monkeypatch.setattr(coat_tf.runner, "train_and_evaluate", train)
    return trained


def _experiment(data: Path, out: Path, *options: str) -> list[str]:
    return ["ncf", "--data", str(data), "--out", str(out), "--models", "gmf", *GRID, *options]


def test_a_run_of_other_settings_or_data_is_not_reused(
    tiny, tmp_path, fake_training, capsys
) -> None:
    """Item 1: a finished run records its settings and its data set; a plan that differs
    stops before anything runs, naming the difference, and so does ``--report-only``."""
    out = tmp_path / "out"
    assert main(_experiment(tiny, out)) == 0
    folder = run_dir(out, "gmf", 8, 0)
    record = json.loads((folder / "data.json").read_text())
    assert record["data_hash"] and record["test_negatives"] == 99
    before = (out / "ncf.md").read_text()
    capsys.readouterr()
    assert main([*_experiment(tiny, out), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "train.epochs 1 != 2" in err and "another --out" in err and err.count("\n") == 1
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"models": {"gmf": {"train": {"learning_rate": 0.01}}}}))
    assert main([*_experiment(tiny, out), "--config", str(config)]) == 2
    assert "train.learning_rate 0.001 != 0.01" in capsys.readouterr().err
    speed = tmp_path / "speed.json"  # settings of speed alone: still this plan's run
    speed.write_text(json.dumps({"defaults": {"train": {"jit_compile": False}}}))
    assert main([*_experiment(tiny, out), "--config", str(speed)]) == 0
    other = tmp_path / "other"
    shutil.copytree(tiny, other)
    np.save(other / "chords.npy", np.load(other / "chords.npy")[::-1].copy())
    update_checksums(other)
    assert main(_experiment(other, out)) == 2
    assert "data hash" in capsys.readouterr().err
    assert len(fake_training) == 1 and (out / "ncf.md").read_text() == before
    report = ["ncf", "--out", str(out), "--report-only", "--models", "gmf", "mlp"]
    report += ["--seeds", "0", "--factors", "8"]
    assert main([*report, "--epochs", "2"]) == 2
    assert "train.epochs 1 != 2 (--epochs)" in capsys.readouterr().err
    assert main([*report, "--data", str(other)]) == 2
    assert "another data set" in capsys.readouterr().err
    # nor a run of another model on the other data set in the same folder
    args = ["ncf", "--data", str(other), "--out", str(out), "--models", "mlp", *GRID]
    assert main(args) == 2
    assert f"{folder} was trained on another data set: data hash" in capsys.readouterr().err
    # --report-only over runs of two data sets (another version's folder): refused
    assert main(_experiment(tiny, out, "--models", "mlp")) == 0
    mlp = run_dir(out, "mlp", 8, 0)
    (mlp / "data.json").write_text(json.dumps({**record, "data_hash": "f" * 64}))
    capsys.readouterr()
    assert main(report) == 2
    assert "different data sets: data hash ffffffffffff.. !=" in capsys.readouterr().err
    (mlp / "data.json").write_text(json.dumps(record))
    # nor over runs of one model with different settings
    assert main([*_experiment(tiny, out), "--seeds", "1", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main([*report[:6], "--seeds", "0", "1", "--factors", "8"]) == 2
    err = capsys.readouterr().err
    assert "hold runs of different settings: train.learning_rate 0.01 != 0.001" in err
    # nor a pre-trained NeuMF on one data set from parts trained on the other
    variant = ["ncf", "--data", str(other), "--out", str(tmp_path / "variant"), *GRID]
    assert main([*variant, "--models", "neumf-pre", "--pretrained-from", str(out)]) == 2
    assert "pre-train from runs of this data set" in capsys.readouterr().err


def test_repeated_seeds_sizes_and_models_are_one_run_each(
    tiny, tmp_path, fake_training, capsys
) -> None:
    args = ["ncf", "--data", str(tiny), "--out", str(tmp_path / "out"), "--epochs", "1"]
    args += ["--models", "gmf", "mlp", "gmf", "--seeds", "3", "0", "3", "--factors", "8", "8"]
    assert main(args) == 0
    assert "4 runs, 0 finished before, 4 to run" in capsys.readouterr().err
    assert [(p.parent.parent.name, p.name) for p in fake_training] == [
        ("gmf", "seed3"),
        ("mlp", "seed3"),
        ("gmf", "seed0"),
        ("mlp", "seed0"),
    ]


def test_the_tables_say_which_models_had_no_tuned_settings(tiny, tmp_path, fake_training) -> None:
    tuned = tmp_path / "tuning"
    (tuned / "gmf").mkdir(parents=True)
    (tuned / "gmf" / "best_config.json").write_text(json.dumps({"train": {"batch_size": 64}}))
    out = tmp_path / "out"
    args = ["ncf", "--data", str(tiny), "--out", str(out), *GRID, "--tuned", str(tuned)]
    assert main([*args, "--models", "gmf", "mlp", "wmf"]) == 0
    text = (out / "ncf.md").read_text()
    assert f"No tuned settings (best_config.json) under {tuned} for mlp, wmf" in text
    assert "- gmf: tuned" in text and "- mlp: defaults" in text
    report = ["ncf", "--out", str(out), "--report-only", "--seeds", "0", "--factors", "8"]
    assert main([*report, "--tuned", str(tuned), "--models", "gmf", "mlp"]) == 0
    assert "under" in (out / "ncf.md").read_text().split("## ")[0]


def test_the_tables_say_the_data_set_s_negatives_and_validation_in_training(
    tmp_path, fake_training
) -> None:
    """Item 4: labels give the data set's own number of sampled negatives, and a data set
    that keeps its validation items in training says so under the title."""
    from coat_tf.data import PrepareConfig, prepare
    from tests.tiny_data import write_events

    events = write_events(tmp_path / "events.tsv")
    data = tmp_path / "prepared"
    config = PrepareConfig.for_source(
        "events", since=None, min_user_interactions=5, num_shards=2, eval_negatives=20,
        validation_in_train=True,
    )  # fmt: skip
    prepare("events", events, data, config, progress=False)
    out = tmp_path / "out"
    assert main(["ncf", "--data", str(data), "--out", str(out), "--models", "gmf", *GRID]) == 0
    text = (out / "ncf.md").read_text()
    assert "## HR@10, 20 sampled negatives" in text and "99" not in text
    assert "keeps its validation items in training" in text.split("## ")[0]
    shutil.move(data, tmp_path / "moved")  # the record in the run folder is enough
    args = ["ncf", "--out", str(out), "--report-only", "--models", "gmf", *GRID[:4]]
    assert main(args) == 0
    assert (out / "ncf.md").read_text() == text


def test_markdown_labels_follow_the_negatives_given() -> None:
    rows = [
        {"model": "gmf", "factors": 8, "seed": 0, "source": "defaults", "sampled_hr": 0.5,
         "sampled_ndcg": 0.3, "full_hr": float("nan"), "full_ndcg": float("nan")}
    ]  # fmt: skip
    assert "## HR@10, 49 sampled negatives" in markdown("ncf", rows, "T", negatives=49)
    assert "## HR@10, sampled negatives\n" in markdown("ncf", rows, "T", negatives=None)


def test_a_diverging_run_is_recorded_and_the_grid_goes_on(tiny, tmp_path, capsys) -> None:
    """Item 5: GMF at a huge learning rate diverges; WMF still runs, the tables list the
    failed run, the exit status is 1, and only ``--retry-failed`` runs it again."""
    config = tmp_path / "config.json"
    huge = {"train": {"learning_rate": 1e30, "jit_compile": False}}
    config.write_text(json.dumps({"models": {"gmf": huge}}))
    out = tmp_path / "out"
    args = ["ncf", "--data", str(tiny), "--out", str(out), "--models", "gmf", "wmf", *GRID]
    args += ["--config", str(config)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "gmf F=8 seed 0: failed: training diverged" in err and "--retry-failed" in err
    failure = json.loads((run_dir(out, "gmf", 8, 0) / "failure.json").read_text())
    assert failure["error"] == "TrainingDiverged"
    assert (run_dir(out, "wmf", 8, 0) / "metrics.json").is_file()
    text = (out / "ncf.md").read_text()
    assert "Failed runs, without figures in the tables: gmf F=8 seed 0 (training diverged" in text
    assert [r["model"] for r in _rows(out / "results.csv")] == ["wmf"]
    assert main(args) == 1
    assert "2 runs, 1 finished before, 1 failed before" in capsys.readouterr().err
    assert not list(run_dir(out, "gmf", 8, 0).glob("failed-*"))  # not retried
    assert main([*args, "--retry-failed"]) == 1
    assert "held a failed run" in capsys.readouterr().err
    assert len(list(run_dir(out, "gmf", 8, 0).glob("failed-*"))) == 1


def test_ctrl_c_stops_with_130_and_the_same_command_resumes(
    tiny, tmp_path, monkeypatch, fake_training, capsys
) -> None:
    import coat_tf.runner

    stand_in = coat_tf.runner.train_and_evaluate

    def interrupted(config, data, folder, **options):  # noqa: ANN202
        if folder.parent.parent.name == "mlp":
            raise KeyboardInterrupt
        return stand_in(config, data, folder, **options)

    monkeypatch.setattr(coat_tf.runner, "train_and_evaluate", interrupted)
    out = tmp_path / "out"
    args = ["ncf", "--data", str(tiny), "--out", str(out), "--models", "gmf", "mlp", *GRID]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err.endswith("interrupted; run the same command again to resume\n")
    assert "Traceback" not in err and not (run_dir(out, "mlp", 8, 0) / "claim.lock").exists()
    monkeypatch.setattr(coat_tf.runner, "train_and_evaluate", stand_in)
    assert main(args) == 0
    assert "2 runs, 1 finished before, 1 to run" in capsys.readouterr().err
    assert [p.parent.parent.name for p in fake_training] == ["gmf", "mlp"]


def test_an_out_folder_that_cannot_be_written_is_refused(tiny, tmp_path, monkeypatch, capsys):
    import coat_tf.experiments.records as records

    monkeypatch.setattr(records.os, "access", lambda path, mode: False)
    out = tmp_path / "out"
    assert main(_experiment(tiny, out)) == 2
    assert f"--out {out}: {tmp_path} is not writable" in capsys.readouterr().err
    assert not out.exists()


def test_the_fitted_baselines_run_in_an_experiment(tiny, tmp_path) -> None:
    out = tmp_path / "baselines"
    args = ["ncf", "--data", str(tiny), "--out", str(out), "--models", "popularity", "itemknn"]
    assert main([*args, "--seeds", "0", "--factors", "8"]) == 0
    rows = {row["model"]: row for row in _rows(out / "results.csv")}
    assert set(rows) == {"popularity", "itemknn"}
    for row in rows.values():
        assert 0 < float(row["sampled_ndcg"]) <= float(row["sampled_hr"]) <= 1
        assert 0 < float(row["full_ndcg"]) <= float(row["full_hr"]) <= 1
        assert row["epochs"] == "0"
    assert "| itemknn |" in (out / "ncf.md").read_text()
