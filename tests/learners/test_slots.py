"""Fit slots (backend/learners/slots.py): across processes, never more fits at once than
slots, a killed holder's slot free at once; and fit threads at the background priority."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend.learners.hosts import fit_threads
from backend.learners.slots import FitSlots

HOLD_SECONDS = 0.2


def _fit_in_a_slot(folder: str, log: str, count: int) -> None:
    """Three 'fits' in a slot, each writing when it held it (another process)."""
    slots = FitSlots(ThreadPoolExecutor(1), count=count, folder=Path(folder))

    def fit() -> None:
        start = time.monotonic()
        time.sleep(HOLD_SECONDS)
        with open(log, "a") as out:
            out.write(f"{start} {time.monotonic()}\n")

    for future in [slots.submit(fit) for _ in range(3)]:
        future.result()
    slots.shutdown()


def _most_at_once(log: Path) -> int:
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    return max(sum(start <= t < end for start, end in spans) for t, _ in spans)


@pytest.mark.parametrize("count", [1, 2])
def test_processes_never_fit_more_at_once_than_there_are_slots(tmp_path, count):
    log = tmp_path / "log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_fit_in_a_slot, args=(str(tmp_path / "slots"),
                                                              str(log), count))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(log.read_text().splitlines()) == 9  # every fit ran
    assert _most_at_once(log) == count


def _hold_forever(folder: str, held: multiprocessing.Event) -> None:
    slots = FitSlots(ThreadPoolExecutor(1), count=1, folder=Path(folder))
    with slots.slot():
        held.set()
        time.sleep(600)


def test_a_killed_holder_lets_go_of_its_slot(tmp_path):
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    holder = context.Process(target=_hold_forever, args=(str(tmp_path), held))
    holder.start()
    try:
        assert held.wait(60)
        slots = FitSlots(ThreadPoolExecutor(1), count=1, folder=tmp_path)
        waiting = slots.submit(lambda: "fitted")
        time.sleep(0.3)
        assert not waiting.done()  # the only slot is held
        os.kill(holder.pid, signal.SIGKILL)
        assert waiting.result(timeout=10) == "fitted"
        slots.shutdown()
    finally:
        holder.kill()
        holder.join()


@pytest.mark.skipif(sys.platform != "linux", reason="SCHED_IDLE is Linux's")
def test_fit_threads_run_at_background_priority_and_nothing_else_does():
    fits = fit_threads(1)
    try:
        policy = fits.submit(lambda: os.sched_getscheduler(threading.get_native_id()))
        assert policy.result() == os.SCHED_IDLE
    finally:
        fits.shutdown()
    assert os.sched_getscheduler(threading.get_native_id()) != os.SCHED_IDLE
