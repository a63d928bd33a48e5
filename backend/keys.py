"""Typed keys for what the application holds (aiohttp's AppKey)."""

from __future__ import annotations

from aiohttp import web

from .config import Config
from .ledger import Ledger
from .lightning.models import NodeInfo
from .metrics import Metrics
from .paywall import Paywall
from .sessions import SessionStore

CONFIG = web.AppKey("config", Config)
LEDGER = web.AppKey("ledger", Ledger)
METRICS = web.AppKey("metrics", Metrics)
NODE_INFO = web.AppKey("node_info", NodeInfo)
PAYWALL = web.AppKey("paywall", Paywall)
SESSIONS = web.AppKey("sessions", SessionStore)
