"""Per-user figures of a run (``per_user.npz``) and the paired comparisons built on them."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from coat_tf import evaluation, per_user
from coat_tf.experiments.__main__ import main
from coat_tf.experiments.paired import (
    against,
    bootstrap_interval,
    compare,
    pooled_differences,
    user_means,
)
from coat_tf.experiments.report import markdown, paired_differences
from tests.tiny_data import prepare_tiny


def test_per_user_ranks_round_trip_and_give_the_evaluator_s_means(tmp_path) -> None:
    ranks = np.array([0, 3, 9, 10, 57])
    users = np.array([4, 1, 2, 0, 3])
    per_user.save(tmp_path, 10, {"test/sampled": (users, ranks)})
    k, rankings = per_user.load(tmp_path)
    assert k == 10
    np.testing.assert_array_equal(rankings["test/sampled"][0], users)
    np.testing.assert_array_equal(rankings["test/sampled"][1], ranks)
    assert per_user.gains(ranks, k).mean() == pytest.approx(evaluation.ndcg(ranks, k))
    assert per_user.gains(ranks, k, "hr").mean() == pytest.approx(evaluation.hit_ratio(ranks, k))


def test_a_damaged_per_user_file_is_named(tmp_path) -> None:
    (tmp_path / per_user.PER_USER_FILE).write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match="per_user.npz"):
        per_user.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        per_user.load(tmp_path / "nowhere")


def test_user_means_average_each_user_s_rows() -> None:
    assert user_means(np.array([3, 1, 3]), np.array([1.0, 0.5, 0.0])) == {1: 0.5, 3: 0.5}


def test_differences_pool_seeds_per_user_over_the_users_of_every_seed() -> None:
    seed0 = ({0: 1.0, 1: 0.0, 2: 0.5}, {0: 0.0, 1: 0.0, 2: 0.5})
    seed1 = ({0: 0.0, 1: 1.0}, {0: 0.0, 1: 0.0})  # user 2 missing: left out
    np.testing.assert_allclose(pooled_differences([seed0, seed1]), [0.5, 0.5])


def test_the_bootstrap_interval_holds_the_mean_and_is_reproducible() -> None:
    values = np.random.default_rng(1).normal(0.2, 1.0, size=400)
    low, high = bootstrap_interval(values)
    assert low < values.mean() < high
    assert bootstrap_interval(values) == (low, high)
    # the standard error is about 0.05: a 95% interval about 0.2 wide
    assert 0.12 < high - low < 0.28
    assert bootstrap_interval(np.full(50, 0.25)) == pytest.approx((0.25, 0.25))


def _fake_run(folder: Path, users: np.ndarray, ranks: np.ndarray) -> str:
    folder.mkdir(parents=True)
    per_user.save(folder, 10, {"test/sampled": (users, ranks)})
    return str(folder)


def test_compare_gives_the_mean_difference_and_an_interval_that_excludes_zero(tmp_path) -> None:
    rng = np.random.default_rng(0)
    users = np.arange(300)
    rows = []
    for seed in (0, 1):
        good = rng.integers(0, 4, size=300)  # mostly hits
        bad = rng.integers(5, 40, size=300)  # mostly misses
        for model, ranks in (("coat", good), ("gmf", bad), ("coat-uniform", good)):
            run = _fake_run(tmp_path / model / f"seed{seed}", users, ranks)
            rows.append({"model": model, "factors": 8, "seed": seed, "run_dir": run})
    found = {c.other: c for c in compare(rows, "coat")}
    assert set(found) == {"gmf", "coat-uniform"}
    gmf = found["gmf"]
    coat_mean = np.mean(
        [
            per_user.gains(per_user.load(r["run_dir"])[1]["test/sampled"][1], 10)
            for r in rows
            if r["model"] == "coat"
        ]
    )
    gmf_mean = np.mean(
        [
            per_user.gains(per_user.load(r["run_dir"])[1]["test/sampled"][1], 10)
            for r in rows
            if r["model"] == "gmf"
        ]
    )
    assert gmf.mean == pytest.approx(coat_mean - gmf_mean)
    assert gmf.seeds == 2 and gmf.users == 300 and gmf.low > 0 and gmf.excludes_zero
    same = found["coat-uniform"]
    assert same.mean == 0 and (same.low, same.high) == (0, 0) and not same.excludes_zero
    # against a baseline: every other model minus it, each with itself as the reference
    versus_gmf = {(c.reference, c.other): c for c in against(rows, "gmf", skip=["coat-uniform"])}
    assert list(versus_gmf) == [("coat", "gmf")]
    assert versus_gmf["coat", "gmf"].mean == pytest.approx(gmf.mean)


def test_a_seed_without_per_user_figures_is_left_out_and_counted(tmp_path) -> None:
    users = np.arange(20)
    rows = [
        {
            "model": "coat",
            "factors": 8,
            "seed": 0,
            "run_dir": _fake_run(tmp_path / "a0", users, users),
        },
        {
            "model": "gmf",
            "factors": 8,
            "seed": 0,
            "run_dir": _fake_run(tmp_path / "b0", users, users),
        },
        {
            "model": "coat",
            "factors": 8,
            "seed": 1,
            "run_dir": _fake_run(tmp_path / "a1", users, users),
        },
        {"model": "gmf", "factors": 8, "seed": 1, "run_dir": str(tmp_path / "older-run")},
    ]
    (only,) = compare(rows, "coat")
    assert only.seeds == 1
    text = markdown(
        "fig2",
        [{**row, "source": "defaults", **_figures()} for row in rows],
        "t",
        paired=paired_differences(rows),
    )
    assert "## Paired comparisons" in text
    assert "| coat − gmf | +0.0000 [+0.0000, +0.0000] (1 seed) |" in text


def _figures() -> dict:
    return {
        "sampled_hr": 0.5,
        "sampled_ndcg": 0.3,
        "full_hr": float("nan"),
        "full_ndcg": float("nan"),
    }


def test_no_paired_section_without_coat(tmp_path) -> None:
    users = np.arange(5)
    rows = [
        {"model": m, "factors": 8, "seed": 0, "run_dir": _fake_run(tmp_path / m, users, users)}
        for m in ("gmf", "wmf")
    ]
    assert paired_differences(rows) == []


@pytest.mark.slow
def test_an_experiment_keeps_per_user_ranks_and_reports_the_paired_differences(tmp_path) -> None:
    (tmp_path / "data").mkdir()
    data = prepare_tiny(tmp_path / "data")
    out = tmp_path / "out"
    args = ["fig2", "--data", str(data), "--out", str(out), "--models", "coat", "popularity"]
    assert main([*args, "--seeds", "0", "1", "--factors", "8", "--epochs", "1"]) == 0
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        k, rankings = per_user.load(row["run_dir"])
        for ranking, column in (
            ("test/sampled", "sampled_ndcg"),
            ("test/full_catalogue", "full_ndcg"),
        ):
            users, ranks = rankings[ranking]
            assert len(users) == len(set(users.tolist()))  # one row per user
            assert per_user.gains(ranks, k).mean() == pytest.approx(float(row[column]))
    text = (out / "fig2.md").read_text()
    assert "| coat − popularity |" in text
    with open(out / "fig2-paired.csv", newline="") as handle:
        paired = list(csv.DictReader(handle))
    assert {(p["other"], p["ranking"], p["seeds"]) for p in paired} == {
        ("popularity", "test/sampled", "2"),
        ("popularity", "test/full_catalogue", "2"),
    }
