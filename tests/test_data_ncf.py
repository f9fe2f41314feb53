"""``prepare --source ncf``: the NCF reference code's files, their ids and their negatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coat_tf.data import DataError, PrepareConfig, prepare
from coat_tf.data.errors import ErrorLog
from coat_tf.data.manifest import rebuild_command
from coat_tf.data.ncf import read_ncf

# user: (training items with timestamps, test item, test negatives); item 11 is played by
# nobody and appears only among the negatives (the catalogue is the items 0..12)
USERS = {
    0: ([(1, 100), (2, 105), (3, 101)], 4, [5, 6, 11]),
    1: ([(2, 200), (5, 210), (6, 205)], 1, [0, 3, 11]),
    2: ([(12, 299), (0, 300), (7, 301), (8, 302), (9, 303)], 10, [1, 2, 11]),
    3: ([(4, 400), (9, 401), (1, 402)], 7, [0, 5, 8]),
}


def write_ncf(folder: Path, users: dict = USERS, timed: bool = True) -> Path:
    """The three files of ``users`` under the prefix ``folder/tiny``; without ``timed`` the
    rating files have three columns, the training lines of each user in time order."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / "tiny"
    train, test, negative = [], [], []
    for user, (items, held, negatives) in users.items():
        if timed:
            train += [f"{user}\t{item}\t5\t{time}" for item, time in items]
        else:
            train += [f"{user}\t{item}\t5" for item, _ in sorted(items, key=lambda it: it[1])]
        test.append(f"{user}\t{held}\t4" + ("\t999" if timed else ""))
        negative.append(f"({user},{held})\t" + "\t".join(map(str, negatives)))
    Path(f"{prefix}.train.rating").write_text("\n".join(train) + "\n")
    Path(f"{prefix}.test.rating").write_text("\n".join(test) + "\n")
    Path(f"{prefix}.test.negative").write_text("\n".join(negative) + "\n")
    return prefix


def _prepare(prefix: Path, out: Path):  # noqa: ANN202
    config = PrepareConfig.for_source("ncf", num_shards=1)
    return prepare("ncf", prefix, out, config, progress=False)


def test_the_given_negatives_are_the_test_candidates(tmp_path: Path) -> None:
    data = _prepare(write_ncf(tmp_path), tmp_path / "out")
    assert data.num_users == 4 and data.user_ids == ["0", "1", "2", "3"]
    assert "11" in data.song_ids  # a song only among the negatives is in the catalogue
    assert data.num_songs == 13
    for row, user in enumerate(data.test.users):
        _, held, negatives = USERS[int(data.user_ids[user])]
        items = [data.song_ids[i] for i in data.test.items[row]]
        assert items == [str(held)] + [str(n) for n in negatives]


def test_validation_is_the_latest_training_item_and_every_user_is_kept(tmp_path: Path) -> None:
    data = _prepare(write_ncf(tmp_path), tmp_path / "out")
    valid = {
        data.user_ids[u]: data.song_ids[s]
        for u, s in zip(data.valid.users, data.valid.positives, strict=True)
    }
    assert valid == {"0": "2", "1": "5", "2": "9", "3": "1"}
    train = {
        (data.user_ids[u], data.song_ids[s])
        for u, s in zip(data.train["user"], data.train["song"], strict=True)
    }
    assert ("0", "2") not in train and ("0", "1") in train and ("0", "4") not in train
    assert len(data.train) == sum(len(items) for items, _, _ in USERS.values()) - 4
    # validation negatives are drawn from songs the user never interacted with
    for row, user in enumerate(data.valid.users):
        seen = set(data.train_items_by_user()[user]) | {data.test.positives[row]}
        assert not seen & set(data.valid.items[row, 1:].tolist())
    assert data.manifest["settings"]["min_user_interactions"] is None


def test_bad_lines_name_the_file_and_the_line(tmp_path: Path) -> None:
    prefix = write_ncf(tmp_path)
    negative = Path(f"{prefix}.test.negative")
    lines = negative.read_text().splitlines()
    lines[2] = "2,10\t1\t2\t11"
    negative.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"tiny.test.negative:3: the first field must be"):
        read_ncf(prefix)
    lines[2] = "(2,10)\t1\tx\t11"
    negative.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"tiny.test.negative:3: .*not an id"):
        read_ncf(prefix)
    train = Path(f"{prefix}.train.rating")
    train.write_text(train.read_text() + "7\tseven\t5\t100\n")
    with pytest.raises(DataError, match=r"tiny.train.rating:15"):
        read_ncf(prefix)


def test_missing_files_and_users_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not an NCF data set prefix.*nothing.train.rating"):
        read_ncf(tmp_path / "nothing")
    prefix = write_ncf(tmp_path)
    negative = Path(f"{prefix}.test.negative")
    negative.write_text("\n".join(negative.read_text().splitlines()[:3]) + "\n")
    with pytest.raises(DataError, match="no negatives for 1 test users.*first: 3"):
        read_ncf(prefix)
    write_ncf(tmp_path, {**USERS, 3: ([(4, 400), (9, 401)], 7, [0, 5])})
    with pytest.raises(DataError, match=r"negative:4: 2 negatives.*different numbers"):
        read_ncf(prefix)


def test_the_cli_prepares_an_ncf_prefix(tmp_path: Path, capsys) -> None:
    from coat_tf.data.__main__ import main

    prefix = write_ncf(tmp_path)
    out = tmp_path / "cli"
    code = main(
        ["prepare", "--source", "ncf", "--input", str(prefix), "--out", str(out)]
        + ["--shards", "1", "--quiet"]
    )
    assert code == 0
    assert np.load(out / "chords.npy").shape == (13, 100)


def _with_line(prefix: Path, number: int, line: str) -> None:
    """Replace line ``number`` (1-based) of ``P.test.negative``."""
    negative = Path(f"{prefix}.test.negative")
    lines = negative.read_text().splitlines()
    lines[number - 1] = line
    negative.write_text("\n".join(lines) + "\n")


BAD_NEGATIVE_LINES = {
    "a training item": ("(0,4)\t5\t2\t11", "negative:1: negative 2 is one of user 0's training"),
    "the test item": ("(0,4)\t5\t4\t11", "negative:1: the test item 4 is among its own"),
    "repeated": ("(0,4)\t5\t6\t5", "negative:1: negative 5 appears twice"),
    "outside the catalogue": ("(0,4)\t5\t13\t11", r"negative:1: negative 13 is not in the cat"),
    "a negative id": ("(0,4)\t-1\t6\t11", r"negative:1: negative -1 is not in the cat"),
    "another test item": ("(0,5)\t6\t7\t11", "negative:1: the pair names item 5, but user 0's"),
    "not a test user": ("(9,4)\t5\t6\t11", "negative:1: user 9 has no test item"),
}


@pytest.mark.parametrize("case", BAD_NEGATIVE_LINES, ids=str)
def test_a_bad_negatives_line_names_the_file_line_and_value(tmp_path: Path, case: str) -> None:
    prefix = write_ncf(tmp_path)
    line, message = BAD_NEGATIVE_LINES[case]
    _with_line(prefix, 1, line)
    with pytest.raises(DataError, match=message):
        read_ncf(prefix)


def test_under_skip_bad_negatives_drop_their_user_and_are_counted(tmp_path: Path) -> None:
    prefix = write_ncf(tmp_path)
    _with_line(prefix, 1, "(0,4)\t2\t2\t11")  # a training item, twice
    _with_line(prefix, 4, "(3,7)\t0\t5\t99")  # outside the catalogue
    config = PrepareConfig.for_source("ncf", num_shards=1, on_error="skip")
    data = prepare("ncf", prefix, tmp_path / "out", config, progress=False)
    assert data.user_ids == ["1", "2"]
    counts, read = data.manifest["counts"], data.manifest["steps"]["read"]
    assert counts["skipped_lines"] == 2
    assert counts["skipped_by_reason"] == {
        "negative among the user's items": 1,
        "negative outside the catalogue": 1,
    }
    assert read["users_without_usable_negatives"] == 2
    assert read["bad_negatives"] == {
        "negative among the user's items": 2,
        "negative outside the catalogue": 1,
    }
    first = "tiny.test.negative:1: negative 2 is one of user 0's training items (and 1 more)"
    assert counts["skipped_examples"][0].endswith(first)


def test_the_number_of_negatives_comes_from_the_files(tmp_path: Path) -> None:
    prefix = write_ncf(tmp_path)
    data = _prepare(prefix, tmp_path / "out")
    assert data.test.items.shape[1] == data.valid.items.shape[1] == 4
    assert data.manifest["settings"]["eval_negatives"] == 3
    assert "--eval-negatives" not in rebuild_command(tmp_path / "out", data.manifest)
    same = PrepareConfig.for_source("ncf", eval_negatives=3, num_shards=1)
    assert prepare("ncf", prefix, tmp_path / "same", same, progress=False).num_users == 4
    other = PrepareConfig.for_source("ncf", eval_negatives=2, num_shards=1)
    with pytest.raises(DataError, match=r"tiny.test.negative: holds 3 negatives per test user"):
        prepare("ncf", prefix, tmp_path / "other", other, progress=False)
    assert not (tmp_path / "other").exists()


def test_rating_files_without_timestamps_take_the_file_order(tmp_path: Path) -> None:
    timed = _prepare(write_ncf(tmp_path / "a"), tmp_path / "timed")
    plain_prefix = write_ncf(tmp_path / "b", timed=False)
    assert Path(f"{plain_prefix}.train.rating").read_text().startswith("0\t1\t5\n")
    plain = _prepare(plain_prefix, tmp_path / "plain")
    assert plain.manifest["steps"]["read"]["time"] == "file order"
    for data in (timed, plain):
        valid = {
            data.user_ids[u]: data.song_ids[s]
            for u, s in zip(data.valid.users, data.valid.positives, strict=True)
        }
        assert valid == {"0": "2", "1": "5", "2": "9", "3": "1"}
    assert np.array_equal(plain.test.items, timed.test.items)
    assert len(plain.train) == len(timed.train)
    # the last line in file order, whatever the ids
    reordered = {0: ([(3, 1), (2, 2), (1, 3)], 4, [5, 6, 11]), **{k: USERS[k] for k in (1, 2, 3)}}
    data = _prepare(write_ncf(tmp_path / "c", reordered, timed=False), tmp_path / "re")
    assert data.song_ids[data.valid.positives[list(data.valid.users).index(0)]] == "1"


def test_a_negative_id_in_a_rating_file_is_a_bad_line(tmp_path: Path) -> None:
    prefix = write_ncf(tmp_path)
    train = Path(f"{prefix}.train.rating")
    train.write_text(train.read_text() + "1\t-3\t5\t220\n")
    with pytest.raises(DataError, match=r"tiny.train.rating:15: item id -3 is negative"):
        read_ncf(prefix)
    files = read_ncf(prefix, ErrorLog("skip"))
    assert len(files.train) == 14 and "-3" not in set(files.train["item"])


def test_a_rating_file_with_other_columns_is_refused(tmp_path: Path) -> None:
    prefix = write_ncf(tmp_path)
    Path(f"{prefix}.train.rating").write_text("0\t1\n")
    with pytest.raises(DataError, match=r"tiny.train.rating:1: expected 4 columns .* found 2"):
        read_ncf(prefix)


def test_the_train_summary_names_the_data_sets_number_of_negatives(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from coat_tf.config import RunConfig
    from coat_tf.train import summary

    data = _prepare(write_ncf(tmp_path), tmp_path / "out")
    result = {"hr": 0.5, "ndcg": 0.25}
    metrics = {
        "test": {"sampled": result},
        "examples_per_second": 10.0,
        "best_epoch": 1,
        "epochs": 1,
        "train_seconds": 1.0,
        "validation": result,
    }
    text = summary(RunConfig(), metrics, tmp_path / "run", SimpleNamespace(**vars(data)))
    assert "test (3 negatives)" in text and "99" not in text
