"""Song-level chance on new songs: HR@K of random song orders fixed over every row."""

from __future__ import annotations

import numpy as np
import pytest

from coat_tf.experiments.chance import chance_note, fixed_order_hit_rates


def test_rows_sharing_one_song_make_chance_all_or_nothing() -> None:
    # every row: song 0 against songs 1..19; an order puts song 0 in the top 10 or not
    items = np.tile(np.arange(20), (500, 1))
    rates = fixed_order_hit_rates(items, k=10, draws=400)
    assert set(np.unique(rates)) == {0.0, 1.0}
    assert rates.mean() == pytest.approx(0.5, abs=0.1)


def test_rows_of_their_own_songs_make_chance_narrow() -> None:
    # 500 rows over disjoint songs: the orders' hit rates gather around k / (1 + n)
    items = np.arange(500 * 20).reshape(500, 20)
    rates = fixed_order_hit_rates(items, k=10, draws=200)
    assert rates.mean() == pytest.approx(0.5, abs=0.01)
    assert np.percentile(rates, 97.5) - np.percentile(rates, 2.5) < 0.12


def test_the_draws_are_seeded_and_the_shape_is_checked() -> None:
    items = np.random.default_rng(3).integers(0, 40, size=(300, 10))
    np.testing.assert_array_equal(fixed_order_hit_rates(items), fixed_order_hit_rates(items))
    with pytest.raises(ValueError, match="items must be"):
        fixed_order_hit_rates(np.arange(5))


def test_the_note_gives_the_range_and_what_it_means() -> None:
    items = np.tile(np.arange(20), (50, 1))
    note = chance_note(items)
    assert note.startswith("Song-level chance: a random order of the test shelf's songs (20 songs")
    assert "between 0.000 and 1.000" in note and "resample users, not songs" in note
