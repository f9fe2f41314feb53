"""The demo experiment's bookkeeping: the control without chords, size choice and win counts."""

from __future__ import annotations

import numpy as np

from bench.demo_experiment import chosen_by_validation, coat_wins, without_chords
from coat_tf.data import PreparedDataset
from tests.tiny_data import prepare_tiny


def test_without_chords_gives_every_song_one_chord_and_leaves_the_data_alone(tmp_path) -> None:
    data = PreparedDataset.load(prepare_tiny(tmp_path))
    original = data.chords.copy()
    control = without_chords(data)
    assert control.chords.shape == data.chords.shape
    assert np.all(control.chords == 1)
    np.testing.assert_array_equal(data.chords, original)
    assert control.train is data.train


def _row(model: str, seed: int, size: int, val: float, full: float) -> dict:
    return {
        "model": model,
        "seed": seed,
        "embedding_size": size,
        "val_ndcg": val,
        "full_ndcg": full,
    }


def test_each_model_and_seed_keeps_the_size_its_validation_chose() -> None:
    rows = [
        _row("coat", 0, 8, 0.30, 0.20),
        _row("coat", 0, 16, 0.35, 0.10),  # best on validation, worse on test: still chosen
        _row("gmf", 0, 8, 0.33, 0.25),
        _row("gmf", 0, 16, 0.31, 0.30),
        _row("coat", 1, 8, 0.40, 0.40),
        _row("gmf", 1, 8, 0.20, 0.20),
    ]
    chosen = {(r["model"], r["seed"]): r["embedding_size"] for r in chosen_by_validation(rows)}
    assert chosen == {("coat", 0): 16, ("gmf", 0): 8, ("coat", 1): 8, ("gmf", 1): 8}
    picked = chosen_by_validation(rows)
    # Seed 0: COAT 0.10 against GMF 0.25 loses; seed 1: 0.40 against 0.20 wins.
    assert coat_wins(picked, [0, 1], ["coat", "gmf"]) == 1
    # A tie is not a win.
    assert coat_wins([_row("coat", 0, 8, 0, 0.2), _row("gmf", 0, 8, 0, 0.2)], [0], ["coat"]) == 0
