"""The label file: every labeling event appended as one JSON line, flushed and synced.

The human's labels must survive anything the kernel, the server or the network does, so
the widget writes each event here before it does anything else with it. A new widget
pointed at the file replays it and carries on. The first line identifies the pool (a
sha256 of its bytes), so a file is never resumed against other data.

Lines, after the header::

    {"event": "label", "index": 17, "label": 7, "predicted": 1, "uncertainty": 0.8, "t": ...}
    {"event": "skip", "index": 4, "t": ...}
    {"event": "undo", "index": 17, "t": ...}
    {"event": "taught", "indices": [17], "iterations_paid": 3, "msat_spent": 3000, "t": ...}

``taught`` is written once the server has learned those labels; it carries the running
totals of what was paid, so the counters continue across widgets.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

FORMAT = "alsats-labels"
VERSION = 1


class LabelFileError(ValueError):
    """The label file cannot be used: unreadable, damaged, or made for another pool."""


def pool_fingerprint(pool: np.ndarray) -> str:
    """sha256 of the pool's shape, dtype and bytes: what a label file belongs to."""
    array = np.ascontiguousarray(pool)
    digest = hashlib.sha256(f"{array.shape}|{array.dtype.str}|".encode())
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


@dataclass
class GivenLabel:
    """One label the human gave, with what the model predicted before it was taught."""

    index: int
    label: Any
    predicted: Any = None
    uncertainty: float | None = None
    msat_spent: int | None = None  # the running total once the server had learned it


@dataclass
class Replay:
    """What a label file holds, replayed: the labels in the order given, and the totals."""

    labels: list[GivenLabel] = field(default_factory=list)
    skipped: set[int] = field(default_factory=set)
    taught: set[int] = field(default_factory=set)  # labels the server had learned
    iterations_paid: int = 0
    msat_spent: int = 0


class LabelFile:
    """Append-only JSON Lines of labeling events, opened for one pool."""

    def __init__(self, path: str | Path, pool: np.ndarray, classes: list) -> None:
        self.path = Path(path).expanduser()
        self._fingerprint = pool_fingerprint(pool)
        self._classes = list(classes)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        try:
            self._lock()
            fresh = self.path.stat().st_size == 0
            self.replay = Replay() if fresh else self._load(len(pool))
            if fresh:
                self._write({"format": FORMAT, "version": VERSION,
                             "pool_sha256": self._fingerprint, "n_pool": len(pool),
                             "classes": self._classes})
        except BaseException:
            self._file.close()
            raise

    def _lock(self) -> None:
        """One writer per file: two widgets appending to one file would mix their events."""
        if fcntl is None:  # Windows has no flock: keeping to one widget per file is on you
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabelFileError(
                f"{self.path} is in use by another widget (in another kernel or process); "
                "close that one first, or use another label file") from None

    # -- writing -----------------------------------------------------------------------

    def label(self, given: GivenLabel) -> None:
        self._write({"event": "label", "index": given.index, "label": given.label,
                     "predicted": given.predicted, "uncertainty": given.uncertainty,
                     "t": time.time()})

    def skip(self, index: int) -> None:
        self._write({"event": "skip", "index": index, "t": time.time()})

    def undo(self, index: int) -> None:
        self._write({"event": "undo", "index": index, "t": time.time()})

    def taught(self, indices: list[int], iterations_paid: int, msat_spent: int) -> None:
        self._write({"event": "taught", "indices": indices, "iterations_paid": iterations_paid,
                     "msat_spent": msat_spent, "t": time.time()})

    def _write(self, record: dict) -> None:
        """One line, on disk before this returns: a label given is a label kept."""
        self._file.write(json.dumps(record, default=_plain) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LabelFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------

    def _load(self, n_pool: int) -> Replay:
        lines = self._complete_lines()
        if not lines:
            return Replay()
        header = self._parse(lines[0], 1)
        if header.get("format") != FORMAT:
            raise LabelFileError(f"{self.path} is not an alsats label file")
        if header.get("pool_sha256") != self._fingerprint:
            raise LabelFileError(
                f"{self.path} holds labels for another pool ({header.get('n_pool')} samples, "
                f"sha256 {str(header.get('pool_sha256'))[:12]}...); this pool has {n_pool} "
                "samples. Use another label file, or the pool it was made for.")
        if header.get("classes") != self._classes:
            raise LabelFileError(f"{self.path} was made for the classes {header.get('classes')}"
                                 f", not {self._classes}")
        replay = Replay()
        for number, line in enumerate(lines[1:], start=2):
            record = self._parse(line, number)
            try:
                _check(record, n_pool, self._classes)
                _apply(replay, record)
            except (KeyError, TypeError, ValueError) as exc:
                raise LabelFileError(f"{self.path}, line {number}: a damaged record "
                                     f"({type(exc).__name__}: {exc})") from None
        return replay

    def _complete_lines(self) -> list[str]:
        """The file's lines; a last line cut short by a crash is dropped from the file."""
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        if end < len(raw):
            with self.path.open("r+b") as file:
                file.truncate(end)
        try:
            return [line for line in raw[:end].decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as exc:
            raise LabelFileError(f"{self.path} is not a text file: {exc}") from None

    def _parse(self, line: str, number: int) -> dict:
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise LabelFileError(f"{self.path}, line {number}: not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise LabelFileError(f"{self.path}, line {number}: not a JSON object")
        return record


def _check(record: dict, n_pool: int, classes: list) -> None:
    indices = record["indices"] if record.get("event") == "taught" else [record["index"]]
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_pool:
            raise ValueError(f"index {index!r} is not in the pool")
    if record.get("event") == "label" and record["label"] not in classes:
        raise ValueError(f"label {record['label']!r} is not one of the classes")


def _apply(replay: Replay, record: dict) -> None:
    event = record.get("event")
    if event == "label":
        replay.labels = [g for g in replay.labels if g.index != record["index"]]
        replay.labels.append(GivenLabel(record["index"], record["label"],
                                        record.get("predicted"), record.get("uncertainty")))
        replay.taught.discard(record["index"])
    elif event == "undo":
        replay.labels = [g for g in replay.labels if g.index != record["index"]]
        replay.taught.discard(record["index"])
    elif event == "skip":
        replay.skipped.add(record["index"])
    elif event == "taught":
        replay.taught.update(record["indices"])
        replay.iterations_paid = record["iterations_paid"]
        replay.msat_spent = record["msat_spent"]
        for given in replay.labels:
            if given.index in replay.taught and given.msat_spent is None:
                given.msat_spent = record["msat_spent"]
    else:
        raise ValueError(f"unknown event {event!r}")


def _plain(value: Any) -> Any:
    """NumPy scalars (labels taken from arrays) as plain JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
