"""LabelingWidget: label the sample the model is least sure about, pay per iteration.

Small ipywidgets composed in a VBox: the item (an ``items.ItemView``, a box of fixed
size whatever it shows, so the buttons never move) and the model's guess, one button per
class with Skip and Undo, a status line and a progress bar, a message area, and a live
accuracy plot. Keys go through one ipyevents handler: while the mouse is over the widget,
a class's key labels, ``s`` skips and Backspace undoes (``classes.Classes`` says which
keys are whose), and the notebook's own shortcuts are held off (ipyevents stops those
keys from reaching the notebook). Only X goes to the server; the items stay here.
All the work is the Labeler's; this module only shows it and forwards the clicks.
"""

from __future__ import annotations

import html
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
from ipyevents import Event

from .classes import Classes
from .client import AlsatsClient, check_settings
from .display import X_AXES, accuracy_png
from .items import ITEM_CSS, ItemView, as_items, infer_display
from .labeler import Candidate, Labeler, Status
from .labelfile import LabelFile

DEFAULT_CLASSES = list(range(10))
PLOT_EVERY_SECONDS = 0.3  # the plot redraws at most this often while labels stream in
CLICKS_SHOWN_PER_SECOND, CLICK_BURST = 20, 3  # faster clicks are shown together
WAITING = "alsats-waiting"  # the answer buttons' class while there is no sample to label
CAPTION_LINES = 2  # the caption's height, as wide as the item's box
BUTTON_WIDTH = (48, 160)  # px: a class button's narrowest and widest
CSS = (f".{WAITING} {{opacity: 0.4; pointer-events: none}} "
       # the caption wraps within its fixed box, so the plot beside it never moves
       ".alsats-guess .widget-html-content {white-space: normal; line-height: 1.4em; "
       "overflow: hidden}")
GUESS_TOOLTIP = ("The model's two likeliest classes for this sample, with the probability "
                 "it gives each. It asks about the samples it is least sure of, so a close "
                 "call is what to expect: your label there teaches it the most.")
_WRITERS: dict[Path, weakref.ref] = {}  # label file -> the widget of this kernel writing it


class LabelingWidget(widgets.VBox):
    """Label the samples of ``X`` through ``client``; every label goes to ``label_file``.

    ``X`` is what the server learns from, one row per sample: features (n, d), dense or
    a SciPy sparse matrix, or images (n, h, w) and (n, h, w, 3 or 4). ``items`` is what a
    person sees, one per row of X, and never leaves the notebook: strings, PIL images,
    arrays, a DataFrame (a row each) or a Series; None shows X itself. ``display`` is
    "image", "text", "table" or a function ``item -> widget | HTML | PIL image | PNG``,
    inferred from the items when not given. ``classes``: any values (strings, numbers);
    ``keys={class: key}`` overrides the default keys (see ``alsats_widget.classes``).

    A ``label_file`` that exists is resumed: its labels are taught to the server in one
    call and the counters continue. ``holdout=(X, y)`` adds held-out accuracy to the plot
    (the server sees X, never y). ``target_labels`` sets the progress bar's goal (else it
    shows the budget used). ``window``: guesses in the rolling accuracy. ``item_size``:
    the (width, height) in px of the box an item is shown in. Input the server would
    refuse (the pool, the held-out set, the classes) is a ValueError here, before anything
    is paid.
    """

    def __init__(self, client: AlsatsClient, X: Any, *, items: Any = None,
                 display: str | Callable[[Any], Any] | None = None,
                 classes: Sequence[Any] | None = None, keys: Mapping[Any, str] | None = None,
                 label_file: str | Path = "alsats-labels.jsonl",
                 holdout: tuple[Any, Any] | None = None, target_labels: int | None = None,
                 window: int = 100, prefetch: int = 8,
                 item_size: tuple[int, int] | None = None) -> None:
        for name, value in (("window", window), ("prefetch", prefetch),
                            ("target_labels", target_labels or 1)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        pool = client.check_pool(X, "X")  # the server's rules, from /info: before paying
        source = as_items(items, X)
        self._view = ItemView(source, display or infer_display(source), **_size(item_size))
        self._view.check(0)  # a display that cannot show the items fails now, not on a click
        self.classes = _session_classes(client, classes, keys)
        holdout = _checked_holdout(client, holdout, pool, self.classes)
        self._window = window
        self._target = target_labels
        self._n = len(pool)
        self._label_path = Path(label_file).expanduser().resolve()
        _hand_over(self._label_path)
        label_log = LabelFile(self._label_path, pool, self.classes.wire)  # before any widget
        self._shown: int | None = None
        self._plotted: tuple | None = None
        self._plotted_at = 0.0
        self._plot_later: threading.Timer | None = None
        self._view_lock = threading.Lock()
        self._clicked_at = 0.0
        self._click_tokens = float(CLICK_BURST)
        self._trailing: threading.Timer | None = None
        self._draw_lock = threading.Lock()
        self._build()
        super().__init__([self._title, widgets.HBox([self._left, self._plot_box]),
                          self._status, self._progress, widgets.HBox([self._message,
                                                                     self._retry])])
        self.add_class("alsats-labeling")
        self._keyboard = Event(source=self, watched_events=["keydown"])
        self._keyboard.on_dom_event(self._on_key)
        self.labeler = Labeler(client, pool, self.classes.wire, label_log, holdout=holdout,
                               prefetch=prefetch, on_change=self._refresh)
        _WRITERS[self._label_path] = weakref.ref(self)
        self._refresh(True)

    # -- the parts ---------------------------------------------------------------------

    def _build(self) -> None:
        width = f"{self._view.size[0]}px"
        self._title = widgets.HTML(f"<style>{CSS} {ITEM_CSS}</style><b>alsats</b>: label the "
                                   "sample the model is least sure about. Hover here and "
                                   f"type: {self.classes.help_html()}.")
        self._guess = widgets.HTML(layout=widgets.Layout(
            width=width, height=f"{1.4 * CAPTION_LINES}em"))
        self._class_buttons = [self._button(i) for i in range(len(self.classes))]
        self._skip = widgets.Button(description="Skip", icon="forward",
                                    tooltip=_key_tip(self.classes.skip_keys))
        self._undo = widgets.Button(description="Undo", icon="undo",
                                    tooltip=_key_tip(self.classes.undo_keys))
        self._skip.on_click(lambda _: self.labeler.skip())
        self._undo.on_click(lambda _: self.labeler.undo())
        self._answers = widgets.GridBox(  # greyed out as one while there is no sample
            self._class_buttons, layout=widgets.Layout(
                width=width, grid_gap="4px",
                grid_template_columns=f"repeat(auto-fill, {_button_width(self.classes)}px)"))
        self._left = widgets.VBox([self._view, self._guess, self._answers,
                                   widgets.HBox([self._skip, self._undo])],
                                  layout=widgets.Layout(width=width, flex="0 0 auto"))
        self._plot = widgets.Image(format="png")
        self._x_axis = widgets.ToggleButtons(options=[(v, k) for k, v in X_AXES.items()],
                                             value="labels", description="x axis:")
        self._x_axis.observe(lambda _: self._draw_plot(force=True), names="value")
        self._plot_box = widgets.VBox([self._plot, self._x_axis])
        self._status = widgets.HTML()
        self._progress = widgets.FloatProgress(min=0.0, max=1.0, bar_style="info")
        self._message = widgets.HTML()
        self._retry = widgets.Button(description="Retry", button_style="warning",
                                     layout=widgets.Layout(display="none"))
        self._retry.on_click(lambda _: self.labeler.retry())
        for part, name in ((self._view, "sample"), (self._guess, "guess"),
                           (self._skip, "skip"), (self._undo, "undo"), (self._plot, "plot"),
                           (self._x_axis, "x-axis"), (self._status, "status"),
                           (self._progress, "progress"), (self._message, "message"),
                           (self._retry, "retry")):
            part.add_class(f"alsats-{name}")  # names for the page's CSS and browser tests

    def _button(self, position: int) -> widgets.Button:
        key = self.classes.key_of(position)
        wire = self.classes.wire[position]
        button = widgets.Button(description=str(self.classes.user[position]),
                                tooltip=f"key: {key}" if key else "",
                                layout=widgets.Layout(width=f"{_button_width(self.classes)}px"))
        button.add_class("alsats-class")
        button.on_click(lambda _, wire=wire: self.labeler.label(wire))
        return button

    # -- input -------------------------------------------------------------------------

    def _on_key(self, event: dict) -> None:
        """The one keyboard handler: a class's key, s, or Backspace; nothing else.

        A key event with no ``location`` is not the browser's but a copy the notebook
        replayed: Notebook 7 holds 0 back as the start of its "0, 0" shortcut, then, a
        second later, dispatches a bare Event with the key to the widget. The person
        pressed once, and the widget has it already."""
        if event.get("type") != "keydown" or "location" not in event or event.get(
                "repeat") or any(event.get(m) for m in ("ctrlKey", "metaKey", "altKey")):
            return
        key = event.get("key")
        if key in self.classes.keys:
            self.labeler.label(self.classes.wire[self.classes.keys[key]])
        elif key in self.classes.skip_keys:
            self.labeler.skip()
        elif key in self.classes.undo_keys:
            self.labeler.undo()

    def simulate(self, oracle_labels: Any, n: int | None = None, *,
                 wait_for_model: bool = True, timeout: float = 120.0) -> int:
        """Label ``n`` samples (all, if None) by clicking the true label's button, as a
        person would; ``oracle_labels[i]`` is sample i's label, one of the classes. With
        ``wait_for_model`` each click waits until the server has learned the previous
        labels, like a person who takes their time. Returns how many were labeled."""
        oracle = list(oracle_labels)
        if len(oracle) != self._n:
            raise ValueError(f"oracle_labels has {len(oracle)} labels for a pool of "
                             f"{self._n} samples")
        done = 0
        while n is None or done < n:
            if wait_for_model:
                self.labeler.wait_idle(timeout)
            shown = self.labeler.wait_for_sample(timeout)
            if shown is None:
                break  # the pool is done, or a problem stopped the work
            truth = self.classes.to_wire(oracle[shown.index], f"oracle_labels[{shown.index}]")
            self._class_buttons[self.classes.wire.index(truth)].click()
            done += 1
        self.labeler.wait_idle(timeout)
        self._draw_plot(force=True)
        return done

    # -- output ------------------------------------------------------------------------

    def _refresh(self, background: bool) -> None:
        """Show the labeler's state; the plot only from the worker, so clicks stay fast.

        Clicks are shown at once, up to CLICK_BURST in a row and CLICKS_SHOWN_PER_SECOND
        after that; faster ones (a machine's) are shown together by one refresh a moment
        later: the notebook's message channel would drop messages under thousands of
        updates a minute."""
        if not hasattr(self, "labeler"):
            return
        with self._view_lock:  # the click's thread and the worker's: the newest state wins
            now = time.monotonic()
            if not background:  # a token bucket: one token a click, refilled at the rate
                self._click_tokens = min(CLICK_BURST, self._click_tokens + (
                    now - self._clicked_at) * CLICKS_SHOWN_PER_SECOND)
                self._clicked_at = now
            if background or self._click_tokens >= 1:
                self._click_tokens -= 0 if background else 1
                self._show_state()
            elif self._trailing is None:
                self._trailing = threading.Timer(1 / CLICKS_SHOWN_PER_SECOND,
                                                 self._show_trailing)
                self._trailing.daemon = True
                self._trailing.start()
        if background:
            self._draw_plot()

    def _show_trailing(self) -> None:
        with self._view_lock:
            self._trailing = None
            self._show_state()

    def _show_state(self) -> None:
        """Every part but the plot, from one reading of the state (view lock held)."""
        status = self.labeler.status()
        self._show_sample(self.labeler.current, status)
        self._status.value = _status_html(status)
        self._show_progress(status)
        self._show_problem(status)

    def _show_sample(self, current: Candidate | None, status: Status) -> None:
        # one message each, not one per button: a class on the grid, not `disabled` on each
        if current is None:
            self._answers.add_class(WAITING)
        else:
            self._answers.remove_class(WAITING)
        self._skip.disabled = current is None
        self._undo.disabled = status.labels == 0
        if current is None:
            if self._shown is not None:
                self._view.clear()
            self._shown = None
            self._guess.value = _waiting_html(status)
            return
        if current.index != self._shown:
            self._view.show(current.index)
            self._shown = current.index
        self._guess.value = f"Sample #{current.index}. {_guess_html(current, self.classes)}"
        self._guess.tooltip = GUESS_TOOLTIP if current.top_classes else None

    def _show_progress(self, status: Status) -> None:
        with self._progress.hold_sync():  # one message for the three traits
            self._set_progress(status)

    def _set_progress(self, status: Status) -> None:
        if status.uploaded:  # the pool on its way: the bar shows how much is up
            sent, total = status.uploaded
            self._progress.value = sent / total
            self._progress.description = "upload"
        elif self._target:
            self._progress.value = min(1.0, status.labels / self._target)
            self._progress.description = f"{status.labels}/{self._target}"
        else:
            budget = self.labeler.client.budget_msat
            self._progress.value = min(1.0, self.labeler.client.spending.total_msat / budget)
            self._progress.description = "budget"
        self._progress.bar_style = "success" if self._progress.value >= 1.0 else "info"

    def _show_problem(self, status: Status) -> None:
        problem = status.problem
        if problem is None and status.finished:
            self._message.value = "<b>Done</b>: every sample is labeled or skipped."
        elif problem is None:
            self._message.value = ""
        else:
            text = html.escape(problem.message)
            self._message.value = f"<span style='color:#b00020'>⚠ {text}</span>"
        self._retry.layout.display = None if problem is not None and problem.retry else "none"

    def _draw_plot(self, force: bool = False) -> None:
        """Redraw when the data changed, at most every PLOT_EVERY_SECONDS unless forced;
        a change within that time is drawn when it is up, so the last one always shows."""
        rolling = self.labeler.rolling_accuracy(self._window)
        holdout = list(self.labeler.holdout_accuracy)
        x_axis = self._x_axis.value
        key = (len(rolling), rolling[-1:], len(holdout), x_axis)
        with self._draw_lock:
            wait = self._plotted_at + PLOT_EVERY_SECONDS - time.monotonic()
            if key == self._plotted:
                return
            if wait > 0 and not force:
                if self._plot_later is None or not self._plot_later.is_alive():
                    self._plot_later = threading.Timer(wait, self._draw_plot,
                                                       kwargs={"force": True})
                    self._plot_later.daemon = True
                    self._plot_later.start()
                return
            self._plot.value = accuracy_png(_axis(rolling, x_axis), _axis(holdout, x_axis),
                                            x_axis=x_axis, window=self._window)
            self._plotted, self._plotted_at = key, time.monotonic()

    # -- the labels --------------------------------------------------------------------

    @property
    def status(self) -> Status:
        """The counters the status line shows: labels, iterations paid, msat spent, ..."""
        return self.labeler.status()

    @property
    def labels(self) -> dict[int, Any]:
        """The labels given so far: sample index -> label (one of the classes)."""
        return {given.index: self.classes.to_user(given.label)
                for given in list(self.labeler.given)}

    def to_dataframe(self) -> pd.DataFrame:
        """The labels in the order given, with the model's guess before each (the
        index is the row of X and of the items)."""
        to_user = self.classes.to_user
        return pd.DataFrame(
            [(g.index, to_user(g.label), to_user(g.predicted), g.uncertainty)
             for g in list(self.labeler.given)],
            columns=["index", "label", "predicted", "uncertainty"])

    def accuracy(self) -> pd.DataFrame:
        """The plot's points, one row per label count: ``rolling`` (the model's guesses
        before each label, over the window) and ``held_out`` (NaN where not measured)."""
        columns = ["labels", "msat_spent", "accuracy"]
        rolling = pd.DataFrame(self.labeler.rolling_accuracy(self._window), columns=columns)
        held_out = pd.DataFrame(list(self.labeler.holdout_accuracy), columns=columns)
        frame = rolling.merge(held_out, on="labels", how="outer",
                              suffixes=("_rolling", "_held_out"))
        return pd.DataFrame({
            "labels": frame["labels"],
            "msat_spent": frame["msat_spent_rolling"].fillna(frame["msat_spent_held_out"]),
            "rolling": frame["accuracy_rolling"], "held_out": frame["accuracy_held_out"],
        }).sort_values("labels", ignore_index=True)

    @property
    def plot_png(self) -> bytes:
        """The accuracy plot as shown, as PNG bytes (for a report, or IPython's Image)."""
        return bytes(self._plot.value)

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        self.to_dataframe().to_csv(path, index=False)
        return path

    def close(self) -> None:
        """Stop the worker and close the label file (the server session stays open)."""
        if hasattr(self, "labeler"):  # not when __init__ refused its arguments
            self.labeler.close()
            if _WRITERS.get(self._label_path, lambda: None)() is self:
                del _WRITERS[self._label_path]
        if hasattr(self, "_keyboard"):
            self._keyboard.close()
        for timer in (getattr(self, "_trailing", None), getattr(self, "_plot_later", None)):
            if timer is not None:
                timer.cancel()
        super().close()


def _hand_over(path: Path) -> None:
    """Running a widget's cell again makes a new widget on the same label file: the old
    one (its view is gone with the cell's output) is closed, and the new one resumes."""
    writer = _WRITERS.get(path)
    old = writer() if writer is not None else None
    if old is not None:
        old.close()


def _size(item_size: tuple[int, int] | None) -> dict:
    if item_size is None:
        return {}
    width, height = item_size
    return {"width": width, "height": height}


def _key_tip(keys: Sequence[str]) -> str:
    return f"key: {keys[0]}" if keys else "no key: a class has it"


def _button_width(classes: Classes) -> int:
    """One width for every class button (px), from the longest name, within limits."""
    longest = max(len(str(c)) for c in classes.user)
    return min(BUTTON_WIDTH[1], max(BUTTON_WIDTH[0], 8 * longest + 20))


def _checked_holdout(client: AlsatsClient, holdout: tuple[Any, Any] | None,
                     pool: np.ndarray, classes: Classes) -> tuple[np.ndarray, list] | None:
    """The held-out set as the server takes it, its labels as the server's classes."""
    if holdout is None:
        return None
    if not isinstance(holdout, tuple | list) or len(holdout) != 2:
        raise ValueError("holdout must be a pair (X, y) of held-out samples and their labels")
    x = client.check_pool(holdout[0], "holdout")
    y = list(holdout[1])
    if x.shape[1:] != pool.shape[1:]:
        raise ValueError(f"holdout samples have shape {x.shape[1:]}; X's are "
                         f"{pool.shape[1:]}")
    if len(x) != len(y):
        raise ValueError(f"holdout has {len(x)} samples but {len(y)} labels")
    return x, [classes.to_wire(label, "a holdout label") for label in y]


def _session_classes(client: AlsatsClient, classes: Sequence[Any] | None,
                     keys: Mapping[Any, str] | None) -> Classes:
    """The classes, made the client's pool-mode session settings (checked against them)."""
    settings = client.settings
    if settings.get("mode", "pool") != "pool":
        raise ValueError("the widget needs a pool-mode client: AlsatsClient(..., mode='pool')")
    chosen = Classes(classes if classes is not None else settings.get("classes")
                     or DEFAULT_CLASSES, keys)
    known = settings.get("classes")
    if known is not None and list(known) != chosen.wire:
        raise ValueError(f"classes {chosen.user} differ from the client's {list(known)}")
    checked = check_settings({**settings, "mode": "pool", "classes": chosen.wire})
    if client.session_id is None:
        settings.update(checked)
    return chosen


def _axis(points: list[tuple], x_axis: str) -> list[tuple[float, float]]:
    """(labels, msat, accuracy) points as (x, accuracy) for the chosen x axis."""
    if x_axis == "labels":
        return [(labels, accuracy) for labels, _, accuracy in points]
    return [(msat / 1000, accuracy) for _, msat, accuracy in points if msat is not None]


def _guess_html(current: Candidate, classes: Classes) -> str:
    """The model's guess for the sample shown, with how likely it finds its two likeliest
    classes (the uncertainty score says little: the samples shown all score near 1)."""
    if current.predicted is None:
        return "No model yet: a spread of samples to start from."
    guess = f"Model's guess: <b>{html.escape(str(classes.to_user(current.predicted)))}</b>"
    if not current.top_classes:
        return guess  # shown again from the label file: the probabilities were not kept
    (_, likeliest), (runner_up, its) = current.top_classes
    runner_up = classes.to_user(runner_up)
    return f"{guess} ({likeliest:.0%}) or {html.escape(str(runner_up))} ({its:.0%})"


def _status_html(status: Status) -> str:
    balance = "…" if status.balance_msat is None else f"{status.balance_msat // 1000:,} sat"
    pending = f" · {status.pending} to send" if status.pending else ""
    return (f"labels <b>{status.labels}</b> · skipped {status.skipped} · iterations paid "
            f"<b>{status.iterations_paid}</b> · spent <b>{status.msat_spent:,} msat</b> · "
            f"credits left {status.credits_left} · wallet {balance}{pending}")


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 10e6 else f"{n / 1e6:,.0f} MB"


def _waiting_html(status: Status) -> str:
    if status.finished:
        return "Nothing left to label."
    if status.problem is not None:
        return "Stopped: see the message below."
    if not status.connected and status.uploaded:
        sent, total = status.uploaded
        return (f"Connecting: sending the pool to the server… {sent / total:.0%} of "
                f"{_megabytes(total)}")
    if not status.connected:
        return "Connecting: sending the pool to the server…"
    return "Waiting for the server's next pick…"
