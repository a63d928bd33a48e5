"""Thin views: parse the request, call the domain, shape the answer."""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import __version__
from .config import Limits
from .errors import NO_POOL, json_error, too_large
from .keys import CONFIG, METRICS, NODE_INFO, PAYWALL, SESSIONS
from .npybody import read_npy
from .openapi import document
from .sessions import LiveSession, SessionGone, check_settings, labels_added

SETTINGS_FIELDS = {"mode", "estimator", "strategy", "threshold", "classes"}
PAY_REQUIRED = ("payment required: pay the invoice, then send "
                "'Authorization: L402 <macaroon>:<preimage hex>'")


# -- free, unauthenticated ------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "sessions": len(request.app[SESSIONS])})


async def info(request: web.Request) -> web.Response:
    node = request.app[NODE_INFO]
    return web.json_response({
        "node_pubkey": node.pubkey, "network": node.network, "version": __version__,
        "price_msat": request.app[CONFIG].price_msat,
        "pool": request.app[CONFIG].limits.pool_rules().published(),
    })


async def metrics(request: web.Request) -> web.Response:
    """This web process's metrics in Prometheus' text format (each process its own)."""
    return web.Response(body=generate_latest(request.app[METRICS].registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document, with this server's limits."""
    return web.json_response(_document(request.app[CONFIG].limits))


_document = functools.lru_cache(maxsize=4)(document)


async def initialize(request: web.Request) -> web.Response:
    """402 with a challenge for N iterations, of a new session or (session_id) a known one."""
    body = await read_json(request)
    _only(body, {"iterations", "session_id"} | SETTINGS_FIELDS)
    limit = request.app[CONFIG].limits.max_iterations_per_purchase
    iterations = body.get("iterations")
    if isinstance(iterations, bool) or not isinstance(iterations, int) \
            or not 1 <= iterations <= limit:
        raise json_error(web.HTTPBadRequest,
                         f"iterations must be an integer from 1 to {limit}, got {iterations!r}")
    paywall = request.app[PAYWALL]
    if "session_id" in body:  # buying more for a session that exists
        if SETTINGS_FIELDS & body.keys():
            raise json_error(web.HTTPBadRequest, "a session's settings are fixed when it is "
                             "created; send only iterations with session_id")
        live = await _session(request, body["session_id"])
        await paywall.limit(request, live.session_id)
    else:
        settings = check_settings(body)
        await paywall.limit(request)
        live = await request.app[SESSIONS].open(settings)
    challenge = await paywall.challenge(live.session_id, iterations)
    raise challenge.error(PAY_REQUIRED, settings=live.settings)


# -- streamed mode (the seed's) ----------------------------------------------------------

async def train(request: web.Request) -> web.Response:
    grant, live, body = await _paid_call(request, "stream", {"x", "y"})
    x, y = _field(body, "x"), _field(body, "y")
    result, left = await _charge(request, grant, live, "train", x, y)
    return web.json_response({**result, "credits_left": left})


async def label(request: web.Request) -> web.Response:
    grant, live, body = await _paid_call(request, "stream", {"x"})
    result, left = await _charge(request, grant, live, "label", _field(body, "x"))
    return web.json_response({**result, "credits_left": left})


# -- pool mode (the widget's) ----------------------------------------------------------

async def upload_pool(request: web.Request) -> web.Response:
    """The session's pool; a new one replaces the learner, its labels and held-out set."""
    grant, live = await _paid_session(request, "pool")
    limits = request.app[CONFIG].limits
    pool = await _read_npy(request, limits, "pool")
    sessions = request.app[SESSIONS]
    await sessions.attach_pool(live, pool, limits.pool_rules())
    return web.json_response({"n_pool": await sessions.call(live, "n_pool"),
                              "n_features": await sessions.call(live, "n_features"),
                              "credits_left": await request.app[PAYWALL].credits_left(grant),
                              "relearn_free": live.relearn_free})


async def upload_holdout(request: web.Request) -> web.Response:
    """Held-out samples for a free accuracy curve: their labels stay in the notebook."""
    grant, live = await _paid_session(request, "pool")
    _pool(live)
    limits = request.app[CONFIG].limits
    holdout = await _read_npy(request, limits, "holdout")
    result = await request.app[SESSIONS].call(live, "set_holdout", holdout)
    return await _answer(request, grant, result)


async def holdout_predictions(request: web.Request) -> web.Response:
    """The newest model's predictions for the held-out set; computed once per model."""
    grant, live = await _paid_session(request, "pool")
    _pool(live)
    sessions = request.app[SESSIONS]
    if not await sessions.call(live, "n_holdout"):
        raise json_error(web.HTTPConflict, "no held-out set: PUT /holdout with .npy bytes "
                         "first (uploading the pool again drops it)")
    result = await sessions.call(live, "holdout_predictions")
    return await _answer(request, grant, result)


async def query(request: web.Request) -> web.Response:
    """The k most uncertain unlabeled samples, leaving out the pool indices in exclude."""
    grant, live, body = await _paid_call(request, "pool", {"k", "exclude"})
    k = body.get("k", 1)
    limit = request.app[CONFIG].limits.max_query_k
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limit:
        raise json_error(web.HTTPBadRequest, f"k must be an integer from 1 to {limit}")
    _pool(live)
    result = await request.app[SESSIONS].call(live, "query", k, body.get("exclude", ()))
    return await _answer(request, grant, result)


async def teach(request: web.Request) -> web.Response:
    """One label ({index, label}) or many ({indices, labels}, one iteration each; free
    while a session teaches again the labels a restart lost)."""
    grant, live, body = await _paid_call(request, "pool", {"index", "label", "indices", "labels"})
    _pool(live)
    if "indices" in body or "labels" in body:
        indices, labels = _field(body, "indices"), _field(body, "labels")
        limit = request.app[CONFIG].limits.max_samples_per_call
        if not isinstance(indices, list) or not isinstance(labels, list) \
                or not 1 <= len(indices) == len(labels) <= limit:
            raise json_error(web.HTTPBadRequest, "indices and labels must be lists of the "
                             f"same length, 1 to {limit}")
        method, args, cost = "teach_many", (indices, labels), len(indices)
    else:
        method, args, cost = "teach", (_field(body, "index"), _field(body, "label")), 1
    sessions = request.app[SESSIONS]
    free = await sessions.take_free(live, cost)
    result, held_before = None, live.labels_held
    try:
        result, left = await _charge(request, grant, live, method, *args, cost=cost, free=free,
                                     held=sessions.holds(live, free, cost))
    finally:
        if result is None:  # the commit that would have kept the count did not happen
            live.labels_held = held_before
        await sessions.learned(live, free, labels_added(result, cost),
                               result["n_labeled"] if result else None)
    return web.json_response({**result, "credits_left": left,
                              "relearn_free": live.relearn_free})


async def undo(request: web.Request) -> web.Response:
    grant, live, body = await _paid_call(request, "pool", {"index"})
    _pool(live)
    sessions = request.app[SESSIONS]
    result = await sessions.call(live, "undo", _field(body, "index"))
    await sessions.learned(live, 0, 0, result["n_labeled"])
    return await _answer(request, grant, result)


# -- the session -------------------------------------------------------------------------

async def session_info(request: web.Request) -> web.Response:
    grant, live = await _paid_session(request, None)
    learner = live.learner
    return web.json_response({
        "session_id": live.session_id, "settings": live.settings, "restored": live.restored,
        "n_labeled": await request.app[SESSIONS].call(live, "n_labeled") if learner else 0,
        "pool_uploaded": learner is not None and learner.pool_mode,
        "credits_left": await request.app[PAYWALL].credits_left(grant),
        "relearn_free": live.relearn_free,
        "price_msat": request.app[CONFIG].price_msat,
    })


async def download_model(request: web.Request) -> web.Response:
    """The session's trained model, serialized with skops; one iteration."""
    grant, live = await _paid_session(request, None)
    if live.learner is None:
        raise json_error(web.HTTPConflict, "no model yet: upload the pool and teach labels")
    data, left = await _charge(request, grant, live, "export")
    return web.Response(body=data, content_type="application/octet-stream", headers={
        "X-Credits-Left": str(left),
        "Content-Disposition": f'attachment; filename="alsats-{live.session_id}.skops"',
    })


async def close_session(request: web.Request) -> web.Response:
    grant, live = await _paid_session(request, None)
    await request.app[SESSIONS].close(live.session_id)
    return web.json_response({"closed": live.session_id,
                              "credits_left": await request.app[PAYWALL].credits_left(grant)})


# -- helpers -----------------------------------------------------------------------------

async def _paid_session(request: web.Request, mode: str | None):
    """The caller's grant and live session; 402 (with a challenge) without a credential."""
    paywall, sessions = request.app[PAYWALL], request.app[SESSIONS]
    grant = await paywall.credential(request)
    if grant is None:
        if mode is None:
            raise json_error(web.HTTPUnauthorized, "this call needs an L402 credential: "
                             "start with POST /pay/initialize")
        await paywall.limit(request)
        live = await sessions.open(check_settings({"mode": mode}))
        raise (await paywall.challenge(live.session_id, 1)).error(PAY_REQUIRED,
                                                                 settings=live.settings)
    live = await _session(request, grant.session_id)
    if mode is not None and live.settings["mode"] != mode:
        raise json_error(web.HTTPConflict, f"this call is for {mode}-mode sessions; this "
                         f"session is in {live.settings['mode']} mode")
    return grant, live


async def _paid_call(request: web.Request, mode: str, fields: set[str]):
    """Grant, live session and JSON body of a call; the body may name its session, and a
    credential sold for another session is then refused."""
    grant, live = await _paid_session(request, mode)
    body = await read_json(request)
    _only(body, fields | {"session_id"})
    if "session_id" in body and body["session_id"] != grant.session_id:
        raise json_error(web.HTTPUnauthorized,
                         "invalid L402 credential: it was sold for another session")
    return grant, live, body


async def _session(request: web.Request, session_id: Any) -> LiveSession:
    if not isinstance(session_id, str):
        raise json_error(web.HTTPBadRequest, "session_id must be a string")
    try:
        return await request.app[SESSIONS].get(session_id)
    except SessionGone as exc:
        raise json_error(web.HTTPGone, str(exc)) from None


async def _answer(request: web.Request, grant, result: dict) -> web.Response:
    """A free call's answer, with the credits the caller has left."""
    return web.json_response({**result,
                              "credits_left": await request.app[PAYWALL].credits_left(grant)})


def _pool(live: LiveSession) -> None:
    """409 for a pool-mode call before the session's pool is uploaded (or again, after
    its learner was lost)."""
    if live.learner is None or not live.learner.pool_mode:
        raise json_error(web.HTTPConflict, NO_POOL)


async def _charge(request: web.Request, grant, live: LiveSession, method: str, *args: Any,
                  cost: int = 1, free: int = 0, held=None):
    """A paid call of the session's learner: charged only once it has answered."""
    return await request.app[PAYWALL].charge(
        request, grant, lambda: request.app[SESSIONS].call(live, method, *args), cost, free,
        held)


async def read_json(request: web.Request) -> dict:
    raw = await _read_body(request, request.app[CONFIG].limits.max_json_bytes)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise json_error(web.HTTPBadRequest, f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise json_error(web.HTTPBadRequest, "the body must be a JSON object")
    return body


async def _read_npy(request: web.Request, limits: Limits, name: str) -> np.ndarray:
    """One array from .npy bytes, read into place as they arrive (npybody.py)."""
    limit = limits.max_pool_bytes
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit, request.content_length)
    return await read_npy(request.content, limit, limits.pool_rules(), name)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit, request.content_length)
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 20):
        size += len(chunk)
        if size > limit:
            raise too_large(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


def _only(body: dict, allowed: set[str]) -> None:
    unknown = sorted(body.keys() - allowed)
    if unknown:
        raise json_error(web.HTTPBadRequest, f"unknown field(s) {unknown}; "
                         f"expected some of {sorted(allowed)}")


def _field(body: dict, name: str) -> Any:
    if name not in body:
        raise json_error(web.HTTPBadRequest, f"missing field {name!r}")
    return body[name]

