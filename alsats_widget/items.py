"""What a person sees of each sample: the items, how each kind is drawn, the box it sits in.

The server learns from ``X``; a person labels by looking at ``items``, one per row of ``X``,
which never leave the notebook. ``as_items`` reads any container by position,
``infer_display`` picks a built-in view from the container and its first item, and
``ItemView`` shows item i in a box of fixed size, so the buttons under it never move.
"""

from __future__ import annotations

import html
import io
import logging
import math
import numbers
from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
from PIL import Image
from scipy import sparse

DISPLAYS = ("image", "text", "table")
BOX_SIZES = {"image": (224, 224), "text": (440, 224), "table": (440, 224)}  # width, height px
CALLABLE_BOX = (440, 224)  # a callable may return anything: the wider box
MAX_CHARS = 20_000  # of a text sent to the browser; the rest is counted, not sent
MAX_COLUMNS = 500  # of a table row shown; the rest are counted
MAX_CELL_CHARS = 1_000
JPEG_QUALITY = 90  # of a photo shrunk into the box
PNG_LEVEL = 1  # zlib level: 4 ms for a shrunk photo where level 6 takes 18, for 20% more bytes
PNG_SIGNATURE, JPEG_SIGNATURE = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"
ACCEPTED = "an ipywidget, an HTML string, a PIL image, or PNG or JPEG bytes"
# Enlarged pictures are sent at the size shown; this keeps them crisp on high-DPI screens
# too, where the browser would otherwise smooth them. For the page's <style>.
ITEM_CSS = ".alsats-item-image {image-rendering: pixelated}"
SCROLL = ("box-sizing: border-box; width: 100%; overflow-y: auto; overflow-x: hidden; "
          "line-height: 1.4; padding: 4px 6px; ")
TEXT_STYLE = SCROLL + "white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; "
TABLE_CSS = ("<style>.alsats-item-table table {border-collapse: collapse; width: 100%; "
             "table-layout: fixed; font-size: 12px} .alsats-item-table th, "
             ".alsats-item-table td {text-align: left; vertical-align: top; padding: 1px 6px; "
             "border-bottom: 1px solid #eee; overflow-wrap: anywhere; white-space: normal} "
             ".alsats-item-table th {width: 40%; font-weight: 600}</style>")
NOTE = "color: #777"
MISSING = f"<i style='{NOTE}'>missing</i>"

logger = logging.getLogger(__name__)


# -- the items -----------------------------------------------------------------------------

class ItemSource:
    """Items read by position (``item(i)``), whatever holds them: a sequence, an array, a
    DataFrame (row i as a Series, column -> value) or a Series (its values)."""

    def __init__(self, items: Any) -> None:
        if sparse.issparse(items):
            raise ValueError("items is a sparse matrix, which cannot be shown: pass what a "
                             "person should see of each row (texts, images, a DataFrame)")
        if isinstance(items, pd.DataFrame | pd.Series):
            self._at = items.iloc.__getitem__
        elif (isinstance(items, str | bytes | Mapping) or getattr(items, "ndim", 1) == 0
              or not hasattr(items, "__len__") or not hasattr(items, "__getitem__")):
            raise TypeError("items must be a sequence (texts, PIL images, arrays), an array, "
                            f"a DataFrame or a Series, not {type(items).__name__}")
        else:
            self._at = items.__getitem__
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def item(self, i: int) -> Any:
        if not 0 <= i < len(self.items):
            raise IndexError(f"item {i} of {len(self.items)}")
        return self._at(i)


def as_items(items: Any, X: Any) -> ItemSource:
    """The items a person sees, one per row of ``X``; ``None`` shows ``X`` itself (images
    (n, h, w[, c]), or rows (n, d) as tables). A sparse ``X`` cannot be shown as it is."""
    rows = X.shape[0] if len(getattr(X, "shape", ())) else len(X)
    if items is None:
        if sparse.issparse(X):
            raise ValueError("X is a sparse matrix, which cannot be shown as it is: pass "
                             "items=, what a person should see of each row (the texts, "
                             "images or table the features were made from)")
        items = X if isinstance(X, pd.DataFrame | pd.Series | np.ndarray) else np.asarray(X)
    source = ItemSource(items)
    if len(source) != rows:
        raise ValueError(f"items has {len(source)} items but X has {rows} rows: give one "
                         "item per row of X")
    return source


def infer_display(items: Any) -> str:
    """The built-in view for these items, "image", "text" or "table", told from the
    container and its first item only (so it costs nothing on a big pool); a ValueError
    when neither tells."""
    if isinstance(items, ItemSource):
        items = items.items
    if isinstance(items, pd.DataFrame):
        return "table"
    if isinstance(items, np.ndarray) and items.dtype != object:
        kind, what = _array_kind(items.shape[1:], items.dtype), f"array of shape {items.shape}"
    else:
        if len(items) == 0:
            raise ValueError("there are no items to tell the display from: pass display=")
        first = ItemSource(items).item(0)
        kind, what = _item_kind(first), f"items like {_describe(first)}"
    if kind is None:
        raise ValueError(f"cannot tell how to show {what}: pass display='image', 'text' or "
                         "'table', or display=a function of one item that returns "
                         f"{ACCEPTED}")
    return kind


def _array_kind(shape: tuple[int, ...], dtype: np.dtype) -> str | None:
    """The view for items of this shape and dtype: scalars as text, rows as tables,
    (h, w) and (h, w, 1|3|4) as images."""
    if dtype.kind in "SV" or (dtype.kind in "UO" and len(shape) > 1):
        return None
    if not shape:
        return "text"  # a string or a number
    if len(shape) == 1 or dtype.kind in "UO":
        return "table"
    if dtype.kind in "biuf" and (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))):
        return "image"
    return None


def _item_kind(item: Any) -> str | None:
    if isinstance(item, str | numbers.Number):
        return "text"
    if isinstance(item, Image.Image) or (isinstance(item, bytes)
                                         and item.startswith((PNG_SIGNATURE, JPEG_SIGNATURE))):
        return "image"
    if isinstance(item, pd.Series | Mapping):
        return "table"
    if isinstance(item, np.ndarray | list | tuple):
        array = np.asarray(item)
        return _array_kind(array.shape, array.dtype)
    return None


def _describe(item: Any) -> str:
    shape = getattr(item, "shape", None)
    return f"{type(item).__name__} of shape {shape}" if shape is not None else type(item).__name__


# -- pictures ------------------------------------------------------------------------------

def to_image(item: Any, box: tuple[int, int] | None = None) -> Image.Image:
    """An item as a PIL image in L, RGB or RGBA. Arrays (h, w), (h, w, 1), (h, w, 3) or
    (h, w, 4): uint8 as it is; bool as black and white; integers within 0..255 as they are;
    floats within 0..1 times 255; any other range min-max scaled to 0..255 over the whole
    image (its own darkest value black, its brightest white); NaN and infinities black.
    PNG or JPEG bytes are decoded. Given the ``box`` it will be fitted into, a JPEG much
    larger is decoded at a fraction of its size, and an RGB array much larger comes back
    fitted already (both the fast way)."""
    if isinstance(item, Image.Image):
        return _usable_mode(item)
    if isinstance(item, bytes | bytearray | memoryview):
        return _usable_mode(decode_image(bytes(item), box))
    array = np.asarray(item)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))) or not array.size:
        raise ValueError(f"an image is an array (height, width) or (height, width, 1, 3 or "
                         f"4), not one of shape {array.shape}")
    pixels = _to_uint8(array)
    if box is not None and pixels.ndim == 3 and pixels.shape[2] == 3:
        return _shrunk_photo(pixels, box)
    return Image.fromarray(pixels)


def _shrunk_photo(pixels: np.ndarray, box: tuple[int, int]) -> Image.Image:
    """An RGB array far larger than ``box``, fitted with its rows averaged in blocks first.
    Pillow copies an RGB array whole into its own layout (4 bytes a pixel), which was most
    of the time of showing a photo; a block of rows summed by NumPy is as many times less
    to copy, and Pillow's reduction, then Lanczos, do the rest as they would have."""
    height, width = pixels.shape[:2]
    block = min(256, height, int(max(width / box[0], height / box[1]) / 2))  # uint16 holds it
    if block < 2:
        return Image.fromarray(pixels)
    kept = height - height % block  # the last rows, fewer than a block, are left out
    rows = pixels[:kept].reshape(kept // block, block, width, 3).sum(axis=1, dtype=np.uint16)
    averaged = Image.fromarray(((rows + block // 2) // block).astype(np.uint8))
    return averaged.resize(_shrunk_size((width, height), box), Image.Resampling.LANCZOS,
                           reducing_gap=2.0)


def decode_image(data: bytes, box: tuple[int, int] | None = None) -> Image.Image:
    """PNG or JPEG bytes as an image; a JPEG larger than ``box`` is decoded at a fraction
    of its size (its DCT scaling), which is many times faster for a photo."""
    if not data.startswith((PNG_SIGNATURE, JPEG_SIGNATURE)):
        raise TypeError(f"bytes that are neither PNG nor JPEG (they start {data[:8]!r})")
    image = Image.open(io.BytesIO(data))
    if box is not None and image.format == "JPEG":
        image.draft(None, box)
    return image


def _usable_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("L", "RGB", "RGBA"):
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith(("I", "F")):  # 16- and 32-bit grey: scaled as arrays are
        return to_image(np.asarray(image))
    alpha = "A" in image.mode or "transparency" in image.info
    return image.convert("RGBA" if alpha else "RGB")


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * np.uint8(255)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"image values must be numbers, not {array.dtype}")
    low, high = array.min(), array.max()
    finite = None
    if not math.isfinite(low) or not math.isfinite(high):
        finite = np.isfinite(array)
        if not finite.any():
            return np.zeros(array.shape, np.uint8)
        low, high = array[finite].min(), array[finite].max()
    if array.dtype.kind in "iu" and low >= 0 and high <= 255:
        return array.astype(np.uint8)
    if array.dtype.kind == "f" and low >= 0 and high <= 1:
        scaled = np.multiply(array, 255, dtype=np.float32)  # float32: 8 bits are all we keep
    else:
        scaled = np.subtract(array, low, dtype=np.float32)
        scaled *= np.float32(255.0 / (float(high) - float(low) or 1.0))
    if finite is not None:
        scaled[~finite] = 0
    return np.rint(scaled, out=scaled).astype(np.uint8)


def fit_image(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """The image fitted into ``box`` (width, height), its aspect ratio kept: enlarged by the
    largest whole factor that fits, each pixel a square block (crisp, as pixels are); shrunk
    with a Lanczos filter after a cheap box reduction (smooth, and fast on a photo)."""
    width, height = image.size
    scale = min(box[0] / width, box[1] / height)
    if scale >= 1:
        factor = int(scale)
        if factor == 1:
            return image
        return image.resize((width * factor, height * factor), Image.Resampling.NEAREST)
    return image.resize(_shrunk_size(image.size, box), Image.Resampling.LANCZOS,
                        reducing_gap=2.0)


def _shrunk_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    scale = min(box[0] / size[0], box[1] / size[1])
    return (min(box[0], max(1, round(size[0] * scale))),
            min(box[1], max(1, round(size[1] * scale))))


def _shrunk_photo_of(source: Image.Image, picture: Image.Image, box: tuple[int, int]) -> bool:
    """Whether ``picture`` is an RGB photo shrunk to fit (here, or by to_image before:
    then it fills the box): sent as JPEG. Enlarged pixels stay PNG, crisp."""
    if picture.mode != "RGB" or picture.width > source.width:
        return False
    return picture.width < source.width or picture.width == box[0] or picture.height == box[1]


def jpeg_bytes(image: Image.Image) -> bytes:
    """A shrunk photo as JPEG: 0.3 ms to encode where PNG takes 11, and a fifth of the
    bytes, with no visible loss at this quality (enlarged pixels and grey stay PNG)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()


# -- text and tables -----------------------------------------------------------------------

def text_html(item: Any, height: int) -> str:
    """A text, escaped, wrapped anywhere (a 10,000-letter word too) and scrolling past
    ``height`` px; past MAX_CHARS only the count of the rest is sent to the browser."""
    text = item if isinstance(item, str) else str(item)
    shown = html.escape(text[:MAX_CHARS])
    if len(text) > MAX_CHARS:
        shown += f"<span style='{NOTE}'>… ({len(text) - MAX_CHARS:,} more characters)</span>"
    return f"<div class='alsats-item-text' style='{TEXT_STYLE}height: {height}px'>{shown}</div>"


def table_html(row: Any, height: int) -> str:
    """A row as a two-column table, column and value, escaped and compact (floats to 4
    significant digits, missing values said), scrolling past ``height`` px. The table is
    laid out fixed at the box's width, so no name or value ever widens it."""
    pairs = _pairs(row)
    lines = [f"<tr><th>{_cell(str(name))}</th><td>{format_value(value)}</td></tr>"
             for name, value in islice(pairs, MAX_COLUMNS)]
    more = len(row) - MAX_COLUMNS
    tail = f"<div style='{NOTE}'>… ({more:,} more columns)</div>" if more > 0 else ""
    return (f"{TABLE_CSS}<div class='alsats-item-table' style='{SCROLL}height: {height}px'>"
            f"<table>{''.join(lines)}</table>{tail}</div>")


def _pairs(row: Any):
    if isinstance(row, pd.Series | Mapping):
        return iter(row.items())
    values = np.asarray(row)
    if values.ndim != 1:
        raise ValueError(f"a table row is a Series, a mapping or a 1-D sequence, not an "
                         f"array of shape {values.shape}")
    return ((f"feature {j}", value) for j, value in enumerate(row))


def format_value(value: Any) -> str:
    """One value as compact, escaped HTML: floats to 4 significant digits (whole ones in
    full), missing values (None, NaN, NA, NaT) said as "missing"."""
    if _missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        text = str(bool(value))
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):  # whole floats in full: a row of ints and floats
        number = float(value)                # comes out of pandas as floats
        text = str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.4g}"
    else:
        text = str(value)
    return _cell(text)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, np.datetime64 | np.timedelta64) and bool(np.isnat(value))


def _cell(text: str) -> str:
    if len(text) > MAX_CELL_CHARS:
        return html.escape(text[:MAX_CELL_CHARS]) + "…"
    return html.escape(text)


# -- the box -------------------------------------------------------------------------------

class ItemView(widgets.Box):
    """One item at a time, in a box whose size never changes whatever is shown.

    ``display`` is "image", "text", "table", or a callable ``item -> result``: an ipywidget
    (placed in the box as it is), a string of HTML (the callable's own markup, shown as it
    is: not escaped), a PIL image or PNG/JPEG bytes (fitted as images are). The box holds one
    Image and one HTML widget and shows one of them, so showing an item changes values, not
    children (each change of children is a message to the browser). An item that cannot be
    shown (a callable that raises or returns something else, an image of no image shape)
    puts its error in the box, in red, is logged, and is kept in ``last_error``: None after
    an item shown well.
    """

    def __init__(self, source: ItemSource, display: str | Callable[[Any], Any], *,
                 width: int | None = None, height: int | None = None) -> None:
        if not callable(display) and display not in DISPLAYS:
            raise ValueError(f"display must be one of {DISPLAYS} or a function of one item "
                             f"that returns {ACCEPTED}, not {display!r}")
        default = CALLABLE_BOX if callable(display) else BOX_SIZES[display]
        size = (default[0] if width is None else width, default[1] if height is None else height)
        if not all(isinstance(side, int) and side >= 16 for side in size):
            raise ValueError(f"width and height are whole numbers of pixels, at least 16, "
                             f"not {size}")
        self.source, self.display, self.size = source, display, size
        self.shown: int | None = None
        self.last_error: Exception | None = None
        self._image = widgets.Image(format="png", layout=widgets.Layout(
            margin="0", flex="0 0 auto", display="none"))
        self._image.add_class("alsats-item-image")
        self._html = widgets.HTML(layout=widgets.Layout(width="100%", height="100%",
                                                        margin="0", flex="0 0 auto"))
        super().__init__([self._image, self._html], layout=widgets.Layout(
            width=f"{size[0]}px", height=f"{size[1]}px", overflow="hidden", display="flex",
            align_items="center", justify_content="center", flex="0 0 auto", margin="0"))
        self.add_class("alsats-item")

    def show(self, i: int) -> None:
        """Show item i (an index out of range is an IndexError; any other problem is
        shown in the box and kept in ``last_error``)."""
        item = self.source.item(i)
        try:
            self._render(item)
        except Exception as error:  # the widget must live on: the error is shown and kept
            logger.warning("item %d could not be shown: %s", i, error, exc_info=error)
            self.last_error = error
            self._show_html(_error_html(i, error, self.size[1]))
        else:
            self.last_error = None
        self.shown = i

    def check(self, i: int = 0) -> None:
        """Show item i and raise what kept it from being shown: a display that cannot show
        the items is refused at once, not at the first click."""
        self.show(i)
        if self.last_error is not None:
            raise self.last_error

    def clear(self, text: str = "") -> None:
        """No item: ``text`` (a waiting message) in the same box, centered and grey."""
        self.shown = None
        self._show_html(f"<div style='height: {self.size[1]}px; display: flex; "
                        f"align-items: center; justify-content: center; text-align: center; "
                        f"line-height: 1.4; {NOTE}'>{html.escape(text)}</div>")

    def _render(self, item: Any) -> None:
        if self.display == "image":
            self._show_picture(to_image(item, self.size))
        elif self.display == "text":
            self._show_html(text_html(item, self.size[1]))
        elif self.display == "table":
            self._show_html(table_html(item, self.size[1]))
        else:
            self._show_result(self.display(item))

    def _show_result(self, result: Any) -> None:
        if isinstance(result, widgets.DOMWidget):
            self._show_mode(None, result)
        elif isinstance(result, str):
            self._show_html(f"<div style='{SCROLL}height: {self.size[1]}px'>{result}</div>")
        elif isinstance(result, Image.Image):
            self._show_picture(_usable_mode(result))
        elif isinstance(result, bytes | bytearray | memoryview):
            if not bytes(result[:8]).startswith((PNG_SIGNATURE, JPEG_SIGNATURE)):
                raise TypeError(f"display returned bytes that are neither PNG nor JPEG (they "
                                f"start {bytes(result[:8])!r}); it must return {ACCEPTED}")
            self._show_picture(to_image(result, self.size))
        else:
            raise TypeError(f"display returned {_describe(result)}; it must return {ACCEPTED}")

    def _show_picture(self, image: Image.Image) -> None:
        picture = fit_image(image, self.size)
        shrunk_photo = _shrunk_photo_of(image, picture, self.size)
        encoded = jpeg_bytes(picture) if shrunk_photo else png_bytes(picture)
        with self._image.hold_sync():  # one message for the four
            self._image.format = "jpeg" if shrunk_photo else "png"
            self._image.value = encoded
            self._image.width, self._image.height = (str(side) for side in picture.size)
        self._show_mode(self._image)

    def _show_html(self, markup: str) -> None:
        self._html.value = markup
        self._show_mode(self._html)

    def _show_mode(self, part: widgets.DOMWidget | None, custom: widgets.Widget | None = None
                   ) -> None:
        """Show ``part`` alone (or a callable's widget): messages only for what changes."""
        children = (self._image, self._html) + ((custom,) if custom is not None else ())
        if self.children != children:
            self.children = children
        self._image.layout.display = None if part is self._image else "none"
        self._html.layout.display = None if part is self._html else "none"


def _error_html(i: int, error: Exception, height: int) -> str:
    message = html.escape(f"{type(error).__name__}: {error}")
    return (f"<div class='alsats-item-error' style='{TEXT_STYLE}height: {height}px; "
            f"color: #b00020'>⚠ item {i} could not be shown: {message}</div>")
