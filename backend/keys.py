"""Typed keys for what the application holds (aiohttp's AppKey)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from .config import Config
from .credits import CreditLedger
from .lightning.models import NodeInfo
from .paywall import Paywall
from .sessions import SessionStore

CONFIG = web.AppKey("config", Config)
LEDGER = web.AppKey("ledger", CreditLedger)
NODE_INFO = web.AppKey("node_info", NodeInfo)
PAYWALL = web.AppKey("paywall", Paywall)
SESSIONS = web.AppKey("sessions", SessionStore)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
