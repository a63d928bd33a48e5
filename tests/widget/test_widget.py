"""LabelingWidget against a real local stack: clicks, keys, undo, resume, budget, errors.

The widget is driven as the browser drives it: Button.click() runs the buttons' handlers,
and keys arrive as the messages ipyevents' frontend sends to its Event widget.
"""

from __future__ import annotations

import io
import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
import requests
from PIL import Image

from alsats_widget import LabelingWidget, pool_and_holdout
from alsats_widget.labelfile import LabelFile, LabelFileError
from alsats_widget.widget import GUESS_TOOLTIP
from tests.digits import digit_pool

PRICE = 3  # msat per iteration
N_POOL = 400


@pytest.fixture(scope="module")
def digits():
    """sklearn's 8x8 digits as uint8 images: a small, real pool with true labels."""
    images, target = digit_pool(1)
    return images[:N_POOL], target[:N_POOL], images[N_POOL:], target[N_POOL:]


@pytest.fixture
def make_widget(open_widget, digits, tmp_path):
    """A widget on the digits (or `pool`), its labels in the test's one label file
    unless told otherwise, so a second widget resumes the first's."""
    def make(client=None, label_file=None, pool=None, **options):
        return open_widget(digits[0] if pool is None else pool, client=client,
                           label_file=label_file or tmp_path / "labels.jsonl", **options)
    return make


def test_the_pool_upload_shows_its_progress(make_widget, digits, stack):
    """While the pool goes up (1.3 MB here, two chunks), the bar and the waiting line say
    how much of it is sent; once connected, the bar is the labels' again."""
    descriptions, lines = [], []
    pool = np.tile(digits[0], (50, 1, 1))  # 20,000 8x8 digits
    client, watching = stack.client("bob", fee_limit_msat=0), threading.Event()
    upload = client.upload_pool

    def upload_once_watched(pool, progress=None):
        watching.wait(30)
        return upload(pool, progress)

    client.upload_pool = upload_once_watched
    widget = make_widget(client=client, pool=pool, target_labels=5)
    widget._progress.observe(lambda change: descriptions.append(change.new),
                             names="description")
    widget._guess.observe(lambda change: lines.append(change.new), names="value")
    watching.set()
    assert widget.labeler.wait_for_sample() is not None
    assert descriptions[0] == "upload" and descriptions[-1] == "0/5"
    shown = [line for line in lines if "% of" in line]
    assert shown and shown[-1] == "Connecting: sending the pool to the server… 100% of 1.3 MB"


def press(widget, key, **fields):
    """A key as ipyevents' frontend reports a real key press (a KeyboardEvent's fields)."""
    event = {"type": "keydown", "key": key, "code": f"Key{key.upper()}", "location": 0,
             "repeat": False, "altKey": False, "ctrlKey": False, "metaKey": False,
             "shiftKey": False, **fields}
    widget._keyboard._handle_mouse_msg(None, event, [])


def shown(widget):
    """The sample shown, once the widget has drawn it (it draws when the worker is done)."""
    current = widget.labeler.wait_for_sample(60)
    deadline = time.monotonic() + 10
    while current is not None and widget._shown != current.index:
        assert time.monotonic() < deadline, "the widget never drew the sample"
        time.sleep(0.01)
    return current


def settled(widget):
    """Wait for the refresh that shows a run of quick clicks (they are shown together)."""
    deadline = time.monotonic() + 10
    while widget._trailing is not None:
        assert time.monotonic() < deadline, "the widget never showed its last clicks"
        time.sleep(0.01)
    return widget


def server_labels(widget) -> int:
    return widget.labeler.client.session_info()["n_labeled"]


def test_a_click_labels_pays_and_shows_the_next_sample(make_widget, digits, stack):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    widget = make_widget()
    first = shown(widget)
    picture = widget._view._image.value
    assert Image.open(io.BytesIO(picture)).size == (224, 224)  # 8x8 digit, fitted to its box
    widget._class_buttons[digits[1][first.index]].click()

    assert widget.labeler.current.index != first.index
    assert widget._view._image.value != picture
    widget.labeler.wait_idle(60)
    status = widget.status
    assert (status.labels, status.iterations_paid, status.msat_spent) == (1, 1, PRICE)
    assert server_labels(widget) == 1
    assert before - bob.balance_msat() == PRICE
    assert "labels <b>1</b>" in widget._status.value and f"{PRICE:,} msat" in widget._status.value


def test_keys_label_skip_and_undo_and_nothing_else(make_widget, digits):
    widget = make_widget()
    first = shown(widget)
    press(widget, "a")  # not a key of the widget's
    press(widget, "7", ctrlKey=True)  # a shortcut, not a label
    press(widget, "7", repeat=True)  # a held key
    replayed = {"type": "keydown", "key": "0", "altKey": False, "ctrlKey": False,
                "metaKey": False, "shiftKey": False}  # a bare Event: no code, no location
    widget._keyboard._handle_mouse_msg(None, replayed, [])  # Notebook 7 replaying a key
    assert widget.labeler.current == first and widget.labeler.given == []

    press(widget, str(digits[1][first.index]))
    second = shown(widget)
    press(widget, "s")
    third = shown(widget)
    assert len({first.index, second.index, third.index}) == 3
    assert [g.index for g in widget.labeler.given] == [first.index]
    assert widget.labeler.skipped == {second.index}

    press(widget, "Backspace")
    assert widget.labeler.given == [] and widget.labeler.current.index == first.index
    widget.labeler.wait_idle(60)
    assert server_labels(widget) == 0


def test_undo_takes_the_last_label_back_here_and_on_the_server(make_widget, digits, tmp_path):
    widget = make_widget()
    truth = digits[1]
    picked = []
    for _ in range(3):
        picked.append(shown(widget).index)
        widget._class_buttons[truth[picked[-1]]].click()
    widget.labeler.wait_idle(60)
    assert server_labels(widget) == 3

    widget._undo.click()
    assert widget.labeler.current.index == picked[2]  # shown again, to label anew
    assert list(widget.labels) == picked[:2]
    widget.labeler.wait_idle(60)
    assert server_labels(widget) == 2
    assert widget.labeler.status().iterations_paid == 3  # paid is paid

    widget._undo.click()
    widget._undo.click()  # a quick double click: both shown by one refresh
    assert widget.labels == {} and settled(widget)._undo.disabled
    assert widget.labeler.undo() is None
    widget.labeler.wait_idle(60)
    assert server_labels(widget) == 0
    lines = (tmp_path / "labels.jsonl").read_text().splitlines()[1:]  # after the header
    events = [json.loads(line)["event"] for line in lines]
    assert events.count("label") == 3 and events.count("undo") == 3


def test_simulate_clicks_true_labels_and_the_plot_and_held_out_accuracy_climb(make_widget,
                                                                              digits):
    pool, truth, test_x, test_y = digits
    widget = make_widget(holdout=(test_x, test_y), target_labels=40, window=20)
    empty_plot = widget._plot.value
    assert widget.simulate(truth, 40) == 40

    given = widget.labeler.given
    assert len(given) == 40 and all(g.label == truth[g.index] for g in given)
    assert server_labels(widget) == 40
    rolling = widget.labeler.rolling_accuracy(20)
    held_out = widget.labeler.holdout_accuracy
    assert held_out[-1][0] == 40 and held_out[-1][2] > 0.6  # a real model, learning
    counts = [labels for labels, _, _ in held_out]
    assert counts == sorted(set(counts))  # one point per label count: the newest model's
    guessed = [g for g in given if g.predicted is not None]  # the first picks had no model
    assert len(rolling) == len(guessed) > 20
    recent = guessed[-20:]
    assert rolling[-1][2] == sum(g.predicted == g.label for g in recent) / 20
    assert widget._plot.value != empty_plot
    assert widget._progress.value == 1.0 and widget._progress.bar_style == "success"

    frame = widget.accuracy()
    assert list(frame.columns) == ["labels", "msat_spent", "rolling", "held_out"]
    assert frame["labels"].is_monotonic_increasing and frame["labels"].iloc[-1] == 40
    assert frame["held_out"].iloc[-1] == held_out[-1][2]
    assert frame["rolling"].iloc[-1] == rolling[-1][2]
    assert frame["msat_spent"].iloc[-1] == 40 * PRICE

    labels_plot = widget.plot_png
    assert labels_plot.startswith(b"\x89PNG")
    widget._x_axis.value = "sats"
    assert widget.plot_png != labels_plot
    assert all(msat is not None for _, msat, _ in rolling)


def test_labels_survive_the_kernel_objects_and_resume_in_one_call(stack, digits, tmp_path):
    pool, truth = digits[0], digits[1]
    path = tmp_path / "resume.jsonl"
    first = LabelingWidget(stack.client("bob", fee_limit_msat=0), pool, label_file=path)
    first.simulate(truth, 6)
    skipped = shown(first).index
    first._skip.click()
    first.labeler.wait_idle(60)
    labels, before = first.labels, first.labeler.status()
    first.close()
    first.labeler.client.close()
    del first  # the kernel forgot everything; only the file remains

    client = stack.client("bob", fee_limit_msat=0)
    resumed = LabelingWidget(client, pool, label_file=path)
    try:
        resumed.labeler.wait_idle(60)
        assert resumed.labels == labels
        assert server_labels(resumed) == 6
        assert client.spending.payments == 1  # the six labels, taught in one paid call
        after = resumed.labeler.status()
        assert after.labels == 6 and after.skipped == 1
        assert after.iterations_paid == before.iterations_paid + 6
        assert after.msat_spent == before.msat_spent + 6 * PRICE
        assert shown(resumed).index not in set(labels) | {skipped}
        resumed.simulate(truth, 2)
        assert len(resumed.labels) == 8 and server_labels(resumed) == 8
    finally:
        resumed.close()
        client.close()


def test_the_budget_stops_the_work_and_keeps_every_label(make_widget, digits, stack):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    client = stack.client("bob", fee_limit_msat=0, budget_msat=3 * PRICE)
    widget = make_widget(client=client)
    for _ in range(5):
        widget._class_buttons[digits[1][shown(widget).index]].click()
        widget.labeler.wait_idle(60)

    problem = widget.labeler.problem
    assert problem is not None and problem.kind == "budget"
    assert "Budget reached" in widget._message.value
    assert widget._retry.layout.display is None  # Retry is offered
    assert len(widget.labels) == 5 and widget.labeler.status().pending == 2
    assert before - bob.balance_msat() == 3 * PRICE  # never beyond the budget
    with widget.labeler.file.path.open() as file:
        assert sum(json.loads(line).get("event") == "label" for line in file) == 5

    client.budget_msat = 10 * PRICE
    widget._retry.click()
    widget.labeler.wait_idle(60)
    assert widget.labeler.problem is None and server_labels(widget) == 5


def test_a_server_that_is_down_is_a_message_then_it_recovers(make_widget, stack):
    client = stack.client("bob", fee_limit_msat=0)
    client.base_url, url = "http://127.0.0.1:9", client.base_url  # nobody listens there
    client.retries = 0
    widget = make_widget(client=client)
    assert shown(widget) is None
    assert widget.labeler.problem.kind == "server"
    assert "cannot be reached" in widget._message.value
    assert "alsats-waiting" in settled(widget)._answers._dom_classes  # nothing to label
    assert widget._skip.disabled

    assert widget._retry.layout.display is None  # a server that is down may come back
    client.base_url = url
    widget._retry.click()
    assert shown(widget) is not None and widget.labeler.problem is None


def test_a_lost_session_is_rebuilt_from_the_labels(make_widget, digits):
    widget = make_widget()
    widget.simulate(digits[1], 4)
    client = widget.labeler.client
    old_session = client.session_id
    closed = requests.delete(client.base_url + "/session", timeout=10,
                             headers={"Authorization": client._authorization})
    assert closed.status_code == 200  # someone closed the session behind the widget's back

    widget.simulate(digits[1], 1)
    assert client.session_id != old_session
    assert server_labels(widget) == 5 and widget.labeler.problem is None


def test_held_out_accuracy_is_measured_again_after_a_rebuilt_session(make_widget, digits):
    pool, truth, test_x, test_y = digits
    widget = make_widget(holdout=(test_x, test_y))
    widget.simulate(truth, 30)
    widget.labeler.wait_idle(60)
    client = widget.labeler.client
    assert widget.labeler.holdout_accuracy[-1][0] == 30
    requests.delete(client.base_url + "/session", timeout=10,
                    headers={"Authorization": client._authorization})

    widget.simulate(truth, 3)  # the new session counts its model versions from 0 again
    widget.labeler.wait_idle(60)
    assert server_labels(widget) == 33 and widget.labeler.problem is None
    assert widget.labeler.holdout_accuracy[-1][0] == 33


def test_labels_export_as_a_dataframe_and_csv(make_widget, digits, tmp_path):
    widget = make_widget()
    widget.simulate(digits[1], 5)
    frame = widget.to_dataframe()
    assert list(frame.columns) == ["index", "label", "predicted", "uncertainty"]
    assert dict(zip(frame["index"], frame["label"], strict=True)) == widget.labels
    with pytest.raises(ValueError, match=r"oracle_labels\[\d+\] is 'seven', not one of"):
        widget.simulate(np.full(N_POOL, "seven"), 1)
    with pytest.raises(ValueError, match="oracle_labels has 3 labels for a pool of 400"):
        widget.simulate([1, 2, 3], 1)
    assert len(widget.labels) == 5  # nothing was labeled by the refused calls
    saved = pd.read_csv(widget.to_csv(tmp_path / "labels.csv"))
    assert saved["label"].tolist() == frame["label"].tolist()


def test_bad_input_is_refused_before_anything_is_paid(stack, digits, tmp_path):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    with pytest.raises(ValueError, match="pool-mode"):
        LabelingWidget(stack.client("bob", mode="stream"), digits[0],
                       label_file=tmp_path / "a.jsonl")
    with pytest.raises(ValueError, match="items has 3 items but X has 10 rows"):
        LabelingWidget(stack.client("bob"), np.zeros((10, 7)), items=["a", "b", "c"],
                       label_file=tmp_path / "b.jsonl")
    with pytest.raises(ValueError, match="differ"):
        LabelingWidget(stack.client("bob", classes=[0, 1]), digits[0], classes=[1, 2],
                       label_file=tmp_path / "c.jsonl")
    with pytest.raises(ValueError, match="holdout has 5 samples but 4 labels"):
        LabelingWidget(stack.client("bob"), digits[0], holdout=(digits[2][:5], digits[3][:4]),
                       label_file=tmp_path / "d.jsonl")
    with pytest.raises(ValueError, match="holdout samples have shape"):
        LabelingWidget(stack.client("bob"), digits[0], holdout=(np.zeros((5, 9)), [0] * 5),
                       label_file=tmp_path / "e.jsonl")
    assert not any(tmp_path.glob("[a-e].jsonl"))  # refused before a label file was made
    with pytest.raises(ValueError, match="prefetch must be a whole number of at least 1"):
        LabelingWidget(stack.client("bob"), digits[0], prefetch=0, label_file=tmp_path / "f")
    with pytest.raises(ValueError, match="target_labels must be"):
        LabelingWidget(stack.client("bob"), digits[0], target_labels=-5, label_file=tmp_path)
    other = tmp_path / "other.jsonl"
    LabelFile(other, digits[0][:10], list(range(10))).close()
    with pytest.raises(LabelFileError, match="another pool"):
        LabelingWidget(stack.client("bob"), digits[0], label_file=other)
    assert bob.balance_msat() == before


def test_input_the_server_would_refuse_is_refused_before_anything_is_paid(stack, digits,
                                                                         tmp_path):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    client = stack.client("bob")
    pool, held_out = digits[0].astype(float), digits[2][:5].astype(float)
    pool[3, 2, 2] = held_out[1, 0, 0] = np.nan
    refused = [
        ({"X": pool}, "X has NaN or infinity at row 3"),
        ({"X": np.zeros((5, 2, 8, 8))}, r"X has shape \(5, 2, 8, 8\); the server takes"),
        ({"X": np.full((5, 64), "7")}, "X holds text, not numbers: make features first"),
        ({"X": np.zeros((1_000_001, 1), dtype=np.uint8)},
         "X has 1,000,001 samples; the server takes at most 1,000,000"),
        ({"classes": [0.5, 0.5]}, "classes must be distinct"),
        ({"holdout": (held_out, digits[3][:5])}, "holdout has NaN or infinity at row 1"),
        ({"holdout": (digits[2][:5], [0, 1, 2, 3, 11])},
         r"a holdout label is 11, not one of the classes"),
        ({"keys": {3: "7"}}, "key '7' is 7's by default"),
        ({"keys": {12: "x"}}, "keys names 12, which is not one of the classes"),
    ]
    for number, (arguments, match) in enumerate(refused):
        arguments = {"X": digits[0], **arguments}
        with pytest.raises(ValueError, match=match):
            LabelingWidget(client, label_file=tmp_path / f"{number}.jsonl", **arguments)
    assert not any(tmp_path.iterdir())  # refused before a label file was made
    assert client.session_id is None and client.spending.total_msat == 0
    assert bob.balance_msat() == before


def test_a_refusal_no_retry_can_fix_says_what_to_correct_and_offers_no_retry(make_widget,
                                                                            stack):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    client = stack.client("bob", stratgy="margin")  # a typo: only the server knows its fields
    widget = make_widget(client=client)
    assert shown(widget) is None
    problem = widget.labeler.problem
    assert problem.kind == "input" and not problem.retry
    message = settled(widget)._message.value
    assert "The server refused it (400): unknown field(s) [&#x27;stratgy&#x27;]" in message
    assert "Retrying cannot fix this: correct it, then run the cells that make the client " \
        "and the widget again" in message and "Retry." not in message
    assert widget._retry.layout.display == "none"
    assert client.session_id is None and client.spending.total_msat == 0  # 0 msat
    assert bob.balance_msat() == before


def test_numpy_classes_are_taken_as_the_plain_values_they_are(make_widget, digits):
    widget = make_widget(classes=np.arange(10))  # as np.unique(y) gives them
    assert widget.labeler.classes == list(range(10))
    assert all(type(c) is int for c in widget.labeler.classes)
    widget._class_buttons[digits[1][shown(widget).index]].click()
    widget.labeler.wait_idle(60)
    assert widget.labeler.problem is None and server_labels(widget) == 1


def test_the_caption_says_no_model_yet_then_how_likely_the_guess_is(make_widget, digits):
    widget = make_widget()
    first = shown(widget)
    assert first.predicted is None and first.top_classes is None  # a spread, no model
    assert widget._guess.value == f"Sample #{first.index}. No model yet: a spread of " \
        "samples to start from."
    assert widget._guess.tooltip is None
    widget.simulate(digits[1], 15)
    ranked = [shown(widget), *widget.labeler._queue]
    assert all(c.top_classes is not None for c in ranked)  # ranked by a fitted model
    for candidate in ranked:
        (label, p), (runner_up, q) = candidate.top_classes
        assert label == candidate.predicted != runner_up and 1 >= p >= q >= 0 and p + q <= 1
        # the margin strategy ranks by 1 - (p - q): that is the uncertainty it reports
        assert candidate.uncertainty == pytest.approx(1 - (p - q))
    assert len({c.top_classes[0][1] for c in ranked}) > 1  # it varies from sample to sample
    (label, p), (runner_up, q) = ranked[0].top_classes
    assert widget._guess.value == (f"Sample #{ranked[0].index}. Model's guess: <b>{label}</b> "
                                   f"({p:.0%}) or {runner_up} ({q:.0%})")
    assert widget._guess.tooltip == GUESS_TOOLTIP


def test_a_queue_ranked_before_the_model_was_ready_is_ranked_again(make_widget):
    mnist = pool_and_holdout()[0]  # 10,000 digits: the first fit waits for their graph
    widget = make_widget(pool=mnist.images)
    labeler, answers = widget.labeler, []
    shown(widget)
    labeler.wait_idle(60)
    query = labeler.client.query
    labeler.client.query = lambda *args, **kwargs: answers.append(
        query(*args, **kwargs)) or answers[-1]  # a spy: the real call goes through
    while len({given.label for given in labeler.given}) < 2:  # a model needs two classes
        labeler.label(mnist.labels[shown(widget).index])
    labeler.wait_idle(60)
    assert any(a["model_version"] < a["labels_version"] for a in answers), \
        "every fit was done before its ranking: nothing here trailed"
    assert answers[-1]["model_version"] == answers[-1]["labels_version"] == len(labeler.given)
    assert labeler._queue and all(c.top_classes is not None for c in labeler._queue)


def test_rankings_and_sends_take_turns_so_a_quick_person_never_runs_dry(make_widget, digits):
    widget = make_widget()
    labeler, truth = widget.labeler, digits[1]
    shown(widget)
    labeler.wait_idle(60)
    client, calls = labeler.client, []
    teach, query = client.teach, client.query

    def teach_while_the_person_clicks(index, label):  # a spy: the real call goes through
        calls.append("teach")
        if len(calls) == 1:  # the person labels the next sample while the server learns
            labeler.label(truth[labeler.current.index])
        return teach(index, label)

    def spied_query(*args, **kwargs):
        calls.append("query")
        return query(*args, **kwargs)

    client.teach, client.query = teach_while_the_person_clicks, spied_query
    labeler.label(truth[labeler.current.index])
    labeler.wait_idle(60)
    assert calls[:4] == ["teach", "query", "teach", "query"]  # not teach, teach, query
    assert set(calls[4:]) <= {"query"}  # a ranking by a model still fitting, asked again
    assert server_labels(widget) == 2



def spy(client, name, before):
    """Run ``before(*args)`` ahead of each real ``client.<name>`` call (a spy, not a mock:
    the real call still goes through) and count the calls."""
    real, calls = getattr(client, name), []

    def spied(*args, **kwargs):
        calls.append(args)
        before(*args)
        return real(*args, **kwargs)

    setattr(client, name, spied)
    return calls


def test_skips_during_a_ranking_never_leave_the_widget_waiting(make_widget, digits):
    widget = make_widget(pool=digits[0][:4])  # the pool's end is near: rankings run short
    labeler = widget.labeler
    first = shown(widget)
    labeler.wait_idle(60)
    assert len(labeler._queue) == 3

    def skip_all_while_the_server_ranks(*args):
        if labeler.current is not None and labeler.current.index != first.index:
            while labeler.skip():  # the person skips every sample there is, quickly
                pass

    spy(labeler.client, "query", skip_all_while_the_server_ranks)
    widget._skip.click()  # the first one; the ranking that follows comes back all taken
    labeler.wait_idle(60)
    status = labeler.status()
    assert status.finished and status.skipped == 4 and labeler.current is None
    assert "every sample is labeled or skipped" in widget._message.value


def test_a_session_lost_again_at_once_is_a_problem_not_an_endless_paid_loop(make_widget,
                                                                            digits):
    widget = make_widget()
    widget.simulate(digits[1], 2)
    client = widget.labeler.client

    def close_the_session(*args):  # someone closes the session before every teach
        requests.delete(client.base_url + "/session", timeout=10,
                        headers={"Authorization": client._authorization})

    spy(client, "teach", close_the_session)
    spy(client, "teach_many", close_the_session)
    payments = client.spending.payments
    widget._class_buttons[digits[1][shown(widget).index]].click()
    widget.labeler.wait_idle(60)
    problem = widget.labeler.problem
    assert problem is not None and problem.kind == "server" and "410" in problem.message
    assert client.spending.payments == payments + 1  # one rebuild was bought, no more
    assert len(widget.labels) == 3 and widget.labeler.status().pending == 3


def test_running_the_cell_again_hands_the_label_file_over(make_widget, digits):
    first = make_widget()
    first.simulate(digits[1], 3)
    client = first.labeler.client
    again = make_widget(client=client)  # the same cell, run again: same client, same file
    assert first.labeler._worker.is_alive() is False  # the old one stepped aside
    again.labeler.wait_idle(60)
    assert again.labels == first.labels and server_labels(again) == 3
    again.simulate(digits[1], 1)
    lines = again.labeler.file.path.read_text().splitlines()
    assert sum('"label"' in line for line in lines) == 4


def test_a_change_the_plot_held_back_is_drawn_moments_later(make_widget, digits):
    widget = make_widget()
    widget.simulate(digits[1], 6)  # ends with a fresh drawing of the plot
    drawn_before = widget.plot_png
    labeler = widget.labeler
    widget._class_buttons[digits[1][labeler.current.index]].click()  # a new guess to plot
    widget._draw_plot()  # too soon after the last drawing: held back, not dropped
    deadline = time.monotonic() + 5
    while widget.plot_png == drawn_before:
        assert time.monotonic() < deadline, "the held-back change was never drawn"
        time.sleep(0.02)
