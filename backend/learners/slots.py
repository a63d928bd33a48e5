"""Fit slots: at most one background fit per core of a machine at once, over every process.

Each session's Ray actor fits its own model. Fifty actors on one machine would otherwise
fit fifty models at once: the scheduler shares the cores among them all, and each holds
its own process's GIL while it waits for its turn, so a call to any of them (a query, a
teach) waits behind its fit. With slots, only as many fits run as there are cores, and an
actor waiting for a slot waits on a lock, with its GIL free for calls.

A slot is a lock file (flock) in a folder of the machine's temp dir: the kernel lets go of
it when its process ends, even by kill -9, so a killed actor never keeps one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any


def machine_cores() -> int:
    """The cores this process may run on."""
    with contextlib.suppress(AttributeError):  # not Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"alsats-fit-slots-{os.getuid()}"


class FitSlots(Executor):
    """An executor in front of another whose tasks each run holding one of ``count``
    slots shared by every process that uses the same ``folder``."""

    def __init__(self, inner: Executor, count: int | None = None,
                 folder: Path | None = None) -> None:
        self._inner = inner
        self.count = count or machine_cores()
        self.folder = folder or default_folder()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        def run() -> Any:
            with self.slot():
                return fn(*args, **kwargs)
        return self._inner.submit(run)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)

    @contextlib.contextmanager
    def slot(self) -> Iterator[int]:
        """Hold a free slot (its number); if none is, wait for one picked at random."""
        self.folder.mkdir(parents=True, exist_ok=True)
        order = random.sample(range(self.count), self.count)
        for number in order:
            fd = self._lock(number, blocking=False)
            if fd is not None:
                break
        else:
            number = order[0]
            fd = self._lock(number, blocking=True)
        try:
            yield number
        finally:
            os.close(fd)  # closing the file lets go of its lock

    def _lock(self, number: int, blocking: bool) -> int | None:
        fd = os.open(self.folder / f"slot-{number}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd
