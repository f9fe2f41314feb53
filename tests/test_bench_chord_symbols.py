"""``python -m bench.chord_symbols`` on a tiny table (needs music21 and mir_eval)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

pytest.importorskip("music21")
pytest.importorskip("mir_eval")

from bench.chord_symbols import main  # noqa: E402


def test_shares_on_a_tiny_table(tmp_path: Path, capsys) -> None:
    table = tmp_path / "songs.tsv.gz"
    rows = [
        "song\tsyntax\tchords",
        "a\tsymbol\tBb Cadd2 C2 G3 x2 Am7",
        "b\tharte\tA:min C:maj",
        "c\tsymbol\tD/F# Em Bb",
    ]
    with gzip.open(table, "wt") as handle:
        handle.write("\n".join(rows) + "\n")
    results = {r["reader"]: r for r in main(["--table", str(table), "--json", str(tmp_path / "r")])}
    assert set(results) == {"pychord", "music21", "music21 as written", "package"}
    assert results["package"]["correct"] == 1.0 and results["package"]["coverage"] == 1.0
    assert results["package"]["accepted"] == pytest.approx(7 / 9)  # not G3, x2
    assert ["Cadd2", 1] in results["pychord"]["wrong"]
    assert ["C2", 1] in results["music21"]["wrong"] and ["G3", 1] in results["music21"]["wrong"]
    assert ["Bb", 2] in results["music21 as written"]["wrong"]
    assert json.loads((tmp_path / "r").read_text())[0]["reader"] == "pychord"
    assert "9 tokens (8 distinct)" in capsys.readouterr().out
