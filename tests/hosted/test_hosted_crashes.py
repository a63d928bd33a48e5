"""kill -9 of web processes during a paid labeling run on the hosted service: three web
processes behind nginx, a PostgreSQL ledger, learners on Ray.

A widget labels by clicks, paying per iteration, through nginx; every little while one of
the web processes is killed with SIGKILL (the supervisor starts it again), so a call in
flight is cut off (nginx answers 502) and others land on the survivors. After each kill
the widget's Retry is pressed until it has caught up, and the books are audited as in
tests/widget/test_crash_restarts.py: total msat conserved, alice gained what the settled
invoices ask, every credential paid for is held by the client and used in full before the
next, no Idempotency-Key charged twice, each label paid once (but for a call a kill cut
off), and every label the widget accepted in the label file and on the server.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import pytest

from alsats_widget import LabelingWidget
from tests.digits import digit_pool
from tests.robustness import soak
from tests.widget.test_crash_restarts import (
    AuditedClient,
    Clicker,
    audit,
    books,
    catch_up,
    labels_in_file,
    shown,
)

pytestmark = pytest.mark.slow


@pytest.mark.timeout(soak(900, 7200))
def test_kill_9_of_web_processes_during_a_paid_run_loses_no_money_and_no_label(
        hosted, tmp_path, robustness):
    kills, seed = soak(20, 200), 11
    rng = random.Random(seed)
    pool, truth = digit_pool(soak(1, 12_000))
    label_file = tmp_path / "labels.jsonl"
    start = asyncio.run(books(hosted.stack))
    client = AuditedClient(hosted.url, hosted.stack.wallet("bob"), fee_limit_msat=0,
                           mode="pool")
    widget = LabelingWidget(client, pool, label_file=label_file)
    clicker = Clicker(widget, truth, rng)
    began, presses, problems, killed = time.monotonic(), 0, Counter(), set()
    try:
        widget.labeler.wait_for_sample(120)
        for kill in range(1, kills + 1):
            clicker.start()
            time.sleep(rng.uniform(0.1, 1.5))
            killed.add(hosted.kill_web_process(rng.randrange(len(hosted.web_processes()))))
            time.sleep(rng.uniform(0.0, 0.5))  # clicks go on; the others serve them
            clicker.stop()
            problem = widget.labeler.problem
            problems[f"{problem.kind} problem" if problem else "no problem"] += 1
            assert labels_in_file(label_file) == clicker.accepted
            hosted.wait_for_web_processes()  # the supervisor started it again
            presses += catch_up(widget)
            assert labels_in_file(label_file) == clicker.accepted
            checked = audit(hosted.stack, client, start, kill, hosted.ledger_url)
            assert checked["info"]["n_labeled"] == len(clicker.accepted)
    finally:
        widget.close()
        client.close()
    assert len(killed) == kills  # each kill a web process of its own, started again
    assert len(clicker.accepted) > kills  # the kills landed in a run that made progress
    robustness.record(
        "Hosted",
        f"kill -9 of one of 3 web processes (behind nginx, PostgreSQL ledger, learners on "
        f"Ray) at random moments of a paid widget labeling run, {kills} times (seed {seed})",
        f"after each kill: total msat conserved, {checked['paid_msat']:,} msat paid = "
        f"credits sold, no credential lost, no Idempotency-Key charged twice, "
        f"{checked['cut_off']} charged call(s) whose answer a kill cut off; "
        f"{len(clicker.accepted):,} labels accepted, all in the label file and on the "
        f"server; what the widget showed after a kill: {shown(problems)}; {presses} Retry "
        f"presses; {client.spending.iterations_bought:,} iterations paid; "
        f"{time.monotonic() - began:.0f} s")
