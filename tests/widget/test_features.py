"""The featurizers on real data and at their edges: shapes, dtype, held-out items, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from alsats_widget.examples import (
    load_docstrings,
    load_fortunes,
    load_penguins,
    load_photo_patches,
    load_wine,
)
from alsats_widget.features import (
    MISSING,
    ImageFeaturizer,
    image_features,
    stroke_features,
    table_features,
    text_features,
)


@pytest.fixture(autouse=True)
def one_thread():
    """TruncatedSVD oversubscribes two busy cores badly; one BLAS thread is quicker."""
    with threadpool_limits(1):
        yield


def check_rows(features: np.ndarray, n: int) -> None:
    assert isinstance(features, np.ndarray)
    assert features.dtype == np.float32 and features.ndim == 2 and len(features) == n
    assert np.isfinite(features).all()


def held_out_accuracy(example, featurize) -> float:
    """Features fitted on 60% of the items; a classifier's accuracy on the other 40%."""
    index = np.arange(len(example))
    train, test = train_test_split(index, test_size=0.4, stratify=example.target,
                                   random_state=0)
    items = example.items
    pick = (lambda rows: items.iloc[rows]) if isinstance(items, pd.DataFrame) else (
        (lambda rows: items[rows]) if isinstance(items, np.ndarray)
        else (lambda rows: [items[i] for i in rows]))
    X_train, transformer = featurize(pick(train))
    X_test = transformer.transform(pick(test))
    check_rows(X_test, len(test))
    assert X_test.shape[1] == X_train.shape[1]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    model.fit(X_train, example.target[train])
    return model.score(X_test, example.target[test])


# -- text --------------------------------------------------------------------------------

def test_text_features_are_unit_rows_a_classifier_learns_from():
    example = load_docstrings(max_per_class=80)
    features, pipeline = text_features(example.items)
    check_rows(features, len(example))
    assert features.shape[1] == 100
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(pipeline.transform(example.items), features, atol=1e-5)
    assert held_out_accuracy(example, text_features) > 0.7  # 6 classes: chance is 0.17


def test_text_features_of_fortunes_beat_chance_by_far():
    example = load_fortunes(max_per_class=100)
    assert held_out_accuracy(example, text_features) > 0.55  # 6 classes: chance is 0.17


def test_a_small_vocabulary_gets_fewer_components():
    texts = ["red apple", "green apple", "red car", "blue car"]
    features, pipeline = text_features(texts, n_components=50)
    check_rows(features, 4)
    assert features.shape[1] == 3  # fewer than the 4 texts and the 5 words
    assert pipeline.named_steps["svd"].n_components_ == 3
    assert list(pipeline.get_feature_names_out()) == ["cappedsvd0", "cappedsvd1", "cappedsvd2"]


def test_held_out_texts_of_unknown_words_give_finite_rows():
    _, pipeline = text_features(["red apple", "green apple", "red car", "blue car"])
    held_out = pipeline.transform(["zebra crossing", "", "apple!"])
    check_rows(held_out, 3)
    assert not held_out[0].any() and not held_out[1].any() and held_out[2].any()


@pytest.mark.parametrize(("texts", "message"), [
    ([], "empty"),
    ("one long string", "not one string"),
    (["fine", 3, "text"], r"texts\[1\] is int"),
    (["a text", None], r"texts\[1\] is NoneType"),
    (["!!", "?", ""], "no words"),
    (["only one text here"], "at least 2 texts"),
    (["same same", "same"], "2 distinct words"),
])
def test_text_features_refuse_what_is_not_texts(texts, message):
    with pytest.raises(ValueError, match=message):
        text_features(texts)


# -- tables ------------------------------------------------------------------------------

def test_penguins_are_imputed_scaled_and_one_hot():
    example = load_penguins()
    features, pipeline = table_features(example.items)
    check_rows(features, len(example))
    names = list(pipeline.named_steps["columns"].get_feature_names_out())
    assert features.shape[1] == len(names)
    numeric = [i for i, n in enumerate(names) if n.startswith("numeric__")
               and "missingindicator" not in n]
    assert len(numeric) == 5  # bills, flipper, mass, year
    np.testing.assert_allclose(features[:, numeric].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(features[:, numeric].std(axis=0), 1, atol=1e-3)
    islands = [i for i, n in enumerate(names) if n.startswith("categorical__island_")]
    assert len(islands) == 3
    np.testing.assert_array_equal(features[:, islands].sum(axis=1), 1)  # one-hot
    assert f"categorical__sex_{MISSING}" in names  # missing is a category of its own
    assert held_out_accuracy(example, table_features) > 0.95


def test_wine_columns_are_standardized():
    example = load_wine()
    features, _ = table_features(example.items)
    assert features.shape == (178, 13)
    np.testing.assert_allclose(features.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(features.std(axis=0), 1, atol=1e-3)
    assert held_out_accuracy(example, table_features) > 0.9


def test_held_out_rows_with_unseen_categories_and_gaps_transform():
    frame = load_penguins().items
    _, pipeline = table_features(frame)
    names = list(pipeline.named_steps["columns"].get_feature_names_out())
    islands = [i for i, n in enumerate(names) if n.startswith("categorical__island_")]
    new = frame.iloc[:2].copy()
    new.loc[new.index[0], "island"] = "Atlantis"
    new.loc[new.index[1], ["bill_length_mm", "body_mass_g"]] = np.nan
    rows = pipeline.transform(new)
    check_rows(rows, 2)
    assert not rows[0, islands].any()  # an island never seen: all zeros
    assert rows[1, islands].sum() == 1


def test_mixed_booleans_categories_and_mixed_type_columns_are_categorical():
    frame = pd.DataFrame({
        "flag": [True, False, True, False],
        "size": pd.Categorical(["s", "m", "l", "m"]),
        "code": [1, "a", 1, None],  # mixed types: compared as text
        "x": [0.5, 1.5, np.nan, 2.5],
        "when": pd.to_datetime(["2024-01-01"] * 4),  # left out
    })
    features, pipeline = table_features(frame)
    check_rows(features, 4)
    names = list(pipeline.named_steps["columns"].get_feature_names_out())
    assert not any("when" in n for n in names)
    assert {"categorical__flag_True", "categorical__code_1", f"categorical__code_{MISSING}",
            "numeric__x", "numeric__missingindicator_x"} <= set(names)


def test_rare_categories_share_a_column():
    frame = pd.DataFrame({"word": [f"w{i % 50}" for i in range(200)] + ["common"] * 200})
    features, _ = table_features(frame, max_categories=10)
    assert features.shape == (400, 10)


@pytest.mark.parametrize(("frame", "message"), [
    (pd.DataFrame({"a": []}), "no rows"),
    (pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01"])}), "no numeric"),
    (pd.DataFrame({"a": [np.nan, np.nan], "b": [None, None]}), "with a value"),
    (pd.DataFrame([[1, 2]], columns=["a", "a"]), "repeat"),
])
def test_table_features_refuse_tables_with_nothing_to_learn(frame, message):
    with pytest.raises(ValueError, match=message):
        table_features(frame)


# -- images ------------------------------------------------------------------------------

def test_photo_patches_become_unit_rows_a_classifier_learns_from():
    example = load_photo_patches(max_per_class=80)
    features, featurizer = image_features(example.items)
    check_rows(features, len(example))
    assert features.shape[1] == featurizer.n_features_out_
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(featurizer.transform(example.items), features)
    assert held_out_accuracy(example, image_features) > 0.7  # 6 photos: chance is 0.17


def test_any_size_and_mode_gives_one_length():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    images = [Image.fromarray(rgb), Image.fromarray(rgb).convert("L"),
              Image.fromarray(rgb).convert("RGBA"), Image.fromarray(rgb).convert("P"),
              Image.fromarray(rgb).convert("1"), Image.fromarray(rgb).convert("LA"),
              Image.fromarray(rgb).convert("CMYK"), Image.fromarray(rgb).resize((300, 20)),
              Image.fromarray(rgb[:3, :2])]
    features, featurizer = image_features(images)
    check_rows(features, len(images))
    assert features.shape[1] == featurizer.n_features_out_
    arrays = [rgb, rgb[..., 0], np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
              rgb / 255.0, rgb[..., :1]]
    check_rows(featurizer.transform(arrays), len(arrays))


def test_the_same_picture_in_any_encoding_gives_the_same_vector():
    patches = load_photo_patches(max_per_class=5).items
    features, featurizer = image_features(patches)
    as_pil = featurizer.transform([Image.fromarray(p) for p in patches])
    as_float = featurizer.transform(patches / 255.0)
    opaque = np.concatenate([patches, np.full((*patches.shape[:3], 1), 255, np.uint8)], -1)
    np.testing.assert_allclose(as_pil, features, atol=1e-6)
    np.testing.assert_allclose(as_float, features, atol=1e-6)
    np.testing.assert_allclose(featurizer.transform(opaque), features, atol=1e-6)
    grey = patches[..., 1]
    np.testing.assert_allclose(featurizer.transform(grey),
                               featurizer.transform(np.repeat(grey[..., None], 3, -1)),
                               atol=1e-6)


def test_transparency_is_laid_over_white():
    clear = np.zeros((2, 16, 16, 4), dtype=np.uint8)  # fully transparent black
    white = np.full((2, 16, 16, 3), 255, dtype=np.uint8)
    _, featurizer = image_features(white)
    np.testing.assert_allclose(featurizer.transform(clear), featurizer.transform(white))


def test_a_bigger_picture_of_the_same_thing_is_close():
    patches = load_photo_patches(max_per_class=10).items
    big = [Image.fromarray(p).resize((96, 96), Image.Resampling.BICUBIC) for p in patches]
    features, featurizer = image_features(patches)
    similarity = (featurizer.transform(big) * features).sum(axis=1)
    others = (features[::-1] * features).sum(axis=1)
    assert np.median(similarity) > 0.9 > np.median(others)


def test_parts_choose_what_is_described():
    patches = load_photo_patches(max_per_class=3).items
    sizes = {("colour",): 64, ("gradients",): 324, ("pixels",): 192,
             ("colour", "gradients", "pixels"): 580}
    for parts, size in sizes.items():
        features, _ = image_features(patches, parts=parts)
        assert features.shape == (len(patches), size)
    featurizer = clone(ImageFeaturizer(parts=("colour",), colour_bins=8))
    assert featurizer.fit(patches).transform(patches).shape[1] == 512
    assert featurizer.get_feature_names_out()[-1] == "imagefeaturizer511"


@pytest.mark.parametrize(("images", "message"), [
    ([], "empty"),
    (np.zeros((0, 8, 8, 3), np.uint8), "empty"),
    (Image.new("RGB", (8, 8)), "not one image"),
    ([Image.new("I;16", (8, 8))], r"mode 'I;16'"),
    ([Image.new("F", (8, 8))], r"mode 'F'"),
    (np.zeros((4, 64), np.uint8), "flat rows"),
    (np.zeros((2, 8, 8, 2), np.uint8), "1, 3 or 4 channels"),
    (np.full((2, 8, 8), 2.0), "float pixels must be 0..1"),
    (np.full((2, 8, 8), np.nan), "finite"),
    (np.full((2, 8, 8), 300), "integer pixels must be 0..255"),
    (np.zeros((2, 8, 8), np.complex64), "not supported"),
    (["not an image"], r"images\[0\] is str"),
    ([np.zeros((8, 8, 3, 1))], r"images\[0\] must be"),
])
def test_image_features_refuse_what_is_not_an_image(images, message):
    with pytest.raises(ValueError, match=message):
        image_features(images)


@pytest.mark.parametrize(("options", "message"), [
    ({"parts": ("edges",)}, "parts must name"),
    ({"parts": ()}, "parts must name"),
    ({"parts": ("colour", "colour")}, "parts must name"),
    ({"size": 30}, "multiple of cells"),
    ({"colour_bins": 1}, "at least 2"),
    ({"colour_bins": 32}, "at most 16"),
])
def test_image_featurizer_refuses_bad_settings(options, message):
    with pytest.raises(ValueError, match=message):
        image_features(np.zeros((2, 8, 8), np.uint8), **options)


# -- strokes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_sample():
    from alsats_widget.datasets import load_bundled

    digits = load_bundled()
    return digits.images[:2000], digits.labels[:2000]


def neighbour_purity(X: np.ndarray, y: np.ndarray, k: int = 10) -> float:
    """The share of each sample's k nearest neighbours (cosine) of its own class."""
    from sklearn.neighbors import NearestNeighbors

    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    _, index = NearestNeighbors(n_neighbors=k + 1).fit(unit).kneighbors(unit)
    return float((y[index[:, 1:]] == y[:, None]).mean())


def test_stroke_features_put_a_digit_beside_its_own_class(mnist_sample):
    images, labels = mnist_sample
    with threadpool_limits(1):
        X, featurizer = stroke_features(images)
        raw = neighbour_purity(images.reshape(len(images), -1).astype(np.float32), labels)
        strokes = neighbour_purity(X, labels)
    assert X.dtype == np.float32 and X.shape == (2000, featurizer.n_features_out_)
    assert featurizer.n_features_out_ == 784 + 4 * 9 * 6 * 6  # pixels and 7x7 HOG cells
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert strokes > raw + 0.02, (strokes, raw)  # about 0.95 against 0.92 here
    np.testing.assert_array_equal(featurizer.transform(images[:5]), X[:5])
    grey_as_rgb = np.repeat(images[:5, ..., None], 3, axis=-1)
    np.testing.assert_allclose(featurizer.transform(grey_as_rgb), X[:5], atol=1e-6)
    np.testing.assert_allclose(featurizer.transform(images[:5] / 255), X[:5], atol=1e-6)


def test_deskewing_makes_a_slanted_stroke_upright():
    slanted = np.zeros((1, 28, 28), np.uint8)
    for row in range(4, 24):
        slanted[0, row, 6 + (24 - row) // 2] = 255  # a / leaning by half a pixel a row
    X, _ = stroke_features(slanted, blur=0)
    upright = X[0, :784].reshape(28, 28)
    ink_columns = np.flatnonzero(upright.sum(axis=0) > 1e-3)
    leaning_columns = np.flatnonzero(slanted[0].sum(axis=0))
    assert len(ink_columns) <= 3 < len(leaning_columns)
    X_kept, _ = stroke_features(slanted, deskew=False, blur=0)
    assert not np.allclose(X_kept, X)


@pytest.mark.parametrize(("images", "options", "message"), [
    (np.zeros((2, 6, 6), np.uint8), {}, "too small for cells of 4"),
    (np.zeros((2, 64), np.uint8), {}, r"\(n, h, w\) grey"),
    (np.zeros((0, 28, 28), np.uint8), {}, "empty"),
    (np.full((2, 28, 28), 2.0), {}, "float pixels must be 0..1"),
    (np.zeros((2, 28, 28), np.uint8), {"cell": 1}, "cell must be"),
    (np.zeros((2, 28, 28), np.uint8), {"blur": -1}, "blur must be"),
    (np.zeros((2, 28, 28), np.uint8), {"orientations": 1}, "orientations must be"),
])
def test_stroke_features_refuse_what_they_cannot_describe(images, options, message):
    with pytest.raises(ValueError, match=message):
        stroke_features(images, **options)


def test_a_stroke_featurizer_describes_only_its_size(mnist_sample):
    _, featurizer = stroke_features(mnist_sample[0][:3])
    with pytest.raises(ValueError, match="fitted on 28 x 28"):
        featurizer.transform(np.zeros((1, 32, 32), np.uint8))
