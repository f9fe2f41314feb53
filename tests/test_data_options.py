"""``prepare``'s options per source: an option a source does not use is refused, and a
filtering step that leaves nobody is an error naming it, for every source."""

from __future__ import annotations

from pathlib import Path

import pytest

from coat_tf.data import DataError, PrepareConfig, prepare
from coat_tf.data.__main__ import build_parser, main
from coat_tf.data.prepare_config import NOT_USED, OPTION_FLAGS, SOURCES, check_options
from tests.test_data_ncf import write_ncf
from tests.test_data_playlists import write_playlists

FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1_400_000_000
#: A valid value of each option (``None``: a switch).
VALUES = {
    "input": "somewhere",
    "since": "2014-01-01",
    "top_songs": "10",
    "min_user_interactions": "2",
    "eval_negatives": "5",
    "seed": "1",
    "songs_without_chords": "drop",
    "chord_vocabulary": "full",
    "num_shards": "1",
    "compression": "gzip",
    "on_error": "skip",
    "mfcc": None,
    "validation_in_train": None,
    "workers": "1",
    "cache_dir": "cache",
    "chord_key": "relative",
    "order_column": "position",
    "chords": "chords",
    "new_songs": "0.5",
    "new_songs_by": "random",
}


def test_every_prepare_option_is_classified() -> None:
    """A new option must be named in OPTION_FLAGS (and so considered for NOT_USED)."""
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    flags = {f for a in commands.choices["prepare"]._actions for f in a.option_strings}
    assert flags - {"-h", "--help", "--source", "--out", "--overwrite", "--quiet"} == set(
        OPTION_FLAGS.values()
    )
    assert set(VALUES) == set(OPTION_FLAGS)
    assert set(NOT_USED) == set(SOURCES)


@pytest.mark.parametrize(
    ("source", "name"),
    [(source, name) for source in SOURCES for name in NOT_USED[source]],
    ids=lambda value: str(value),
)
def test_an_option_a_source_does_not_use_is_refused(
    tmp_path: Path, capsys, source: str, name: str
) -> None:
    argv = ["prepare", "--source", source, "--out", str(tmp_path / "out"), "--quiet"]
    if name != "input" and source != "demo":
        argv += ["--input", str(tmp_path / "in")]
    argv += [OPTION_FLAGS[name]] + ([] if VALUES[name] is None else [VALUES[name]])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: {OPTION_FLAGS[name]} does not apply to --source {source} (" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source", SOURCES)
def test_every_other_option_is_accepted(source: str) -> None:
    for name in OPTION_FLAGS:
        if name not in NOT_USED[source]:
            check_options(source, [name])
    with pytest.raises(ValueError, match="--since does not apply to --source movielens"):
        PrepareConfig.for_source("movielens", since="2014-01-01")


def _lastfm1k(folder: Path) -> Path:
    path = folder / "lastfm.tsv"
    rows = [
        f"user_{u}\t2009-05-0{1 + j % 5}T13:0{j}:00Z\t\tArtist\t\tSong {2 * u + j}\n"
        for u in range(3)
        for j in range(6)
    ]
    path.write_text("".join(rows))
    return path


def _events(folder: Path) -> Path:
    path = folder / "events.tsv"
    rows = [f"u{u}\ts{2 * u + j}\t{T0 + 10 * u + j}\n" for u in range(3) for j in range(6)]
    path.write_text("user_id\ttrack_id\ttimestamp\n" + "".join(rows))
    return path


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch) -> dict[str, Path | None]:
    """A small input of every source (the demo's events through a stand-in ``get_demo``)."""
    from coat_tf import demo

    demo_folder = tmp_path / "demo"
    demo_folder.mkdir()
    _events(demo_folder)
    monkeypatch.setattr(
        demo, "get_demo", lambda config=None, cache_root=None, workers=None: demo_folder
    )
    return {
        "lfm1b": FIXTURES / "lfm1b",
        "lastfm1k": _lastfm1k(tmp_path),
        "events": _events(tmp_path),
        "movielens": FIXTURES / "movielens",
        "ncf": write_ncf(tmp_path / "ncf"),
        "demo": None,
        "playlists": write_playlists(tmp_path / "playlists"),
    }


def _prepare(source: str, inputs: dict, out: Path, **settings) -> None:
    negatives = {} if source == "ncf" else {"eval_negatives": 1}
    config = PrepareConfig.for_source(source, **negatives, **settings)
    prepare(source, inputs[source], out, config, progress=False, cache_dir=out.parent)


@pytest.mark.parametrize("source", SOURCES)
def test_a_user_filter_that_leaves_nobody_is_an_error(
    tmp_path: Path, inputs: dict, source: str
) -> None:
    _prepare(source, inputs, tmp_path / "fine", min_user_interactions=2)
    with pytest.raises(
        DataError, match=r"--min-user-interactions 1000 leaves no users \(the most active user"
    ):
        _prepare(source, inputs, tmp_path / "out", min_user_interactions=1000)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source", [s for s in SOURCES if "since" not in NOT_USED[s]])
def test_a_date_that_leaves_nobody_is_an_error(tmp_path: Path, inputs: dict, source: str) -> None:
    with pytest.raises(DataError, match=r"--since 2030-01-01 leaves no events\. What each step"):
        _prepare(source, inputs, tmp_path / "out", since="2030-01-01")
    assert not (tmp_path / "out").exists()


def test_dropping_songs_without_chords_that_leaves_nobody_is_an_error(
    tmp_path: Path, inputs: dict
) -> None:
    with pytest.raises(DataError, match=r"--songs-without-chords drop leaves no users \(no song"):
        _prepare("events", inputs, tmp_path / "out", songs_without_chords="drop")


def test_the_cli_says_which_filter_left_nobody(tmp_path: Path, inputs: dict, capsys) -> None:
    argv = ["prepare", "--source", "movielens", "--input", str(inputs["movielens"])]
    argv += ["--out", str(tmp_path / "out"), "--min-user-interactions", "50", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "movielens: --min-user-interactions 50 leaves no users" in err
    assert "Traceback" not in err
