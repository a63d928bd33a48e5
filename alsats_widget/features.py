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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = ["ImageFeaturizer", "StrokeFeaturizer", "image_features", "stroke_features",
           "table_features", "text_features"]

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


class StrokeFeaturizer(TransformerMixin, BaseEstimator):
    """Grey drawings of strokes (handwritten digits and letters, symbols, sketches) to
    vectors whose nearest neighbours are the same character.

    Raw pixels put a slanted 1 far from an upright one and a thin 7 far from a bold one.
    So each image is first deskewed (``deskew``: sheared so that its ink's second moments
    have no slant, as LeCun et al. 1998 did for MNIST) and blurred (``blur``, a Gaussian
    of that many pixels: strokes a pixel apart then overlap), then described twice: its
    pixels, and histograms of its gradients' orientations in cells of ``cell`` pixels
    (HOG, Dalal and Triggs 2005: the strokes' directions, whatever their thickness). Each
    part is scaled to unit length, and the whole. On MNIST (``benchmarks/
    label_efficiency.py``) 97% of a 10-nearest-neighbour graph's edges join two digits of
    one class with these features, against 93.5% with raw pixels, and label spreading
    passes 95% with a few dozen labels instead of about a hundred.

    Images are (n, h, w) grey, (n, h, w, 1), or colour (n, h, w, 3|4) made grey; uint8
    0..255 or float 0..1; h and w at least 2 ``cell``. It learns nothing from the data.
    """

    def __init__(self, deskew: bool = True, blur: float = 1.0, cell: int = 4,
                 orientations: int = 9) -> None:
        self.deskew = deskew
        self.blur = blur
        self.cell = cell
        self.orientations = orientations

    def fit(self, X: Any, y: Any = None) -> StrokeFeaturizer:
        """Check the parameters and the images' size (nothing is learned from them)."""
        if not isinstance(self.cell, int | np.integer) or self.cell < 2:
            raise ValueError(f"cell must be an integer of at least 2: got {self.cell!r}")
        if not isinstance(self.orientations, int | np.integer) or self.orientations < 2:
            raise ValueError(f"orientations must be an integer of at least 2: got "
                             f"{self.orientations!r}")
        if not isinstance(self.blur, int | float) or not 0 <= self.blur <= 10:
            raise ValueError(f"blur must be a number of pixels from 0 to 10: got {self.blur!r}")
        grey = _grey_images(X)
        self.image_shape_ = grey.shape[1:]
        rows, columns = (side // self.cell for side in self.image_shape_)
        if rows < 2 or columns < 2:
            raise ValueError(f"images of {self.image_shape_[0]} x {self.image_shape_[1]} "
                             f"pixels are too small for cells of {self.cell}: at least "
                             f"{2 * self.cell} a side (or a smaller cell)")
        self.n_features_out_ = (math.prod(self.image_shape_)
                                + 4 * self.orientations * (rows - 1) * (columns - 1))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Each image's vector: (n, n_features_out_) float32, rows of unit length."""
        check_is_fitted(self, "n_features_out_")
        grey = _grey_images(X)
        if grey.shape[1:] != self.image_shape_:
            raise ValueError(f"images are {grey.shape[1]} x {grey.shape[2]} pixels; this "
                             f"featurizer was fitted on {self.image_shape_[0]} x "
                             f"{self.image_shape_[1]}")
        out = np.empty((len(grey), self.n_features_out_), dtype=np.float32)
        for start in range(0, len(grey), CHUNK):
            out[start:start + CHUNK] = self._describe(grey[start:start + CHUNK])
        return out

    def _describe(self, grey: np.ndarray) -> np.ndarray:
        images = grey.astype(np.float32) / 255
        if self.deskew:
            images = _deskewed(images)
        if self.blur:
            images = ndimage.gaussian_filter(images, (0, self.blur, self.blur))
        parts = [_unit_rows(images.reshape(len(images), -1)),
                 _unit_rows(_hog(images, self.orientations, self.cell))]
        return np.concatenate(parts, axis=1) / np.sqrt(len(parts))


def stroke_features(images: Any, **options: Any) -> tuple[np.ndarray, StrokeFeaturizer]:
    """Grey drawings of strokes (digits, letters, symbols) as unit-length float32 vectors
    whose neighbours are the same character (``StrokeFeaturizer``, which ``options``
    set); ``transformer.transform`` describes held-out images alike."""
    featurizer = StrokeFeaturizer(**options)
    return featurizer.fit_transform(images), featurizer


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


def _grey_images(images: Any) -> np.ndarray:
    """(n, h, w) uint8 grey images from grey or colour arrays (or lists of them)."""
    array = images if isinstance(images, np.ndarray) else np.asarray(images)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must be an array (n, h, w) grey or (n, h, w, 1|3|4): "
                         f"got shape {array.shape}")
    if len(array) == 0:
        raise ValueError("images is empty: there is nothing to featurize")
    if array.shape[-1] == 1:
        return _as_uint8(array[..., 0], "images")
    rgb = _rgb_array(array, "images", batch=True)
    return np.rint(_grey(rgb)).astype(np.uint8)


def _grey(rgb: np.ndarray) -> np.ndarray:
    """RGB pixels as grey float32, by ITU-R BT.601 luma weights."""
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _deskewed(images: np.ndarray) -> np.ndarray:
    """Each (h, w) image sheared along its rows so that its ink has no slant: the row
    moved by alpha * (row - centre), alpha = cov(row, column) / var(row) of the ink."""
    m, height, width = images.shape
    row, column = np.mgrid[:height, :width].astype(np.float32)
    ink = images.sum(axis=(1, 2)) + 1e-6
    mean_row = (images * row).sum(axis=(1, 2)) / ink
    mean_column = (images * column).sum(axis=(1, 2)) / ink
    off_row = row[None] - mean_row[:, None, None]
    var_row = (images * off_row ** 2).sum(axis=(1, 2)) / ink
    cov = (images * off_row * (column[None] - mean_column[:, None, None])).sum(axis=(1, 2))
    alpha = (cov / ink) / (var_row + 1e-6)
    source = column[None] + alpha[:, None, None] * (row[None] - (height - 1) / 2)
    left = np.floor(source).astype(np.int32)
    share = (source - left).astype(np.float32)
    picks = np.arange(m)[:, None, None], row.astype(np.int32)[None]

    def at(columns: np.ndarray) -> np.ndarray:
        inside = (columns >= 0) & (columns < width)
        return np.where(inside, images[(*picks, np.clip(columns, 0, width - 1))], 0)

    return ((1 - share) * at(left) + share * at(left + 1)).astype(np.float32)


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
    """HOG of the grey image in a cells x cells grid (``_hog``)."""
    return _hog(_grey(rgb), orientations, rgb.shape[1] // cells)


def _hog(grey: np.ndarray, orientations: int, cell: int) -> np.ndarray:
    """HOG of (m, h, w) grey images in cells of cell x cell pixels: unsigned gradient
    orientations, magnitude-weighted and split between the two nearest bins, per cell,
    then L2-Hys over 2x2 cell blocks (Dalal and Triggs, 2005)."""
    m, height, width = grey.shape
    rows, columns = height // cell, width // cell
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
    row_cell = np.minimum(np.arange(height, dtype=np.int32) // cell, rows - 1)
    column_cell = np.minimum(np.arange(width, dtype=np.int32) // cell, columns - 1)
    cell_of_pixel = (row_cell[:, None] * columns + column_cell[None, :])[None]
    base = (np.arange(m, dtype=np.int32)[:, None, None] * rows * columns
            + cell_of_pixel) * orientations
    length = m * rows * columns * orientations
    hist = (np.bincount((base + low).ravel(), (magnitude * (1 - upper_share)).ravel(), length)
            + np.bincount((base + high).ravel(), (magnitude * upper_share).ravel(), length))
    hist = hist.reshape(m, rows, columns, orientations)
    blocks = np.concatenate([hist[:, :-1, :-1], hist[:, 1:, :-1], hist[:, :-1, 1:],
                             hist[:, 1:, 1:]], axis=-1).reshape(m, (rows - 1) * (columns - 1),
                                                                -1)
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
