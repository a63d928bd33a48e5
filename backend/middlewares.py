"""One error middleware: domain errors to statuses, every error as JSON, no tracebacks out."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from .errors import json_error
from .learners import LearnerError
from .lightning import LightningError
from .sessions import SessionGone

log = logging.getLogger("alsats.backend")


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
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
