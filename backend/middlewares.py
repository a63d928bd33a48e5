"""The error middleware (domain errors to statuses, every error as JSON, no tracebacks
out), the read timeout (a client that stops sending its body is dropped) and the metrics'
request timer."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import StreamReader, web

from .errors import NO_POOL, json_error
from .keys import CONFIG, METRICS
from .learners import LearnerError
from .learners.hosts import LearnerLost
from .ledger import LedgerUnavailable
from .lightning import LightningError
from .metrics import route_path
from .sessions import SessionGone

log = logging.getLogger("alsats.backend")


@web.middleware
async def metrics_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Time every request until its answer is ready, by route and status class (an
    error that escapes is a 500, as the client sees it)."""
    start, status = time.perf_counter(), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[METRICS].observe_request(route_path(request), status,
                                             time.perf_counter() - start)


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BodyReadTimeout as exc:
        log.info("%s %s: %s; the connection is closed", request.method, request.path, exc)
        response = web.json_response({"error": f"{exc}: nothing was charged, send the "
                                      "request again"}, status=408)
        response.force_close()  # the client is silent: do not wait for its next request
        return response
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        # aiohttp's own refusals (404, 405, 413, ...) get the contract's JSON body too
        return web.json_response({"error": _plain(exc.text) if exc.text else exc.reason},
                                 status=exc.status, headers=_kept_headers(exc))
    except LearnerError as exc:
        raise json_error(web.HTTPBadRequest, str(exc)) from None
    except SessionGone as exc:
        raise json_error(web.HTTPGone, str(exc)) from None
    except LearnerLost:
        raise json_error(web.HTTPConflict, "the server lost this session's model: "
                         f"{NO_POOL}; the labels it held are taught again free") from None
    except LedgerUnavailable as exc:
        log.warning("%s", exc)
        raise json_error(web.HTTPServiceUnavailable,
                         "the server's credit ledger is unavailable; nothing was charged, "
                         "try again shortly") from None
    except LightningError as exc:
        log.warning("lightning node failed: %s", exc)
        raise json_error(web.HTTPServiceUnavailable,
                         "the server's Lightning node is unavailable; nothing was charged, "
                         "try again shortly") from None
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        raise json_error(web.HTTPInternalServerError,
                         "internal error; nothing was charged") from None


def _plain(text: str) -> str:
    """aiohttp's own errors ("404: Not Found") as a sentence."""
    try:
        return json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        return text.strip()


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}


class BodyReadTimeout(TimeoutError):
    """The client stopped sending its request body.

    A TimeoutError, so that aiohttp's lingering read of the unread body, after the 408,
    gives up at once instead of waiting on the silent client for its own 10 s."""


@web.middleware
async def read_timeout_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Drop a request whose body stops arriving for ``read_timeout_seconds``.

    aiohttp waits for a request body forever, so a client that sends its headers and then
    goes silent would hold a connection and a handler for good. As nginx's
    client_body_timeout, the clock is the time between two arrivals, not the whole body:
    a big pool on a slow link is fine as long as it keeps coming. The views read a body
    as soon as they start, so a stall is the client's, not a view's that stopped reading.
    """
    content = request.content
    if content.is_eof():  # no body, or all of it is here already
        return await handler(request)
    watchdog = asyncio.create_task(_watch(content, request.app[CONFIG].read_timeout_seconds))
    try:
        return await handler(request)
    finally:
        watchdog.cancel()


async def _watch(content: StreamReader, timeout: float) -> None:
    """Fail the body's reads once no byte arrived for ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    step = min(1.0, timeout / 4)
    seen, since = content.total_bytes, loop.time()
    while not content.is_eof():
        await asyncio.sleep(step)
        if content.total_bytes != seen:
            seen, since = content.total_bytes, loop.time()
        elif loop.time() - since >= timeout:
            content.set_exception(BodyReadTimeout(
                f"the request body stopped arriving: nothing for {timeout:g} s"))
            return
