"""The label file: events on disk as they happen, replayed by the next widget."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alsats_widget.labelfile import GivenLabel, LabelFile, LabelFileError, pool_fingerprint

CLASSES = list(range(10))


@pytest.fixture
def pool():
    return np.random.default_rng(0).integers(0, 256, size=(50, 28, 28), dtype=np.uint8)


def test_events_replay_in_order_with_the_totals(tmp_path, pool):
    path = tmp_path / "labels.jsonl"
    labels = LabelFile(path, pool, CLASSES)
    labels.label(GivenLabel(3, 7, predicted=1, uncertainty=0.8))
    labels.label(GivenLabel(9, 2))
    labels.taught([3, 9], iterations_paid=2, msat_spent=2000)
    labels.skip(11)
    labels.label(GivenLabel(4, np.int64(5), predicted=5, uncertainty=0.1))
    labels.undo(9)
    labels.close()

    with LabelFile(path, pool, CLASSES) as resumed:
        replay = resumed.replay
    assert [(g.index, g.label, g.predicted) for g in replay.labels] == [(3, 7, 1), (4, 5, 5)]
    assert replay.skipped == {11}
    assert replay.taught == {3}
    assert (replay.iterations_paid, replay.msat_spent) == (2, 2000)
    assert [g.msat_spent for g in replay.labels] == [2000, None]  # 4 was never taught


def test_each_event_is_on_disk_when_the_call_returns(tmp_path, pool):
    path = tmp_path / "labels.jsonl"
    labels = LabelFile(path, pool, CLASSES)
    labels.label(GivenLabel(1, 6))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["pool_sha256"] == pool_fingerprint(pool)
    assert records[1]["event"] == "label" and records[1]["label"] == 6
    labels.close()


def test_a_file_for_another_pool_or_classes_is_refused(tmp_path, pool):
    path = tmp_path / "labels.jsonl"
    LabelFile(path, pool, CLASSES).close()
    other = pool.copy()
    other[0, 0, 0] ^= 1
    with pytest.raises(LabelFileError, match="another pool"):
        LabelFile(path, other, CLASSES)
    with pytest.raises(LabelFileError, match="classes"):
        LabelFile(path, pool, ["cat", "dog"])


def test_a_line_cut_short_by_a_crash_is_dropped(tmp_path, pool):
    path = tmp_path / "labels.jsonl"
    labels = LabelFile(path, pool, CLASSES)
    labels.label(GivenLabel(1, 6))
    labels.close()
    with path.open("a") as file:
        file.write('{"event": "label", "ind')  # the kernel died mid-write
    resumed = LabelFile(path, pool, CLASSES)
    assert [g.index for g in resumed.replay.labels] == [1]
    resumed.label(GivenLabel(2, 3))
    resumed.close()
    with LabelFile(path, pool, CLASSES) as again:
        assert [g.index for g in again.replay.labels] == [1, 2]


@pytest.mark.parametrize("line, problem", [
    ("not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"event": "label", "index": 999, "label": 1}', "not in the pool"),
    ('{"event": "label", "index": 1, "label": 12}', "not one of the classes"),
    ('{"event": "label", "label": 1}', "KeyError"),
    ('{"event": "teleport", "index": 1}', "unknown event"),
])
def test_a_damaged_record_names_its_line(tmp_path, pool, line, problem):
    path = tmp_path / "labels.jsonl"
    LabelFile(path, pool, CLASSES).close()
    with path.open("a") as file:
        file.write(line + "\n")
    with pytest.raises(LabelFileError, match=f"line 2.*{problem}|line 2: {problem}"):
        LabelFile(path, pool, CLASSES)


def test_a_file_that_is_not_a_label_file_is_refused(tmp_path, pool):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"hello": "world"}\n')
    with pytest.raises(LabelFileError, match="not an alsats label file"):
        LabelFile(path, pool, CLASSES)
    path.write_bytes(b"\xff\xfe\n")
    with pytest.raises(LabelFileError, match="not a text file"):
        LabelFile(path, pool, CLASSES)


def test_one_writer_per_file(tmp_path, pool):
    path = tmp_path / "labels.jsonl"
    first = LabelFile(path, pool, CLASSES)
    first.label(GivenLabel(1, 1))
    with pytest.raises(LabelFileError, match="in use by another widget"):
        LabelFile(path, pool, CLASSES)  # another kernel's widget, say
    first.label(GivenLabel(2, 2))  # the refused one wrote nothing, closed nothing
    first.close()
    with LabelFile(path, pool, CLASSES) as second:
        assert [g.index for g in second.replay.labels] == [1, 2]
