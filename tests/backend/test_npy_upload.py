"""PUT /pool reads its .npy body into place as it arrives: the header first, checked by
the pool rules before the body is read, then exactly the bytes the header promised."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest

from .conftest import OCTET, npy


def header_of(array: np.ndarray) -> bytes:
    """The .npy header numpy writes for `array`, without its data."""
    return npy(array)[: len(npy(array)) - array.nbytes]


async def credits_and_pool(buyer, auth) -> tuple[int, int]:
    """Credits left, and the pool's size by a query (which then uses a credit)."""
    _, body = await buyer.call("GET", "/session", auth)
    status, answer = await buyer.call("POST", "/query", auth, json={"k": 100})
    assert status == 200, answer
    return body["credits_left"], len(answer["samples"])


@pytest.fixture
async def pool_session(buyer):
    auth, _ = await buyer.buy(5, mode="pool")
    status, _ = await buyer.upload_pool(auth, np.zeros((8, 4), np.uint8))
    assert status == 200
    return auth


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, ">f8"])
async def test_a_pool_arrives_as_sent(buyer, pool_session, order, dtype):
    pool = np.asarray(np.random.default_rng(0).random((30, 7)) * 200, dtype=dtype, order=order)
    status, body = await buyer.upload_pool(pool_session, pool)
    assert status == 200 and (body["n_pool"], body["n_features"]) == (30, 7), body
    status, answer = await buyer.call("POST", "/query", pool_session, json={"k": 30})
    assert status == 200 and len(answer["samples"]) == 30


async def chunked(*parts: bytes):
    """A body without a Content-Length, in parts (as a client streams it)."""
    for part in parts:
        yield part
        await asyncio.sleep(0)


@pytest.mark.parametrize("body, message", [
    (b"PK\x03\x04 an archive", "does not start with the .npy magic string"),
    (b"\x93NUMPY\x01", "ends inside the .npy header"),
    (b"\x93NUMPY\x09\x00\x10\x00{}", ".npy format version 9.0"),
    (header_of(np.zeros((4, 3))) + bytes(8 * 11), "ends after 88 of the 96 bytes"),
    (header_of(np.zeros((4, 3))) + bytes(8 * 13), "more than the 96 bytes"),
    (b"\x93NUMPY\x01\x00\x0a\x00__import__", "header is malformed"),
    (header_of(np.zeros((4, 3), np.int64)) + bytes(96), "must hold uint8, float32 or float64"),
    (npy(np.array([{"a": 1}], dtype=object)), "Python objects"),
])
async def test_bodies_that_are_not_one_pool_are_400_and_change_nothing(
        buyer, pool_session, body, message):
    status, answer = await buyer.call("PUT", "/pool", pool_session, data=chunked(body),
                                      headers=OCTET)
    assert status == 400 and message in answer["error"], answer
    assert await credits_and_pool(buyer, pool_session) == (5, 8)


async def test_a_header_the_rules_refuse_is_answered_before_the_body_is_sent(
        buyer, pool_session):
    """A header promising 10 million samples is refused at once: the client's body never
    has to follow (the request below never sends it)."""
    header = header_of(np.zeros((1, 784), np.uint8)).replace(b"(1, 784)", b"(10000000, 784)")
    sent_data = asyncio.Event()

    async def header_then_wait():
        yield header
        await asyncio.sleep(30)  # the answer comes first, or the test times out
        sent_data.set()
        yield bytes(784)

    status, answer = await asyncio.wait_for(
        buyer.call("PUT", "/pool", pool_session, data=header_then_wait(), headers=OCTET), 10)
    assert status == 400 and "10000000 samples, at most" in answer["error"], answer
    assert not sent_data.is_set()
    assert await credits_and_pool(buyer, pool_session) == (5, 8)


async def test_a_header_promising_more_than_the_byte_limit_is_413(buyer, pool_session):
    """10,000 x 100 float64 passes the pool rules but is 8 MB, over this server's 4 MB."""
    header = header_of(np.zeros((10_000, 100)))
    status, answer = await buyer.call("PUT", "/pool", pool_session, data=chunked(header),
                                      headers=OCTET)
    assert status == 413 and "limit is 4000000" in answer["error"], answer
    assert await credits_and_pool(buyer, pool_session) == (5, 8)


def test_the_header_is_what_numpy_reads():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(np.load(io.BytesIO(header_of(array) + array.tobytes())), array)
