"""``python -m coat_tf.data stats``: the manifest's counts are checked against the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coat_tf.data import PrepareConfig, prepare
from coat_tf.data.__main__ import main
from coat_tf.data.manifest import file_counts, verify_counts
from coat_tf.data.prepare_config import SOURCES
from tests.test_data_options import inputs  # noqa: F401  (a fixture)

COUNTED = ("users", "songs", "interactions", "train", "valid", "test", "negatives")


def _prepared(source: str, inputs: dict, out: Path, **settings) -> Path:  # noqa: F811
    negatives = {} if source == "ncf" else {"eval_negatives": 2}
    config = PrepareConfig.for_source(
        source, min_user_interactions=2, num_shards=1, **negatives, **settings
    )
    prepare(source, inputs[source], out, config, progress=False, cache_dir=out.parent)
    return out


@pytest.mark.parametrize("in_train", [False, True], ids=["held-out", "validation-in-train"])
@pytest.mark.parametrize("source", SOURCES)
def test_the_files_give_the_manifests_counts(
    tmp_path: Path,
    inputs: dict,  # noqa: F811
    source: str,
    in_train: bool,
) -> None:
    out = _prepared(source, inputs, tmp_path / "out", validation_in_train=in_train)
    manifest = json.loads((out / "manifest.json").read_text())
    found = file_counts(out, manifest)
    assert {k: manifest["counts"][k] for k in COUNTED} == found
    verify_counts(out, manifest)


@pytest.mark.parametrize("name", COUNTED)
def test_stats_names_a_count_the_files_contradict(
    tmp_path: Path,
    inputs: dict,  # noqa: F811
    capsys,
    name: str,
) -> None:
    out = _prepared("events", inputs, tmp_path / "out")
    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    held = manifest["counts"][name]
    manifest["counts"][name] = held - 1
    path.write_text(json.dumps(manifest))
    assert main(["stats", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"manifest.json: does not match the data files: counts.{name} says {held - 1}, " in err
    assert f"the files hold {held}" in err and "Rebuild it with" in err


def test_stats_names_a_number_of_negatives_the_files_contradict(
    tmp_path: Path,
    inputs: dict,  # noqa: F811
    capsys,
) -> None:
    out = _prepared("events", inputs, tmp_path / "out")
    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["settings"]["eval_negatives"] = 99
    path.write_text(json.dumps(manifest))
    assert main(["stats", str(out)]) == 2
    assert "settings.eval_negatives says 99, the files hold 2" in capsys.readouterr().err
