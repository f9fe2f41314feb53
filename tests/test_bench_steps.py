"""Smoke test of ``python -m bench.steps_per_execution`` on a tiny prepared data set."""

from __future__ import annotations

from pathlib import Path

from bench.steps_per_execution import main
from tests.tiny_data import prepare_tiny


def test_every_model_and_value_gets_a_row(tmp_path: Path, capsys) -> None:
    data = prepare_tiny(tmp_path)
    argv = ["--data", str(data), "--models", "gmf", "mlp", "--values", "1", "3"]
    assert main([*argv, "--steps", "4", "--rounds", "2", "--batch-size", "64"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "x |" in line]
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| gmf", "1"],
        ["| gmf", "3"],
        ["| mlp", "1"],
        ["| mlp", "3"],
    ]
    assert rows[0].endswith("| 1.00x |")
