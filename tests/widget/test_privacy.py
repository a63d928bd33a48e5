"""Raw items never leave the notebook: the server receives features, never the text shown.

Every request the widget makes goes through a recording proxy (real HTTP, aiohttp) in
front of a real local stack. Each item carries a marker; after labeling through the
widget, no request (path, headers or body) the server received holds any marker.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import aiohttp
import numpy as np
import pytest
import requests
from aiohttp import web

from alsats_widget import LabelingWidget
from alsats_widget.features import text_features

PRICE = 5
MARKER = "zq7-private-marker"
TOPICS = {"fruit": "apple banana cherry pear orchard juice ripe",
          "sport": "goal match score team league coach referee",
          "weather": "rain cloud storm sunny forecast wind snow"}


class RecordingProxy:
    """Forwards every request to ``target`` and keeps what it carried."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.requests: list[bytes] = []  # method, path, headers and body, as sent
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc_info) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self._ready.set()
        self._loop.run_forever()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = "".join(f"{k}: {v}\n" for k, v in request.headers.items())
        self.requests.append(f"{request.method} {request.path_qs}\n{headers}\n".encode()
                             + body)
        forwarded = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, self.target + request.path_qs, data=body,
                headers=forwarded) as answer:
            return web.Response(body=await answer.read(), status=answer.status,
                                headers={k: v for k, v in answer.headers.items()
                                         if k.lower() not in ("content-length",
                                                              "transfer-encoding")})


@pytest.fixture()
def proxy(stack) -> Iterator[RecordingProxy]:
    with RecordingProxy(stack.url) as running:
        yield running


def _texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    labels = [str(rng.choice(list(TOPICS))) for _ in range(n)]
    texts = [f"{MARKER}-{i} " + " ".join(rng.choice(TOPICS[label].split(), 6))
             for i, label in enumerate(labels)]
    return texts, labels


def test_no_request_the_server_receives_holds_an_item(stack, proxy, tmp_path) -> None:
    texts, labels = _texts(120)
    features, _ = text_features(texts)
    client = stack.client("bob")
    client.base_url = proxy.url  # every call through the recorder
    widget = LabelingWidget(client, features, items=texts, classes=sorted(TOPICS),
                            label_file=tmp_path / "labels.jsonl")
    try:
        assert widget.simulate(labels, 15) == 15
    finally:
        widget.close()
        client.close()
    sent = b"\n".join(proxy.requests)
    assert b"PUT /pool" in sent and sent.count(b"POST /teach") >= 1  # it did record them
    assert MARKER.encode() not in sent
    assert set(widget.labels.values()) <= set(TOPICS)


def test_the_recorder_would_see_a_marker_that_was_sent(proxy) -> None:
    """The check above could fail: a marker that is sent is found."""
    requests.post(proxy.url + "/info", data=f"{MARKER} sent".encode(), timeout=30)
    assert MARKER.encode() in b"\n".join(proxy.requests)
