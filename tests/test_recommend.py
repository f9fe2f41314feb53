"""``python -m coat_tf.recommend``: top-k songs and their chords from an exported model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.export import export_model
from coat_tf.recommend import ExportError, main, resolve_export_dir, top_chords
from tests.test_export import references, tiny_data, trained


def test_top_chords_sums_the_attention_of_each_label() -> None:
    labels = ["N", "C:maj", "A:min", "G:maj"]
    chord_ids = np.array([1, 2, 1, 0, 2, 1])
    weights = np.array([0.1, 0.05, 0.25, 0.3, 0.2, 0.1])
    found = top_chords(chord_ids, weights, labels, 3)
    assert [label for label, _ in found] == ["C:maj", "N", "A:min"]
    np.testing.assert_allclose([mass for _, mass in found], [0.45, 0.3, 0.25])
    # G:maj never occurs: it is not listed even when more chords are asked for.
    assert [label for label, _ in top_chords(chord_ids, weights, labels, 5)] == [
        "C:maj",
        "N",
        "A:min",
    ]


def test_model_folder_resolves_to_its_highest_version(tmp_path: Path) -> None:
    for version in ("1", "3", "12"):
        (tmp_path / "coat" / version).mkdir(parents=True)
    for version in ("1", "3"):
        (tmp_path / "coat" / version / "saved_model.pb").write_bytes(b"")
    assert resolve_export_dir(tmp_path / "coat") == tmp_path / "coat" / "3"
    assert resolve_export_dir(tmp_path / "coat" / "1") == tmp_path / "coat" / "1"
    with pytest.raises(ExportError, match="numbered versions"):
        resolve_export_dir(tmp_path)
    with pytest.raises(ExportError, match="no such folder"):
        resolve_export_dir(tmp_path / "absent")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("recommend")
    data = tiny_data(folder)
    recommender, run = trained(data, "coat")
    path = export_model(recommender, data, run, out_root=folder / "saved_models")
    scores = references(recommender, data)["all_scores"]
    return {"data": data, "model": recommender, "path": path, "scores": scores}


def test_cli_explains_with_the_models_attention(exported, capsys) -> None:
    data, model = exported["data"], exported["model"]
    user = 2
    code = main(
        ["--model", str(exported["path"].parent), "--user", data.user_ids[user], "--k", "4"]
        + ["--explain", "--top-chords", "3", "--json"]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    found = payload["recommendations"]
    assert payload["user_index"] == user and len(found) == 4
    seen = set(data.train_items_by_user()[user].tolist())
    expected_order = [s for s in np.argsort(-exported["scores"][user]) if s not in seen][:4]
    assert [r["index"] for r in found] == expected_order
    songs = np.array([r["index"] for r in found], np.int32)
    inside = tf.keras.Model(model.model.input, model.model.get_layer("chord_attention").output[1])
    weights = inside(
        {"user_id": np.full(4, user, np.int32), "song_id": songs, "chord_ids": data.chords[songs]}
    ).numpy()
    for rank, (rec, song) in enumerate(zip(found, songs, strict=True), start=1):
        assert rec["rank"] == rank and rec["song"] == data.song_ids[song]
        np.testing.assert_allclose(rec["score"], exported["scores"][user, song], atol=1e-5)
        expected = top_chords(data.chords[song], weights[rank - 1], data.vocabulary.labels, 3)
        assert [c["label"] for c in rec["chords"]] == [label for label, _ in expected]
        masses = [c["mass"] for c in rec["chords"]]
        np.testing.assert_allclose(masses, [m for _, m in expected], atol=1e-5)


def test_cli_table_and_a_catalogue_smaller_than_k(exported, capsys) -> None:
    data = exported["data"]
    user = data.user_ids[0]
    code = main(["--model", str(exported["path"]), "--user", user, "--k", "100", "--explain"])
    out = capsys.readouterr().out
    assert code == 0
    left = data.num_songs - len(data.train_items_by_user()[0])
    assert f"only {left} songs are left" in out
    rows = [line for line in out.splitlines() if line[:4].strip().isdigit()]
    assert len(rows) == left
    assert sum("chords:" in line for line in out.splitlines()) == left


def test_cli_unknown_user_is_a_clear_error(exported, capsys) -> None:
    code = main(["--model", str(exported["path"]), "--user", "nobody"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown user 'nobody'" in err and "users.tsv" in err
    assert "Traceback" not in err


def test_cli_bad_model_folder_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["--model", str(tmp_path), "--user", "u0"]) == 2
    assert "numbered versions" in capsys.readouterr().err


@pytest.fixture(scope="module")
def ablations(exported, tmp_path_factory) -> dict[str, Path]:
    """Exports of the two ablations without attention, on the same data."""
    folder = tmp_path_factory.mktemp("ablations")
    data = exported["data"]
    paths = {}
    for kind in ("coat-uniform", "coat-ones"):
        recommender, run = trained(data, kind)
        paths[kind] = export_model(recommender, data, run, out_root=folder)
    return paths


@pytest.mark.parametrize(("kind", "weight"), [("coat-uniform", "1/L"), ("coat-ones", "weighs 1,")])
def test_explain_says_an_ablation_has_nothing_learned(exported, ablations, kind, weight, capsys):
    user = exported["data"].user_ids[1]
    argv = ["--model", str(ablations[kind]), "--user", user, "--k", "3", "--explain"]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{kind} has no attention" in out and weight in out
    assert "nothing learned to explain" in out
    assert main([*argv, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["attention_mode"] == kind.split("-")[1]
    assert "nothing learned to explain" in payload["note"]
    assert main(argv[:-1]) == 0  # without --explain: no note
    assert "nothing learned" not in capsys.readouterr().out
    assert main(["--model", str(exported["path"]), "--user", user, "--explain"]) == 0
    assert "nothing learned" not in capsys.readouterr().out  # COAT's own attention


def test_k_beyond_int32_is_a_clear_error(exported, capsys) -> None:
    user = exported["data"].user_ids[0]
    for k in ("3000000000", str(2**31)):
        assert main(["--model", str(exported["path"]), "--user", user, "--k", k]) == 2
        err = capsys.readouterr().err
        assert f"error: --k must be >= 1 and at most 2147483647 (int32), got {k}" in err
    largest = main(["--model", str(exported["path"]), "--user", user, "--k", str(2**31 - 1)])
    assert largest == 0 and "songs are left" in capsys.readouterr().out


@pytest.mark.slow
def test_a_reader_that_closes_the_pipe_ends_it_quietly(exported) -> None:
    """``python -m coat_tf.recommend ... | head -1``: the reader is gone before the table is
    written; no BrokenPipeError traceback, nothing on stderr."""
    user = exported["data"].user_ids[0]
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    command = [sys.executable, "-m", "coat_tf.recommend", "--model", str(exported["path"])]
    for output in ([], ["--json"]):
        process = subprocess.Popen(
            [*command, "--user", user, "--k", "20", "--explain", *output],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        process.stdout.close()  # as `head` does once it has its line
        err = process.stderr.read()
        assert process.wait(timeout=300) == 1
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
        assert "error" not in err.lower(), err
    head = subprocess.run(
        f"{' '.join(command)} --user {user} --k 20 | head -1",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert head.stdout.startswith("top 20 songs for user") and head.stderr == ""
