"""A search's folder and an experiments folder are told apart (:mod:`coat_tf.folder_kinds`),
and each command refuses the other's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coat_tf.experiments.__main__ import main as experiments_main
from coat_tf.experiments.plan import run_dir
from coat_tf.folder_kinds import EXPERIMENTS, SEARCH, check_kind, folder_kind
from tuning.search import main as search_main


def search_folder(folder: Path, marker: str = "search.json") -> Path:
    folder.mkdir(parents=True)
    (folder / marker).write_text(json.dumps({"model": "gmf"}))
    (folder / "results.csv").write_text("trial,status\n")
    return folder


def experiments_folder(folder: Path) -> Path:
    run = run_dir(folder, "gmf", 8, 0)  # the layout the experiments write
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (folder / "results.csv").write_text("model,factors,seed\n")
    return folder


def test_each_kind_is_told_from_what_it_writes(tmp_path: Path) -> None:
    assert folder_kind(search_folder(tmp_path / "a")) == SEARCH
    assert folder_kind(search_folder(tmp_path / "b", "oracle.json")) == SEARCH
    assert folder_kind(experiments_folder(tmp_path / "c")) == EXPERIMENTS
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "results.csv").write_text("x\n")  # both write one: it says nothing
    assert folder_kind(tmp_path / "d") is None
    assert folder_kind(tmp_path / "absent") is None
    check_kind(tmp_path / "a", "--dir", SEARCH)  # its own kind passes
    with pytest.raises(ValueError, match=r"--out .*c: is an experiments folder"):
        check_kind(tmp_path / "c", "--out", SEARCH)


def test_experiments_refuse_a_search_folder(tmp_path: Path, capsys) -> None:
    folder = search_folder(tmp_path / "tuning_runs" / "gmf")
    before = sorted(p.name for p in folder.iterdir())
    for extra in ([], ["--report-only"]):
        argv = ["fig2", "--data", str(tmp_path / "no_data"), "--out", str(folder), *extra]
        assert experiments_main([*argv, "--models", "gmf"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --out {folder}: is a tuning.search folder")
        assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written


def test_a_search_refuses_an_experiments_folder(tmp_path: Path, capsys) -> None:
    folder = experiments_folder(tmp_path / "experiments" / "fig2")
    argv = ["--data", str(tmp_path / "no_data"), "--model", "gmf", "--dir", str(folder)]
    assert search_main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --dir {folder}: is an experiments folder")
    assert len(err.strip().splitlines()) == 1
    assert not (folder / "search.json").exists() and not (folder / "claim.lock").exists()
