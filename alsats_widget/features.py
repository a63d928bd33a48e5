"""Featurizers that run in the notebook: raw items in, the rows the server learns from out.

The server sees features only; the texts, images and table rows stay in the notebook.
Each ``*_features(data, ...)`` fits a scikit-learn transformer on ``data`` and returns
``(features, transformer)``: the features are a dense, finite float32 array, one row per
item, and ``transformer.transform(new_items)`` turns held-out items into rows of the same
kind (the vocabulary, scaling and categories learned from ``data``).

- ``text_features``: TF-IDF, then TruncatedSVD (latent semantic analysis), then unit
  length: a hundred dense dimensions in which texts on one topic are close.
- ``image_features``: any size, grey, RGB or RGBA, to a fixed-length vector: a thumbnail,
  a colour histogram and gradient-orientation histograms (``ImageFeaturizer``; chosen
  by ``benchmarks/image_features.py``).
- ``table_features``: numeric columns imputed (median) and standardized, categorical ones
  one-hot encoded (a missing value is a category of its own), in a ColumnTransformer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = ["ImageFeaturizer", "image_features", "table_features", "text_features"]

TEXT_COMPONENTS = 100  # LSA dimensions: 50 to 200 did as well on docstrings and fortunes
MISSING = "(missing)"  # the category a missing categorical value becomes
MAX_CATEGORIES = 30  # per column; rarer values share one "infrequent" column


# -- text --------------------------------------------------------------------------------

class CappedSVD(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """TruncatedSVD whose size adapts to the data: at most ``n_components``, and fewer
    than the vocabulary's size and the number of texts, so a small corpus still works."""

    def __init__(self, n_components: int = TEXT_COMPONENTS, random_state: int = 0) -> None:
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> CappedSVD:
        n_samples, n_features = X.shape
        k = min(self.n_components, n_features - 1, n_samples - 1)
        if k < 1:
            raise ValueError(f"text_features needs at least 2 texts and 2 distinct words "
                             f"to reduce; got {n_samples} texts and {n_features} words")
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state).fit(X)
        self.n_components_ = self._n_features_out = k
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "svd_")
        return self.svd_.transform(X)


def _as_float32(X: Any) -> np.ndarray:
    """The last step of every featurizer: dense float32, as the server takes it."""
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    return X.astype(np.float32)


def _float32_step() -> FunctionTransformer:
    return FunctionTransformer(_as_float32, feature_names_out="one-to-one")


def text_features(texts: Sequence[str], *, n_components: int = TEXT_COMPONENTS,
                  ngram_range: tuple[int, int] = (1, 1), min_df: int | float = 1,
                  random_state: int = 0) -> tuple[np.ndarray, Pipeline]:
    """Texts as unit-length LSA vectors (TF-IDF -> TruncatedSVD -> L2), dense float32.

    TF-IDF is sublinear (a word said ten times is not ten times as telling) and accents
    are folded; single words by default (word pairs, ``ngram_range=(1, 2)``, did worse on
    the examples' texts at 30 to 300 labels). ``n_components`` is capped below the
    vocabulary's size and the number of texts.
    """
    texts = _check_texts(texts)
    pipeline = Pipeline([
        ("tfidf", TfidfVectorizer(sublinear_tf=True, strip_accents="unicode",
                                  ngram_range=ngram_range, min_df=min_df)),
        ("svd", CappedSVD(n_components=n_components, random_state=random_state)),
        ("unit", Normalizer()),
        ("float32", _float32_step()),
    ])
    try:
        features = pipeline.fit_transform(texts)
    except ValueError as error:
        if "empty vocabulary" not in str(error):
            raise
        raise ValueError("text_features found no words in the texts (empty, or only "
                         "punctuation and one-letter words)") from error
    return features, pipeline


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str | bytes):
        raise ValueError("texts must be a sequence of strings, one per item, not one string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: there is nothing to featurize")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"texts[{i}] is {type(text).__name__}, not str: every item "
                             "must be a text")
    return texts


# -- images ------------------------------------------------------------------------------

IMAGE_SIZE = 32  # pixels a side: every image is resized to this before it is described
# The default: of raw pixels, gradients, colour + gradients and all three, all three did
# best on average over photo patches, MNIST and textures (benchmarks/image_features.py).
IMAGE_PARTS = ("pixels", "colour", "gradients")
KNOWN_PARTS = ("pixels", "colour", "gradients")
HIGH_DEPTH_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA", "P"})  # P may be transparent
CHUNK = 1024  # images described at once: bounds the memory of the gradient arrays


class ImageFeaturizer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Images of any size and colour to one fixed-length vector each, unit length.

    Every image becomes ``size`` x ``size`` RGB (grey repeated, transparency laid over
    white, as a person sees it), then is described by the ``parts`` named (all three by
    default: 580 numbers):

    - ``"pixels"``: the image shrunk to ``thumbnail`` x ``thumbnail``: the layout;
    - ``"colour"``: a joint RGB histogram, ``colour_bins`` per channel (64 colours by
      default), as square roots of the fractions of pixels: what colours, not where;
    - ``"gradients"``: histograms of gradient orientations (``orientations`` bins) in a
      ``cells`` x ``cells`` grid, normalized over 2x2 blocks of cells as HOG does
      (Dalal and Triggs, 2005): the shapes and edges, not the colours.

    Each part is scaled to unit length and the whole to unit length, so each counts the
    same in a cosine or Euclidean neighbourhood (label spreading's graph). The featurizer
    learns nothing from the data: ``fit`` only checks the parameters.
    """

    def __init__(self, size: int = IMAGE_SIZE, parts: Sequence[str] = IMAGE_PARTS,
                 colour_bins: int = 4, orientations: int = 9, cells: int = 4,
                 thumbnail: int = 8) -> None:
        self.size = size
        self.parts = parts
        self.colour_bins = colour_bins
        self.orientations = orientations
        self.cells = cells
        self.thumbnail = thumbnail

    def fit(self, X: Any, y: Any = None) -> ImageFeaturizer:
        """Check the parameters (nothing is learned from the images; transform checks
        them)."""
        parts = tuple(self.parts)
        unknown = [p for p in parts if p not in KNOWN_PARTS]
        if not parts or unknown or len(set(parts)) != len(parts):
            raise ValueError(f"parts must name some of {KNOWN_PARTS}, each once: got {parts}")
        for name, value in (("size", self.size), ("colour_bins", self.colour_bins),
                            ("orientations", self.orientations), ("cells", self.cells),
                            ("thumbnail", self.thumbnail)):
            if not isinstance(value, int | np.integer) or value < 2:
                raise ValueError(f"{name} must be an integer of at least 2: got {value!r}")
        for name, value in (("cells", self.cells), ("thumbnail", self.thumbnail)):
            if self.size % value:
                raise ValueError(f"size ({self.size}) must be a multiple of {name} ({value})")
        if self.colour_bins > 16:
            raise ValueError(f"colour_bins must be at most 16: got {self.colour_bins}")
        sizes = {"colour": self.colour_bins ** 3, "pixels": 3 * self.thumbnail ** 2,
                 "gradients": 4 * self.orientations * (self.cells - 1) ** 2}
        self.n_features_out_ = self._n_features_out = sum(sizes[p] for p in parts)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Each image's vector: (n, n_features_out_) float32, rows of unit length."""
        check_is_fitted(self, "n_features_out_")
        pixels = _resized(check_images(X), self.size)
        out = np.empty((len(pixels), self.n_features_out_), dtype=np.float32)
        for start in range(0, len(pixels), CHUNK):
            out[start:start + CHUNK] = self._describe(pixels[start:start + CHUNK])
        return out

    def _describe(self, rgb: np.ndarray) -> np.ndarray:
        """The parts of a (m, size, size, 3) uint8 batch, each of unit length, joined."""
        makers = {"colour": lambda: _colour_histogram(rgb, self.colour_bins),
                  "gradients": lambda: _gradient_histograms(rgb, self.orientations,
                                                            self.cells),
                  "pixels": lambda: _thumbnail(rgb, self.thumbnail)}
        parts = [_unit_rows(makers[p]()) for p in self.parts]
        return np.concatenate(parts, axis=1) / np.sqrt(len(parts))


def image_features(images: Any, **options: Any) -> tuple[np.ndarray, ImageFeaturizer]:
    """Images of any size and colour as fixed-length, unit-length float32 vectors.

    ``images``: PIL images (any size; grey, RGB, RGBA, palette), or arrays (n, h, w) grey,
    (n, h, w, 3) RGB or (n, h, w, 4) RGBA, uint8 0..255 or float 0..1 (a list of arrays
    may mix sizes). ``options`` go to ``ImageFeaturizer`` (which parts, their sizes).
    """
    featurizer = ImageFeaturizer(**options)
    features = featurizer.fit_transform(images)
    return features, featurizer


def check_images(images: Any) -> np.ndarray | list[np.ndarray]:
    """The images as RGB uint8: one (n, h, w, 3) array, or a list of (h, w, 3) arrays."""
    from PIL import Image

    if isinstance(images, Image.Image):
        raise ValueError("images must be a sequence of images, one per item, not one image")
    if isinstance(images, np.ndarray) and images.dtype != object:
        if images.ndim not in (3, 4):
            raise ValueError(f"an image array must be (n, h, w) grey or (n, h, w, 3|4) "
                             f"colour: got shape {images.shape} (flat rows? reshape them)")
        if len(images) == 0:
            raise ValueError("images is empty: there is nothing to featurize")
        return _rgb_array(images, "images", batch=True)
    images = list(images)
    if not images:
        raise ValueError("images is empty: there is nothing to featurize")
    return [_rgb_image(image, f"images[{i}]") for i, image in enumerate(images)]


def _rgb_image(image: Any, where: str) -> np.ndarray:
    """One image (PIL or array) as (h, w, 3) uint8."""
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode in HIGH_DEPTH_MODES:
            raise ValueError(f"{where} has mode {image.mode!r} (16-bit or float values): "
                             "scale it to 0..255 and convert it to 'L' or 'RGB' first")
        try:
            image = image.convert("RGBA" if image.mode in ALPHA_MODES else "RGB")
        except ValueError as error:
            raise ValueError(f"{where}: images of mode {image.mode!r} are not supported "
                             f"({error}); convert it to 'RGB' first") from error
        return _rgb_array(np.asarray(image), where, batch=False)
    if isinstance(image, np.ndarray) and image.dtype != object:
        if image.ndim not in (2, 3):
            raise ValueError(f"{where} must be (h, w) grey or (h, w, 3|4) colour: got "
                             f"shape {image.shape}")
        return _rgb_array(image, where, batch=False)
    raise ValueError(f"{where} is {type(image).__name__}: expected a PIL image or a NumPy "
                     "array")


def _rgb_array(pixels: np.ndarray, where: str, *, batch: bool) -> np.ndarray:
    """Grey, RGB or RGBA pixels (uint8 0..255, other integers 0..255, float 0..1) as
    RGB uint8, transparency laid over white."""
    grey_ndim = 3 if batch else 2
    if pixels.ndim == grey_ndim:
        pixels = pixels[..., np.newaxis]
    channels = pixels.shape[-1]
    if channels not in (1, 3, 4) or 0 in pixels.shape:
        raise ValueError(f"{where} has shape {pixels.shape}: expected grey, RGB or RGBA "
                         "(1, 3 or 4 channels) and at least one pixel")
    pixels = _as_uint8(pixels, where)
    if channels == 4:
        alpha = pixels[..., 3:].astype(np.float32) / 255
        pixels = np.rint(pixels[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    elif channels == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels


def _as_uint8(pixels: np.ndarray, where: str) -> np.ndarray:
    kind = pixels.dtype.kind
    if pixels.dtype == np.uint8:
        return pixels
    if kind == "b":
        return pixels.astype(np.uint8) * 255
    if kind in "iu":
        if pixels.min() < 0 or pixels.max() > 255:
            raise ValueError(f"{where}: integer pixels must be 0..255, got "
                             f"{pixels.min()}..{pixels.max()}")
        return pixels.astype(np.uint8)
    if kind == "f":
        if not np.isfinite(pixels).all():
            raise ValueError(f"{where}: pixels must be finite (no NaN or infinity)")
        if pixels.min() < 0 or pixels.max() > 1:
            raise ValueError(f"{where}: float pixels must be 0..1, got "
                             f"{pixels.min():g}..{pixels.max():g} (divide 0..255 by 255)")
        return np.rint(pixels * 255).astype(np.uint8)
    raise ValueError(f"{where}: pixels of dtype {pixels.dtype} are not supported: use "
                     "uint8 0..255 or float 0..1")


def _resized(images: np.ndarray | list[np.ndarray], size: int) -> np.ndarray:
    """Every image stretched to (size, size): one (n, size, size, 3) uint8 array."""
    from PIL import Image

    if isinstance(images, np.ndarray) and images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        if image.shape[:2] == (size, size):
            out[i] = image
        else:
            out[i] = np.asarray(Image.fromarray(image).resize(
                (size, size), Image.Resampling.BILINEAR))
    return out


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


def _colour_histogram(rgb: np.ndarray, bins: int) -> np.ndarray:
    """Square roots of the fraction of pixels in each of bins**3 colour cubes."""
    m = len(rgb)
    q = ((rgb.astype(np.uint16) * bins) >> 8).astype(np.int32)  # 0..bins-1 per channel
    index = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    index += (np.arange(m, dtype=np.int32) * bins ** 3)[:, None, None]
    counts = np.bincount(index.ravel(), minlength=m * bins ** 3).reshape(m, bins ** 3)
    return np.sqrt(counts / (rgb.shape[1] * rgb.shape[2])).astype(np.float32)


def _gradient_histograms(rgb: np.ndarray, orientations: int, cells: int) -> np.ndarray:
    """HOG: unsigned gradient orientations of the grey image, magnitude-weighted and
    split between the two nearest bins, per cell, then L2-Hys over 2x2 cell blocks."""
    m, size = len(rgb), rgb.shape[1]
    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gy, gx = np.gradient(grey, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.arctan(gy / gx)  # -pi/2..pi/2; arctan2 takes three times as long
    angle[np.isnan(angle)] = 0  # 0/0: a flat spot, of no magnitude
    angle[angle < 0] += np.float32(np.pi)  # unsigned: 0..pi
    position = angle * np.float32(orientations / np.pi)
    low = np.floor(position)
    upper_share = position - low
    low = np.minimum(low.astype(np.int32), orientations - 1)  # pi itself, by rounding
    high = low + 1
    high[high == orientations] = 0
    cell = np.arange(size, dtype=np.int32) // (size // cells)
    cell_of_pixel = (cell[:, None] * cells + cell[None, :])[None]  # (1, size, size)
    base = (np.arange(m, dtype=np.int32)[:, None, None] * cells * cells
            + cell_of_pixel) * orientations
    length = m * cells * cells * orientations
    hist = (np.bincount((base + low).ravel(), (magnitude * (1 - upper_share)).ravel(), length)
            + np.bincount((base + high).ravel(), (magnitude * upper_share).ravel(), length))
    hist = hist.reshape(m, cells, cells, orientations)
    blocks = np.concatenate([hist[:, :-1, :-1], hist[:, 1:, :-1], hist[:, :-1, 1:],
                             hist[:, 1:, 1:]], axis=-1).reshape(m, (cells - 1) ** 2, -1)
    blocks = np.minimum(_unit_blocks(blocks), 0.2)  # L2-Hys: no one edge dominates
    return _unit_blocks(blocks).reshape(m, -1).astype(np.float32)


def _unit_blocks(blocks: np.ndarray) -> np.ndarray:
    return blocks / np.sqrt((blocks ** 2).sum(axis=-1, keepdims=True) + 1e-6)


def _thumbnail(rgb: np.ndarray, side: int) -> np.ndarray:
    """The image shrunk to side x side by averaging, 0..1."""
    m, size = len(rgb), rgb.shape[1]
    step = size // side
    rows = rgb.astype(np.float32).reshape(m, side, step, size * 3).sum(axis=2)
    small = rows.reshape(m, side, side, step, 3).sum(axis=3)
    return (small / (255 * step * step)).reshape(m, -1)


# -- tables ------------------------------------------------------------------------------

def _as_categories(X: Any) -> np.ndarray:
    """Category values as strings (mixed types compare), a missing one as MISSING."""
    frame = pd.DataFrame(X)
    out = frame.astype(str).to_numpy(dtype=object, copy=True)
    out[frame.isna().to_numpy()] = MISSING
    return out


def table_features(frame: pd.DataFrame, *, max_categories: int = MAX_CATEGORIES
                   ) -> tuple[np.ndarray, Pipeline]:
    """Table rows as float32 vectors: numbers standardized, categories one-hot.

    Numeric columns: missing values become the column's median (with an indicator column
    where values were missing), then each is standardized. Text, category and boolean
    columns: one column per value (the ``max_categories`` most frequent; rarer ones
    share one), a missing value counting as a value of its own; values not seen when
    fitting give all zeros. Columns of other kinds (dates, ...) and columns with no
    value at all are left out.
    """
    frame = _check_frame(frame)
    numeric, categorical = _column_kinds(frame)
    parts = []
    if numeric:
        parts.append(("numeric", make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric))
    if categorical:
        parts.append(("categorical", make_pipeline(
            FunctionTransformer(_as_categories, feature_names_out="one-to-one"),
            OneHotEncoder(handle_unknown="ignore", max_categories=max_categories,
                          sparse_output=False)), categorical))
    columns = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0,
                                verbose_feature_names_out=True)
    pipeline = Pipeline([("columns", columns), ("float32", _float32_step())])
    return pipeline.fit_transform(frame), pipeline


def _check_frame(frame: Any) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(frame)
    if len(frame) == 0:
        raise ValueError("the table has no rows: there is nothing to featurize")
    if frame.columns.has_duplicates:
        raise ValueError(f"the table's column names repeat: {list(frame.columns)}")
    return frame


def _column_kinds(frame: pd.DataFrame) -> tuple[list, list]:
    """Numeric columns and categorical ones, each with a value somewhere; a frame with
    neither is a ValueError."""
    numeric, categorical, other = [], [], []
    for name, column in frame.items():
        dtype = column.dtype
        if column.isna().all():
            other.append(name)  # nothing to impute from, nothing to learn
        elif pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            categorical.append(name)
        elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
            numeric.append(name)
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            categorical.append(name)
        else:
            other.append(name)
    if not numeric and not categorical:
        raise ValueError(f"the table has no numeric or categorical column with a value to "
                         f"learn from (its columns {other} are empty or of kinds "
                         "table_features leaves out: dates, durations, complex numbers)")
    return numeric, categorical
