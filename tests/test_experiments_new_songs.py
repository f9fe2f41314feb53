"""``python -m coat_tf.experiments new-songs``: the new-song tables, plot and paired comparisons."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from coat_tf import per_user
from coat_tf.experiments.__main__ import main
from tests.tiny_data import prepare_tiny


@pytest.fixture(scope="module")
def with_new_songs(tmp_path_factory) -> Path:
    """The tiny data set with a tenth of its songs held out as new songs (random chords)."""
    return prepare_tiny(tmp_path_factory.mktemp("new-songs"), new_songs=0.1)


@pytest.mark.slow
def test_the_new_songs_experiment_reports_the_content_models_and_says_which_cannot(
    with_new_songs, tmp_path
) -> None:
    out = tmp_path / "out"
    models = ["random", "chord-histogram", "coat", "gmf"]
    args = ["new-songs", "--data", str(with_new_songs), "--out", str(out), "--models", *models]
    assert main([*args, "--seeds", "0", "1", "--factors", "8", "--epochs", "1"]) == 0
    with open(out / "results.csv", newline="") as handle:
        rows = {(row["model"], row["seed"]): row for row in csv.DictReader(handle)}
    assert len(rows) == 8
    for (model, _), row in rows.items():
        if model == "gmf":
            assert row["new_sampled_hr"] == "nan" and "no song content" in row["new_songs_note"]
            continue
        k, rankings = per_user.load(row["run_dir"])
        for ranking, column in (
            ("new_test/sampled", "new_sampled_ndcg"),
            ("new_test/whole_shelf", "new_shelf_ndcg"),
        ):
            users, ranks = rankings[ranking]
            assert len(users) > len(set(users.tolist()))  # one row per (user, new song)
            assert per_user.gains(ranks, k).mean() == pytest.approx(float(row[column]))
    text = (out / "new-songs.md").read_text()
    assert "## HR@10, new songs, whole shelf" in text
    assert "| chord-histogram |" in text and "| gmf |" not in text.split("## Hyperparameters")[0]
    assert "Without new-song figures: gmf (" in text
    assert "Song-level chance: a random order of the test shelf's songs" in text
    assert "| coat − random |" in text and "### NDCG@10, new songs, whole shelf" in text
    # every content model also against random order, once each; gmf has nothing to compare
    assert text.count("| chord-histogram − random |") == 2 and "| coat − random |" in text
    assert "| random − " not in text and text.count("| coat − random |") == 2
    with open(out / "new-songs-paired.csv", newline="") as handle:
        paired = {(p["reference"], p["other"], p["ranking"]) for p in csv.DictReader(handle)}
    assert ("coat", "random", "new_test/whole_shelf") in paired
    assert ("chord-histogram", "random", "new_test/sampled") in paired
    assert not any("gmf" in (reference, other) for reference, other, _ in paired)
    assert (out / "new-songs.png").read_bytes().startswith(b"\x89PNG")


def test_the_new_songs_experiment_needs_new_songs(tmp_path, capsys) -> None:
    data = prepare_tiny(tmp_path)
    code = main(
        [
            "new-songs",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "out"),
            "--models",
            "random",
            "--seeds",
            "0",
            "--factors",
            "8",
        ]
    )
    assert code == 2
    assert "has no new songs; prepare it with --new-songs" in capsys.readouterr().err
