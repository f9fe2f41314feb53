"""``python -m bench.negative_draws`` on a tiny trained run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.negative_draws import interacted, main
from coat_tf import evaluation
from coat_tf.data import PreparedDataset
from coat_tf.train import main as train
from coat_tf.trained import load_recommender
from tests.tiny_data import prepare_tiny


def test_stored_draw_first_then_other_draws_of_unseen_songs(tmp_path: Path, capsys) -> None:
    tiny = prepare_tiny(tmp_path)
    run_dir = tmp_path / "run"
    argv = ["--data", str(tiny), "--run-dir", str(run_dir), "--model", "gmf", "--quiet"]
    assert train([*argv, "--epochs", "1", "--embedding-size", "8", "--no-full-catalogue"]) == 0

    results = main([str(run_dir), "--draws", "3"])[str(run_dir)]
    data = PreparedDataset.load(tiny)
    _, recommender = load_recommender(run_dir, data)
    stored = evaluation.sampled(recommender, data.test.users, data.test.items)
    assert results["hr"][0] == stored.hr and results["ndcg"][0] == stored.ndcg
    assert len(results["hr"]) == len(results["ndcg"]) == 4
    assert len(set(results["ndcg"][1:])) > 1  # the other draws differ
    assert "3 other draws" in capsys.readouterr().out

    seen = interacted(data)
    for user, songs in enumerate(data.train_items_by_user()):
        assert np.isin(songs, seen[user]).all()
    for split in (data.valid, data.test):
        rows = zip(split.users, split.items[:, 0], split.items[:, 1:], strict=True)
        for user, song, negatives in rows:
            assert song in seen[user]
            assert not np.isin(negatives, seen[user]).any()  # prepare's rule, and the bench's

    # the data set moved: --data names it, and must be the data the run was trained on
    moved = tiny.rename(tmp_path / "moved")
    again = main([str(run_dir), "--draws", "1", "--data", str(moved)])[str(run_dir)]
    assert again["hr"][0] == stored.hr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "data_hash": "other"}))
    with pytest.raises(SystemExit):
        main([str(run_dir), "--draws", "1", "--data", str(moved)])
    assert "was trained on other data than" in capsys.readouterr().err
