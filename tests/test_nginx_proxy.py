"""nginx in front of aiohttp, as alsats runs in production: TLS ends at nginx, bodies stream
through both ways, the client's address reaches the app, and requests spread over the web
processes and pass over a dead one. Tiny aiohttp apps stand in for the backend here, so a
failure points at the proxy settings (tests/nginx.py), not at the backend."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from backend.lightning.polar import free_ports
from tests.nginx import NginxProxy
from tests.tls import self_signed

POSTS = web.AppKey("posts", list)  # how many POST /pay an app carried out
Upstream = Callable[[str], Awaitable[str]]  # start an app by name -> its "127.0.0.1:PORT"


def make_app(name: str) -> web.Application:
    """GET /hello: who answered, with what X-Forwarded-For; PUT /upload counts bytes; POST /pay."""

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "name": name,
                                  "forwarded": request.headers.get("X-Forwarded-For"),
                                  "proto": request.headers.get("X-Forwarded-Proto")})

    async def pay(request: web.Request) -> web.Response:
        await request.read()
        request.app[POSTS][0] += 1
        return web.json_response({"paid": True})

    async def upload(request: web.Request) -> web.Response:
        length = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            length += len(chunk)
        return web.json_response({"length": length})

    app = web.Application(client_max_size=1 << 30)
    app[POSTS] = [0]
    app.add_routes([web.get("/hello", hello), web.put("/upload", upload),
                    web.post("/pay", pay)])
    return app


@pytest.fixture
async def upstreams() -> AsyncIterator[tuple[Upstream, dict[str, web.AppRunner]]]:
    """Start aiohttp apps on free ports in this event loop; all cleaned up after the test."""
    runners: dict[str, web.AppRunner] = {}

    async def start(name: str) -> str:
        runner = web.AppRunner(make_app(name))
        await runner.setup()
        port = free_ports(1)[0]
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners[name] = runner
        return f"127.0.0.1:{port}"

    yield start, runners
    for runner in runners.values():
        await runner.cleanup()


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path, ssl.SSLContext]:
    cert, key = self_signed(tmp_path)
    return cert, key, ssl.create_default_context(cafile=str(cert))


async def get_hello(url: str, context: ssl.SSLContext) -> dict:
    """GET /hello on a new connection (a fresh session), so each request is balanced anew."""
    async with (aiohttp.ClientSession() as session,
                session.get(url + "/hello", ssl=context,
                            timeout=aiohttp.ClientTimeout(total=10)) as response):
        assert response.status == 200, await response.text()
        return await response.json()


async def test_https_reaches_the_app_with_the_clients_address(upstreams, tls, tmp_path):
    start, _ = upstreams
    cert, key, context = tls
    with NginxProxy([await start("a")], tmp_path / "nginx", cert, key) as proxy:
        assert proxy.url == f"https://127.0.0.1:{proxy.port}"
        answer = await get_hello(proxy.url, context)
        assert answer == {"ok": True, "name": "a", "forwarded": "127.0.0.1", "proto": "https"}
        async with aiohttp.ClientSession() as session:  # the name on the cert works too
            async with session.get(f"https://localhost:{proxy.port}/hello", ssl=context) as r:
                assert r.status == 200
            with pytest.raises(aiohttp.ClientError):  # not trusted without the cert as CA
                await session.get(proxy.url + "/hello", ssl=ssl.create_default_context())
            # Plain HTTP on the TLS port: nginx answers 400, never the app.
            async with session.get(f"http://127.0.0.1:{proxy.port}/hello") as plain:
                assert plain.status == 400
                assert "plain HTTP request was sent to HTTPS port" in await plain.text()


async def test_a_50_mb_upload_streams_through(upstreams, tls, tmp_path):
    start, _ = upstreams
    cert, key, context = tls
    size, chunk = 50 * 1024 * 1024, b"\x5a" * (1 << 20)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // len(chunk)):
            yield chunk

    with NginxProxy([await start("a")], tmp_path / "nginx", cert, key) as proxy:
        async with (aiohttp.ClientSession() as session,
                    session.put(proxy.url + "/upload", data=body(), ssl=context,
                                timeout=aiohttp.ClientTimeout(total=60)) as response):
            assert response.status == 200, await response.text()
            assert (await response.json())["length"] == size
        # Streamed (proxy_request_buffering off): nothing went to a temp file on the way.
        assert not any((tmp_path / "nginx" / "client_body_temp").rglob("*?"))


async def test_requests_spread_over_the_upstreams_and_pass_over_a_dead_one(
        upstreams, tls, tmp_path):
    start, runners = upstreams
    cert, key, context = tls
    addresses = [await start("a"), await start("b")]
    with NginxProxy(addresses, tmp_path / "nginx", cert, key) as proxy:
        names = [(await get_hello(proxy.url, context))["name"] for _ in range(20)]
        assert set(names) == {"a", "b"}
        await runners.pop("b").cleanup()  # one web process dies
        names = [(await get_hello(proxy.url, context))["name"] for _ in range(20)]
        assert set(names) == {"a"}  # every GET still answered, by the live one


async def test_a_post_whose_upstream_died_answers_502_and_is_not_sent_twice(
        upstreams, tls, tmp_path):
    """No 'non_idempotent' retries: a paid POST must not run on a second upstream."""
    start, runners = upstreams
    cert, key, context = tls
    hits = {"dying": 0}

    async def dying(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request reached it, then it dies
        hits["dying"] += 1
        writer.transport.abort()

    server = await asyncio.start_server(dying, "127.0.0.1", 0)
    dead = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    live = await start("live")
    try:
        with NginxProxy([dead, live], tmp_path / "nginx", cert, key) as proxy:
            statuses = []
            for _ in range(6):
                async with (aiohttp.ClientSession() as session,
                            session.post(proxy.url + "/pay", data=b"{}", ssl=context) as r):
                    statuses.append(r.status)
            conf = proxy.conf.read_text()
    finally:
        server.close()
        await server.wait_closed()
    posted = runners["live"].app[POSTS][0]
    assert statuses.count(502) == hits["dying"] >= 1  # round robin tried the dying one
    assert statuses.count(200) == posted and posted + hits["dying"] == 6  # none sent twice
    assert "proxy_next_upstream error timeout http_502;" in conf
