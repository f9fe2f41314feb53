"""Readers: typed chunks, exact line numbers for bad lines, raise or skip, every source format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coat_tf.data.errors import DataError, ErrorLog
from coat_tf.data.readers import EventsFileSource, Lastfm1kSource, Lfm1bSource, read_movielens
from coat_tf.data.table import Column, TableReader

FIXTURES = Path(__file__).parent / "fixtures"
LFM1B_COLUMNS = [
    Column("user", "int"),
    Column("artist", "int", keep=False),
    Column("album", "int", keep=False),
    Column("track", "int"),
    Column("timestamp", "unix"),
]


def _read(path, columns, on_error="raise", **kwargs):
    log = ErrorLog(on_error)
    chunks = list(TableReader(path, columns, log=log, **kwargs))
    frame = pd.concat(chunks, ignore_index=True) if chunks else None
    return frame, log


def test_lfm1b_fixture_reads_typed():
    source = Lfm1bSource(FIXTURES / "lfm1b")
    frame = pd.concat(source.chunks(ErrorLog()), ignore_index=True)
    assert len(frame) == 22 and source.lines_read == 22
    assert list(frame.columns) == ["user", "track", "timestamp"]
    assert all(frame[c].dtype == np.int64 for c in frame.columns)
    assert frame.iloc[6].tolist() == [1, 101, 1388534410]


def test_lfm1b_track_names():
    names = Lfm1bSource(FIXTURES / "lfm1b").track_names(np.array([101, 104]), ErrorLog())
    assert names == {101: "Artist X - Song A", 104: "Artist Y - Song D"}


BAD = (
    b"1\t2\t3\t4\t100\n"  # line 1 fine
    b"1\t2\t3\t4\n"  # line 2: four columns
    b"1\t2\t3\tfour\t100\n"  # line 3: non-numeric track id
    b"1\t2\t3\t4\t1.5e9x\n"  # line 4: bad timestamp
    b"1\t2\t3\t\xff4\t100\n"  # line 5: bad encoding
    b"1\t2\t3\t4\t100\t7\n"  # line 6: six columns
    b"2\t2\t3\t5\t200\n"  # line 7 fine
)


@pytest.mark.parametrize("block_bytes", [8, 1 << 20])
def test_bad_lines_skipped_and_counted(tmp_path, block_bytes):
    path = tmp_path / "events.txt"
    path.write_bytes(BAD)
    frame, log = _read(path, LFM1B_COLUMNS, "skip", block_bytes=block_bytes)
    assert frame[["user", "track", "timestamp"]].values.tolist() == [[1, 4, 100], [2, 5, 200]]
    assert log.skipped == 5
    assert log.by_reason == {"columns": 2, "int": 1, "unix": 1, "encoding": 1}
    lines = [int(message.split(":")[1]) for message in log.examples]
    assert lines == [2, 3, 4, 5, 6]
    assert "expected 5 columns, found 4" in log.examples[0]
    assert "not an integer: 'four'" in log.examples[1]
    assert "not UTF-8" in log.examples[3]


def test_bad_line_raises_with_file_and_line(tmp_path):
    path = tmp_path / "events.txt"
    path.write_bytes(b"1\t2\t3\t4\t100\n" * 3 + b"1\t2\t3\tx\t100\n")
    with pytest.raises(DataError) as caught:
        _read(path, LFM1B_COLUMNS)
    assert caught.value.line == 4
    assert str(caught.value).startswith(f"{path}:4: column 'track': not an integer")


def test_line_numbers_across_blocks_and_header(tmp_path):
    path = tmp_path / "events.tsv"
    good = "".join(f"u{i}\tt{i}\t{1000 + i}\n" for i in range(50))
    path.write_text("user_id\ttrack_id\ttimestamp\n" + good + "u\tt\tnot-a-time\n" + good)
    log = ErrorLog("skip")
    source = EventsFileSource(path, block_bytes=64)
    frame = pd.concat(source.chunks(log), ignore_index=True)
    assert len(frame) == 100
    assert log.examples == [f"{path}:52: column 'timestamp': not a timestamp: 'not-a-time'"]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        Lfm1bSource(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        Lastfm1kSource(tmp_path / "nothing.tsv")


def test_generic_csv_with_iso_times_and_audio(tmp_path):
    (tmp_path / "audio").mkdir()
    path = tmp_path / "log.csv"
    path.write_text(
        "user_id,track_id,timestamp,audio_path\n"
        'a,"t,1",2014-01-01T00:00:10Z,audio/t1.ogg\n'
        "b,t2,2014-01-01T00:00:20,\n"
    )
    frame = pd.concat(EventsFileSource(path).chunks(ErrorLog()), ignore_index=True)
    assert frame["track"].tolist() == ["t,1", "t2"]
    assert frame["timestamp"].tolist() == [1388534410, 1388534420]
    assert frame["audio_path"].tolist() == [str(tmp_path.resolve() / "audio/t1.ogg"), ""]


def test_generic_header_must_name_columns(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("who\twhat\n1\t2\n")
    with pytest.raises(DataError, match="lacks column"):
        EventsFileSource(path)
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty file"):
        EventsFileSource(empty)


def test_lastfm1k_track_ids(tmp_path):
    path = tmp_path / "lfm1k.tsv"
    path.write_text(
        "user_000001\t2009-05-04T23:08:57Z\tart1\tArtist\tmbid-1\tSong\n"
        "user_000001\t2009-05-04T23:09:57Z\t\tArtist\t\tOther song\n"
        "user_000002\t2009-05-04T23:10:57Z\t\t\t\t\n"
    )
    source = Lastfm1kSource(path)
    frame = pd.concat(source.chunks(ErrorLog()), ignore_index=True)
    assert frame["track"].tolist() == ["mbid-1", "Artist - Other song"]
    assert frame["timestamp"].tolist() == [1241478537, 1241478597]
    assert source.dropped_events == 1


def test_lastfm1k_real_sample(shared_data):
    path = shared_data / "lastfm-1k-sample" / "userid-timestamp-artid-artname-traid-traname.tsv"
    source = Lastfm1kSource(path)
    frame = pd.concat(source.chunks(ErrorLog()), ignore_index=True)
    assert len(frame) + source.dropped_events == 5000
    assert frame["timestamp"].min() > 1e9


def test_movielens_fixture():
    train, test = read_movielens(FIXTURES / "movielens")
    assert len(train) == 13 and len(test) == 4
    assert test.values.tolist()[0] == ["1", "14"]
