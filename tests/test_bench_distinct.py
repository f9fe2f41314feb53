"""Smoke test of ``python -m bench.distinct_songs`` on small random batches."""

from __future__ import annotations

from bench.distinct_songs import main


def test_both_forms_of_each_model_get_a_row(capsys) -> None:
    argv = ["--synthetic-songs", "30", "--batch-size", "16", "--steps", "2", "--rounds", "2"]
    assert main([*argv, "--steps-per-execution", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| neumf")]
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| neumf-cnn", "distinct songs once"],
        ["| neumf-cnn", "every row"],
        ["| neumf-lstm", "distinct songs once"],
        ["| neumf-lstm", "every row"],
    ]
    for row in rows[1], rows[3]:
        cells = row.strip("| ").split(" | ")
        assert cells[3] == cells[5] == "1.00x"
    assert "neumf-cnn: " in out and "distinct songs a batch of 16" in out
