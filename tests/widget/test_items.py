"""How an item is shown: every container read by position, the view inferred, each view's
output (pictures decoded with Pillow, text and tables parsed), and a box that never moves."""

from __future__ import annotations

import io
import logging
from html.parser import HTMLParser

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import sparse

from alsats_widget.items import (
    BOX_SIZES,
    CALLABLE_BOX,
    DISPLAYS,
    MAX_CHARS,
    MAX_COLUMNS,
    ItemView,
    as_items,
    fit_image,
    format_value,
    infer_display,
    to_image,
)

RNG = np.random.default_rng(14)
DIGIT = RNG.integers(0, 256, size=(28, 28), dtype=np.uint8)
PATCH = RNG.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)


def png_of(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def decoded(view: ItemView) -> Image.Image:
    """The picture the view sends to the browser, and a check that it is what it shows."""
    image = Image.open(io.BytesIO(view._image.value))
    assert (view._image.width, view._image.height) == (str(image.width), str(image.height))
    assert image.width <= view.size[0] and image.height <= view.size[1]
    assert view._image.layout.display is None and view._html.layout.display == "none"
    return image


def shown(items, display=None, X=None, i=0, **size) -> ItemView:
    """A view of ``items`` (inferred display unless given) showing item i, shown well."""
    source = as_items(items, X if X is not None else np.zeros((len(items), 2)))
    view = ItemView(source, display or infer_display(source), **size)
    view.show(i)
    assert view.last_error is None, view.last_error
    return view


class Cells(HTMLParser):
    """The (th, td) text pairs of a table, as a browser would show them (entities read)."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._in = False
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        self._in = tag in ("th", "td") or (self._in and tag == "i")
        if tag in ("th", "td"):
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.rows[-1][-1] += data


def cells(view: ItemView) -> dict[str, str]:
    assert view._html.layout.display is None and view._image.layout.display == "none"
    return {name: value for name, value in Cells(view._html.value).rows}


# -- containers ----------------------------------------------------------------------------

@pytest.mark.parametrize(("items", "i", "expected"), [
    (["a", "b", "c"], 1, "b"),
    (("a", "b", "c"), 2, "c"),
    (np.array(["x", "y", "z"]), 0, "x"),
    (pd.Series(["p", "q", "r"], index=[10, 20, 30]), 1, "q"),  # by position, not label
])
def test_texts_are_read_by_position_from_any_container(items, i, expected):
    assert as_items(items, np.zeros((3, 4))).item(i) == expected


def test_arrays_and_pictures_are_read_by_position():
    images = RNG.integers(0, 256, size=(3, 5, 6, 3), dtype=np.uint8)
    source = as_items(images, np.zeros((3, 7)))
    assert (source.item(2) == images[2]).all() and len(source) == 3
    pictures = [Image.fromarray(image) for image in images]
    assert as_items(pictures, images).item(1) is pictures[1]
    arrays = [image[:, :, 0] for image in images]
    assert as_items(arrays, images).item(0) is arrays[0]


def test_a_dataframe_row_is_a_series_of_column_values():
    frame = pd.DataFrame({"bill": [39.1, 46.5], "island": ["Biscoe", "Dream"]},
                         index=["first", "second"])
    row = as_items(frame, np.zeros((2, 3))).item(1)
    assert isinstance(row, pd.Series) and row.to_dict() == {"bill": 46.5, "island": "Dream"}


def test_without_items_x_itself_is_shown():
    digits = RNG.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    assert (as_items(None, digits).item(3) == digits[3]).all()
    rows = [[1.0, 2.0], [3.0, 4.0]]
    assert as_items(None, rows).item(1).tolist() == [3.0, 4.0]
    frame = pd.DataFrame({"a": [1, 2]})
    assert as_items(None, frame).item(0)["a"] == 1


def test_a_sparse_x_without_items_says_to_pass_items():
    with pytest.raises(ValueError, match="items="):
        as_items(None, sparse.csr_matrix(np.eye(3)))
    assert as_items(["a", "b", "c"], sparse.csr_matrix(np.eye(3))).item(2) == "c"
    with pytest.raises(ValueError, match="sparse"):
        as_items(sparse.csr_matrix(np.eye(3)), np.eye(3))


def test_items_of_another_length_than_x_are_refused_with_both_lengths():
    with pytest.raises(ValueError, match=r"items has 2 items but X has 3 rows"):
        as_items(["a", "b"], np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"4 items but X has 3 rows"):
        as_items(pd.DataFrame({"a": range(4)}), [[0], [1], [2]])


@pytest.mark.parametrize("items", ["one string", {"a": 1}, 42, {1, 2, 3}, np.float64(1.0)])
def test_what_is_not_a_container_of_items_is_refused(items):
    with pytest.raises(TypeError, match="items must be a sequence"):
        as_items(items, np.zeros((1, 1)))


def test_an_index_out_of_range_is_an_index_error():
    source = as_items(["a"], np.zeros((1, 1)))
    with pytest.raises(IndexError):
        source.item(1)
    with pytest.raises(IndexError):
        source.item(-1)


# -- which view ----------------------------------------------------------------------------

@pytest.mark.parametrize(("items", "expected"), [
    (["a text", "another"], "text"),
    (np.array(["a", "b"]), "text"),
    (pd.Series(["a", "b"]), "text"),
    ([Image.new("RGB", (4, 4))], "image"),
    ([png_of(Image.new("L", (4, 4)))], "image"),
    (np.zeros((2, 28, 28)), "image"),
    (np.zeros((2, 8, 8, 1)), "image"),
    (np.zeros((2, 8, 8, 3), np.uint8), "image"),
    (np.zeros((2, 8, 8, 4)), "image"),
    ([np.zeros((8, 8)), np.zeros((9, 9))], "image"),  # pictures of different sizes
    ([[[0, 1], [1, 0]]], "image"),
    (np.zeros((2, 30)), "table"),
    ([np.zeros(30)], "table"),
    (pd.DataFrame({"a": [1, 2]}), "table"),
    ([{"a": 1}, {"a": 2}], "table"),
    ([pd.Series({"a": 1})], "table"),
])
def test_the_view_is_inferred_from_the_container_and_its_first_item(items, expected):
    assert infer_display(items) == expected
    assert infer_display(as_items(items, np.zeros((len(items), 1)))) == expected


@pytest.mark.parametrize("items", [[object()], [{1, 2}], np.zeros((2, 8, 8, 5)),
                                   [b"not a picture"], np.zeros((2, 2, 2, 2, 2))])
def test_items_that_say_nothing_ask_for_display_or_a_callable(items):
    with pytest.raises(ValueError, match="display=.*a function of one item"):
        infer_display(items)


def test_inference_looks_at_the_first_item_only():
    class Counted(list):
        read: list[int] = []

        def __getitem__(self, i):
            self.read.append(i)
            return super().__getitem__(i)

    items = Counted(["a text"] + [object()] * 1000)
    assert infer_display(items) == "text" and items.read == [0]


# -- pictures ------------------------------------------------------------------------------

def test_a_digit_is_enlarged_crisply_to_fill_the_box():
    picture = np.asarray(decoded(shown([DIGIT], "image")))
    assert picture.shape == (224, 224)
    assert (picture.reshape(28, 8, 28, 8) == DIGIT[:, None, :, None]).all()  # 8x8 blocks


def test_enlarging_uses_the_largest_whole_factor_that_fits_and_keeps_the_aspect():
    image = RNG.integers(0, 256, size=(20, 30), dtype=np.uint8)  # 30 wide, 20 high
    picture = np.asarray(decoded(shown([image], "image")))
    assert picture.shape == (140, 210)  # x7: 224 / 30 = 7.5
    assert (picture.reshape(20, 7, 30, 7) == image[:, None, :, None]).all()
    assert len(np.unique(picture)) == len(np.unique(image))  # no colour made up


def test_a_colour_patch_keeps_its_colours_exactly():
    picture = decoded(shown([PATCH], "image"))
    assert picture.mode == "RGB" and picture.size == (224, 224)
    assert (np.asarray(picture)[::7, ::7] == PATCH).all()


def test_transparency_is_kept():
    rgba = RNG.integers(0, 256, size=(16, 16, 4), dtype=np.uint8)
    picture = decoded(shown([rgba], "image"))
    assert picture.mode == "RGBA"
    assert (np.asarray(picture)[::14, ::14] == rgba).all()


def test_a_big_photo_is_shrunk_smoothly_into_the_box():
    # one-pixel stripes: shrinking by picking pixels would give black and white, a filter grey
    stripes = np.zeros((1500, 2000, 3), np.uint8)
    stripes[:, ::2] = 255
    picture = decoded(shown([stripes], "image"))
    assert picture.size == (224, 168)  # 4:3 kept
    middle = np.asarray(picture)[10:-10, 10:-10]
    assert middle.min() >= 110 and middle.max() <= 145


@pytest.mark.parametrize("shape", [(1500, 2000, 3), (1501, 2003, 3), (450, 2500, 3)])
def test_a_photo_array_is_shrunk_as_pillow_would_shrink_it(shape):
    y, x = np.mgrid[: shape[0], : shape[1]]  # gradients, and a dark block with sharp edges
    photo = np.stack([x * 255 // shape[1], y * 255 // shape[0],
                      (x + y) * 255 // (shape[0] + shape[1])], -1).astype(np.uint8)
    photo[: shape[0] // 2, : shape[1] // 3] //= 4
    fast = to_image(photo, (224, 224))  # its rows averaged by NumPy first
    plain = fit_image(Image.fromarray(photo), (224, 224))
    assert fast.size == plain.size and fit_image(fast, (224, 224)) is fast
    difference = np.asarray(fast, int) - np.asarray(plain, int)
    assert np.percentile(np.abs(difference), 99) <= 1 and np.abs(difference).max() <= 8
    assert abs(difference.mean()) < 0.1  # no brighter, no darker


def test_a_tall_picture_fits_by_its_height():
    assert decoded(shown([np.zeros((1000, 100), np.uint8)], "image")).size == (22, 224)


@pytest.mark.parametrize(("shape", "size"), [((3, 10_000, 3), (224, 1)),
                                             ((1, 5_000, 3), (224, 1)),
                                             ((5_000, 1), (1, 224))])
def test_a_thin_strip_stays_a_strip(shape, size):
    assert decoded(shown([np.full(shape, 200, np.uint8)], "image")).size == size


@pytest.mark.parametrize(("values", "expected"), [
    (np.array([[0.0, 0.5], [1.0, 0.25]]), [[0, 128], [255, 64]]),  # floats in 0..1
    (np.array([[-1.0, 0.0], [1.0, 3.0]]), [[0, 64], [128, 255]]),  # other floats: min-max
    (np.array([[0, 7], [200, 255]], np.int64), [[0, 7], [200, 255]]),  # 0..255 as it is
    (np.array([[0, 1000], [2000, 4000]], np.uint16), [[0, 64], [128, 255]]),  # min-max
    (np.array([[True, False], [False, True]]), [[255, 0], [0, 255]]),
    (np.array([[np.nan, 0.0], [0.5, 1.0]]), [[0, 0], [128, 255]]),  # NaN black
    (np.array([[np.inf, 2.0], [3.0, 4.0]]), [[0, 0], [128, 255]]),
    (np.full((2, 2), np.nan), [[0, 0], [0, 0]]),
    (np.array([[[9], [9]], [[9], [9]]], np.uint8), [[9, 9], [9, 9]]),  # (h, w, 1)
])
def test_values_of_every_kind_become_grey_levels(values, expected):
    assert np.asarray(to_image(values)).tolist() == expected


def test_float_colour_images_are_scaled_over_all_channels():
    rgb = np.zeros((2, 2, 3))
    rgb[0, 0] = (1.0, 0.5, 0.0)
    assert np.asarray(to_image(rgb))[0, 0].tolist() == [255, 128, 0]


@pytest.mark.parametrize(("image", "mode"), [
    (Image.new("P", (8, 8)), "RGB"), (Image.new("1", (8, 8)), "L"),
    (Image.new("LA", (8, 8)), "RGBA"), (Image.new("CMYK", (8, 8)), "RGB"),
    (Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000), "L"),
])
def test_pil_images_of_any_mode_are_shown(image, mode):
    assert decoded(shown([image], "image")).mode == mode


def test_png_and_jpeg_bytes_are_pictures_too():
    photo = Image.fromarray(RNG.integers(0, 256, size=(600, 800, 3), dtype=np.uint8))
    for data in (png_of(photo), png_of(photo, "JPEG")):
        assert decoded(shown([data], "image")).size == (224, 168)


def test_fitting_leaves_a_picture_that_fits_as_it_is():
    image = Image.new("RGB", (150, 200))
    assert fit_image(image, (224, 224)) is image


@pytest.mark.parametrize("item", [np.zeros((5, 5, 2)), np.zeros(7), np.zeros((0, 3)),
                                  np.array([["a", "b"]]), "a text"])
def test_an_item_that_is_no_picture_is_an_error_in_the_box(item):
    view = ItemView(as_items([item], [[0]]), "image")
    view.show(0)
    assert isinstance(view.last_error, ValueError | TypeError)
    assert "could not be shown" in view._html.value and view._image.layout.display == "none"
    with pytest.raises(type(view.last_error)):
        view.check(0)
    good = ItemView(as_items([DIGIT], [[0]]), "image")
    good.check()  # no error: nothing raised
    assert good.shown == 0 and good.last_error is None


# -- text ----------------------------------------------------------------------------------

def test_text_is_escaped():
    view = shown(["<script>alert('hi')</script> & more"])
    assert "<script>" not in view._html.value
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt; &amp; more" in view._html.value


def test_text_wraps_anywhere_and_scrolls_within_a_fixed_height():
    view = shown(["x" * 10_000], "text")
    style = view._html.value.split("style='")[1].split("'")[0]
    for rule in ("white-space: pre-wrap", "overflow-wrap: anywhere", "overflow-y: auto",
                 f"height: {view.size[1]}px"):
        assert rule in style


def test_a_huge_text_is_capped_before_the_browser():
    text = "word " * 20_000  # 100,000 characters
    value = shown([text], "text")._html.value
    assert len(value) < MAX_CHARS + 1_000
    assert f"({len(text) - MAX_CHARS:,} more characters)" in value
    assert len(shown(["short"], "text")._html.value) < 1_000
    assert "more characters" not in shown(["a" * MAX_CHARS], "text")._html.value


def test_anything_is_shown_as_text_by_its_string():
    assert ">12.5</div>" in shown([12.5], "text")._html.value


# -- tables --------------------------------------------------------------------------------

def test_a_row_is_a_table_of_columns_and_compact_values():
    frame = pd.DataFrame({"bill length": [39.123456], "island": ["<b>Biscoe</b>"],
                          "count": [7], "mass": [np.nan], "sex": [None], "big": [1.5e9],
                          "when": [pd.NaT], "ok": [True]})
    assert cells(shown(frame)) == {"bill length": "39.12", "island": "<b>Biscoe</b>",
                                   "count": "7", "mass": "missing", "sex": "missing",
                                   "big": "1500000000", "when": "missing", "ok": "True"}
    assert "&lt;b&gt;Biscoe" in shown(frame)._html.value  # shown as text, not markup


def test_numeric_rows_are_named_by_feature():
    assert cells(shown(np.array([[0.5, 1 / 3, 2e-7]]))) == {
        "feature 0": "0.5", "feature 1": "0.3333", "feature 2": "2e-07"}
    assert cells(shown([{"a": 1.0, "b": float("inf")}])) == {"a": "1", "b": "inf"}


def test_many_columns_scroll_and_are_capped():
    wide = pd.DataFrame([range(MAX_COLUMNS + 100)], columns=[f"c{j}" for j in range(600)])
    view = shown(wide)
    assert len(cells(view)) == MAX_COLUMNS and "(100 more columns)" in view._html.value
    assert "table-layout: fixed" in view._html.value and "overflow-y: auto" in view._html.value


def test_long_names_and_values_are_cut():
    row = cells(shown([{"n" * 5000: "v" * 5000}]))
    (name, value), = row.items()
    assert len(name) < 1100 and len(value) < 1100 and value.endswith("…")


@pytest.mark.parametrize(("value", "text"), [
    (3.14159, "3.142"), (np.float32(0.1), "0.1"), (np.int64(12), "12"),
    (np.bool_(False), "False"), (-0.000123456, "-0.0001235"), (2.5e20, "2.5e+20"),
    (np.datetime64("NaT"), "missing"), (pd.NA, "missing"), (float("nan"), "missing"),
    (pd.Timestamp("2024-01-02"), "2024-01-02 00:00:00"), ("a & b", "a &amp; b"),
])
def test_values_are_formatted_compactly(value, text):
    formatted = format_value(value)
    assert formatted == text or (text == "missing" and ">missing<" in formatted)


# -- callables -----------------------------------------------------------------------------

def test_a_callable_widget_is_placed_in_the_box():
    made = []

    def make(item):
        made.append(widgets.Button(description=item))
        return made[-1]

    view = shown(["a", "b"], make)
    assert view.children[-1] is made[0] and len(view.children) == 3
    assert view._image.layout.display == view._html.layout.display == "none"
    view.show(1)
    assert view.children[-1] is made[1] and len(view.children) == 3


def test_a_callable_string_is_its_own_markup():
    view = shown(["a"], lambda item: f"<b class='mine'>{item}</b>")
    assert "<b class='mine'>a</b>" in view._html.value
    assert view._html.layout.display is None and view._image.layout.display == "none"


@pytest.mark.parametrize("kind", ["pil", "png", "jpeg", "bytearray"])
def test_a_callable_picture_is_fitted_as_images_are(kind):
    def draw(item):
        image = Image.fromarray(item)
        return {"pil": image, "png": png_of(image), "jpeg": png_of(image, "JPEG"),
                "bytearray": bytearray(png_of(image))}[kind]

    picture = decoded(shown([DIGIT], draw))
    assert picture.size == (224, 224)  # x8 in the callable's 440 x 224 box
    if kind != "jpeg":
        assert (np.asarray(picture)[::8, ::8] == DIGIT).all()


@pytest.mark.parametrize(("returned", "named"), [
    (42, "display returned int"), (None, "display returned NoneType"),
    (np.zeros((4, 4)), "display returned ndarray of shape"),
    (b"GIF89a....", "bytes that are neither PNG nor JPEG"),
    (widgets.Layout(), "display returned Layout"),
])
def test_a_callable_returning_something_else_is_a_type_error_saying_what(returned, named):
    view = ItemView(as_items(["a"], [[0]]), lambda item: returned)
    view.show(0)
    assert isinstance(view.last_error, TypeError)
    assert named in str(view.last_error) and "PIL image" in str(view.last_error)
    with pytest.raises(TypeError, match=named):
        view.check()


def test_a_callable_that_raises_shows_its_error_and_the_widget_lives_on(caplog):
    def fragile(item):
        if item == "bad":
            raise KeyError("<no such file>")
        return f"<i>{item}</i>"

    view = ItemView(as_items(["bad", "good"], [[0], [1]]), fragile)
    with caplog.at_level(logging.WARNING, logger="alsats_widget.items"):
        view.show(0)
    assert isinstance(view.last_error, KeyError) and view.shown == 0
    assert "item 0 could not be shown" in caplog.text and "no such file" in caplog.text
    assert "&lt;no such file&gt;" in view._html.value and "#b00020" in view._html.value
    view.show(1)
    assert view.last_error is None and "<i>good</i>" in view._html.value


# -- the box -------------------------------------------------------------------------------

def test_the_box_keeps_its_size_and_its_parts_whatever_is_shown():
    photo = RNG.integers(0, 256, size=(1500, 2000, 3), dtype=np.uint8)
    mixed = [DIGIT, PATCH, photo, np.zeros((1000, 10)), np.zeros((1, 1)), "x" * 50_000,
             "<b>short</b>", {"a": 1}, {f"c{j}": j for j in range(900)}, 7, None]

    def anything(item):
        if isinstance(item, np.ndarray):
            return Image.fromarray(item.astype(np.uint8))
        if isinstance(item, str):
            return item
        if isinstance(item, dict):
            return widgets.HTML(str(item))
        raise ValueError("nothing to draw")

    for display in (*DISPLAYS, anything):
        view = ItemView(as_items(mixed, np.zeros((len(mixed), 1))), display)
        size = (view.layout.width, view.layout.height, view.layout.overflow)
        parts = view.children[:2]
        changes = []  # each change of children is a message to the browser
        view.observe(changes.append, names="children")
        for i in range(len(mixed)):
            view.show(i)
            assert (view.layout.width, view.layout.height, view.layout.overflow) == size
            assert view.children[:2] == parts and len(view.children) <= 3
            if view._image.layout.display is None:
                assert int(view._image.width) <= view.size[0]
                assert int(view._image.height) <= view.size[1]
        view.clear("waiting")
        assert (view.layout.width, view.layout.height) == size[:2]
        assert len(changes) == (0 if display in DISPLAYS else 3)  # in, the next one, out


def test_default_boxes_and_given_sizes():
    assert shown([DIGIT], "image").size == BOX_SIZES["image"] == (224, 224)
    assert shown(["a"], "text").layout.width == f"{BOX_SIZES['text'][0]}px"
    assert shown(["a"], lambda item: item).size == CALLABLE_BOX
    view = shown([DIGIT], "image", width=300, height=100)
    assert (view.layout.width, view.layout.height) == ("300px", "100px")
    assert decoded(view).size == (84, 84)  # x3 fits 100 px high
    for bad in ({"width": 0}, {"height": 10.5}, {"width": "200px"}):
        with pytest.raises(ValueError, match="whole numbers of pixels"):
            ItemView(as_items(["a"], [[0]]), "text", **bad)


def test_an_unknown_display_is_refused():
    with pytest.raises(ValueError, match="display must be one of"):
        ItemView(as_items(["a"], [[0]]), "video")


def test_a_waiting_message_takes_the_items_place():
    view = shown([DIGIT], "image")
    view.clear("Waiting for the server's <next> pick…")
    assert view.shown is None
    assert view._image.layout.display == "none" and view._html.layout.display is None
    assert "Waiting for the server&#x27;s &lt;next&gt; pick…" in view._html.value
    view.show(0)
    assert view._image.layout.display is None and view._html.layout.display == "none"
    assert view.shown == 0


def test_a_callable_widget_leaves_when_a_plain_result_follows():
    def mixed(item):
        return widgets.Label(item) if item == "w" else item

    view = shown(["w", "s"], mixed)
    assert len(view.children) == 3
    view.show(1)
    assert len(view.children) == 2 and view._html.layout.display is None


def test_a_shrunk_photo_is_sent_as_jpeg_and_enlarged_pixels_as_png():
    photo = RNG.integers(0, 256, size=(800, 1000, 3), dtype=np.uint8)
    view = ItemView(as_items([photo, PATCH, DIGIT], [[0], [1], [2]]), "image")
    for index, kind in ((0, "jpeg"), (1, "png"), (2, "png"), (0, "jpeg")):
        view.show(index)
        assert view._image.format == kind
        assert Image.open(io.BytesIO(view._image.value)).format == kind.upper()
    assert Image.open(io.BytesIO(view._image.value)).size == (224, 179)
