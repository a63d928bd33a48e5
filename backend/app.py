"""The aiohttp application factory, used alike by ``alsats-backend``, the tests and tools."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from . import l402, views
from .config import Config
from .keys import CONFIG, LEDGER, METRICS, NODE_INFO, PAYWALL, SESSIONS
from .learners.hosts import open_host
from .ledger import open_ledger
from .lightning import LightningNode, load_polar_network
from .lightning.simnet import Simnet
from .metrics import Metrics
from .middlewares import error_middleware, metrics_middleware, read_timeout_middleware
from .paywall import Paywall
from .sessions import SessionStore

log = logging.getLogger("alsats.backend")
SWEEP_SECONDS = 60.0


def create_app(config: Config, *, clock: Callable[[], float] = time.time) -> web.Application:
    """The app for ``config``; with ``config.metrics``, requests are timed (outermost, so
    the status is the one sent) and GET /metrics serves the app's own registry."""
    timing = [metrics_middleware] if config.metrics else []
    app = web.Application(
        middlewares=[*timing, error_middleware, read_timeout_middleware],
        client_max_size=max(config.limits.max_pool_bytes, config.limits.max_json_bytes) + 1,
    )
    app[CONFIG] = config
    app[METRICS] = Metrics()  # counted either way (cheap); served only with config.metrics
    setup_routes(app)
    if config.metrics:
        app.router.add_get("/metrics", views.metrics)
    app.cleanup_ctx.append(_services(clock))
    app.cleanup_ctx.append(_sweep_idle_sessions)
    return app


def server_options(config: Config) -> dict[str, Any]:
    """What aiohttp's server (run_app, AppRunner, TestServer) takes from the config: a
    connection that sends no complete request, or sits idle between requests, for the
    read timeout is closed (aiohttp's keep-alive timer runs from the connection's start);
    no access log if it is off."""
    options: dict[str, Any] = {"keepalive_timeout": config.read_timeout_seconds}
    if not config.access_log:
        options["access_log"] = None
    return options


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", views.healthz)
    app.router.add_get("/info", views.info)
    app.router.add_get("/openapi.json", views.openapi)
    app.router.add_post("/pay/initialize", views.initialize)
    app.router.add_post("/train", views.train)
    app.router.add_post("/label", views.label)
    app.router.add_put("/pool", views.upload_pool)
    app.router.add_put("/holdout", views.upload_holdout)
    app.router.add_get("/holdout", views.holdout_predictions)
    app.router.add_post("/query", views.query)
    app.router.add_post("/teach", views.teach)
    app.router.add_post("/undo", views.undo)
    app.router.add_get("/session", views.session_info)
    app.router.add_delete("/session", views.close_session)
    app.router.add_get("/model", views.download_model)


def _services(clock: Callable[[], float]):
    """Lightning (and the simnet), the ledger, the paywall and sessions, opened and closed."""

    async def services(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG]
        config.data_dir.mkdir(parents=True, exist_ok=True)
        async with contextlib.AsyncExitStack() as stack:
            if config.simnet:
                network = load_polar_network(config.network_file, config.simnet_dir)
                await stack.enter_async_context(Simnet(network, config.simnet_dir, clock=clock))
            node_args = (config.network_file, config.node, config.lightning_data_dir)
            async with LightningNode.from_polar(*node_args, macaroon="readonly") as readonly:
                app[NODE_INFO] = await readonly.get_info()
            # the server only makes invoices: the invoice macaroon is all it holds
            node = await stack.enter_async_context(
                LightningNode.from_polar(*node_args, macaroon="invoice"))
            metrics = app[METRICS]
            ledger = await stack.enter_async_context(
                open_ledger(config.ledger_url, clock, observe=metrics.observe_ledger))
            app[LEDGER] = ledger
            app[PAYWALL] = Paywall(
                node, ledger, l402.load_or_create_root_key(config.data_dir / "root.key"),
                price_msat=config.price_msat, invoice_expiry=config.invoice_expiry_seconds,
                credential_ttl=config.credential_ttl_seconds,
                challenges_per_minute=config.challenges_per_minute,
                max_open_challenges=config.max_open_challenges, clock=clock, metrics=metrics)
            # Ray connects: blocking, once, before the app serves
            host = open_host(config.learners, config.workers, metrics)
            stack.callback(host.close)
            sessions = SessionStore(ledger, host, config.session_idle_seconds, clock=clock)
            app[SESSIONS] = sessions
            metrics.count_sessions(sessions.__len__)
            log.info("serving as %s (%s), %d msat per iteration", config.node,
                     app[NODE_INFO].pubkey, config.price_msat)
            yield

    return services


async def sweep(app: web.Application) -> None:
    """Free idle sessions' learners; forget challenges never paid, and their sessions."""
    for session_id in await app[SESSIONS].sweep():
        log.info("session %s idle: its learner is freed", session_id)
    forgotten = await app[PAYWALL].forget_unpaid()
    await app[SESSIONS].drop(forgotten.sessions)
    if forgotten.credentials or forgotten.sessions:
        log.info("forgot %d unpaid challenge(s) and %d session(s) that never paid",
                 forgotten.credentials, len(forgotten.sessions))


async def _sweep_idle_sessions(app: web.Application) -> AsyncIterator[None]:
    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await sweep(app)
            except Exception:  # keep sweeping: the next round may do better
                log.exception("sweep failed")

    task = asyncio.create_task(sweep_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

