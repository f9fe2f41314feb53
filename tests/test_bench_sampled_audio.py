"""Smoke test of ``python -m bench.sampled_audio`` at a tiny size."""

from __future__ import annotations

from bench.sampled_audio import main


def test_both_kinds_get_both_ratios(capsys) -> None:
    results = main(["--songs", "12", "--users", "6", "--rounds", "2"])
    assert set(results) == {"cnn", "lstm"}
    for ratios in results.values():
        assert set(ratios) == {"wall", "cpu"} and all(r > 0 for r in ratios.values())
    out = capsys.readouterr().out
    assert out.count("once a call / every pair") == 2
