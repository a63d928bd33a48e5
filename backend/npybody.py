"""A request body of .npy bytes, read straight into its array as it arrives.

A pool of a million digits is 784 MB. Buffered whole, joined and then parsed, it would
cost the server three copies at once; read here, it costs one: the header comes first
(numpy's own parser reads it), the rules are checked on its shape and dtype before one
byte of the body is kept, and the body then lands in place in an array of the size the
header promised. Never a pickle, never an archive.
"""

from __future__ import annotations

import io
import math
import struct

import numpy as np
from aiohttp import StreamReader, web

from .config import PoolRules
from .errors import json_error, too_large
from .learners.validation import check_pool_shape

MAGIC = b"\x93NUMPY"
MAX_HEADER = 65_536  # numpy writes a few hundred bytes; anything near this is not a pool
CHUNK = 1 << 20


async def read_npy(stream: StreamReader, limit: int, rules: PoolRules,
                   name: str = "pool") -> np.ndarray:
    """The array the body holds, checked against `rules` by its header first; 400 for
    bytes that are not one .npy array (or that the rules refuse), 413 beyond `limit`."""
    prefix = await _exactly(stream, len(MAGIC) + 2, name)
    if prefix[: len(MAGIC)] != MAGIC:
        raise _not_npy(name, "it does not start with the .npy magic string")
    version = (prefix[-2], prefix[-1])
    if version not in ((1, 0), (2, 0)):  # 3.0 is for structured dtypes: never a pool
        raise _not_npy(name, f".npy format version {version[0]}.{version[1]} (numpy "
                       "writes 1.0 for every array a pool can be)")
    size_format = "<H" if version == (1, 0) else "<I"
    size_bytes = await _exactly(stream, struct.calcsize(size_format), name)
    header_size = struct.unpack(size_format, size_bytes)[0]
    if header_size > MAX_HEADER:
        raise _not_npy(name, f"its header is {header_size} bytes long")
    header = await _exactly(stream, header_size, name)
    shape, fortran_order, dtype = _parse_header(size_bytes, header, version, name)
    check_pool_shape(shape, dtype, rules, name=name)
    nbytes = math.prod(shape) * dtype.itemsize
    used = len(prefix) + len(size_bytes) + header_size
    if used + nbytes > limit:
        raise too_large(limit, used + nbytes)
    data = np.empty(nbytes, dtype=np.uint8)
    await _fill(stream, memoryview(data), name)
    order = "F" if fortran_order else "C"
    return data.view(dtype).reshape(shape, order=order)


def _parse_header(size_bytes: bytes, header: bytes, version: tuple[int, int],
                  name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, order and dtype, by numpy's parser (which refuses anything but a literal)."""
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) \
        else np.lib.format.read_array_header_2_0
    try:
        shape, fortran_order, dtype = read(io.BytesIO(size_bytes + header),
                                           max_header_size=MAX_HEADER)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise _not_npy(name, f"its header is malformed ({exc})") from None
    if dtype.hasobject:
        raise _not_npy(name, "it holds Python objects (a pickle), which are never loaded")
    return shape, fortran_order, dtype


async def _exactly(stream: StreamReader, n: int, name: str) -> bytes:
    try:
        return await stream.readexactly(n)
    except (EOFError, ConnectionError) as exc:  # IncompleteReadError is an EOFError
        raise _not_npy(name, "it ends inside the .npy header") from exc


async def _fill(stream: StreamReader, out: memoryview, name: str) -> None:
    """The body's bytes into `out`, exactly as many as it holds."""
    filled = 0
    async for chunk in stream.iter_chunked(CHUNK):
        end = filled + len(chunk)
        if end > len(out):
            raise _not_npy(name, f"it holds more than the {len(out)} bytes of data its "
                           "header describes")
        out[filled:end] = chunk
        filled = end
    if filled < len(out):
        raise _not_npy(name, f"it ends after {filled} of the {len(out)} bytes of data its "
                       "header describes")


def _not_npy(name: str, why: str) -> web.HTTPBadRequest:
    return json_error(web.HTTPBadRequest, f"the {name} body is not one NumPy .npy array: "
                      f"{why}")
