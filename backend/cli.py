"""``alsats-backend``: serve the HTTP API, optionally with the simnet in the same process.

Its flags are made from `Config`'s fields (`backend.config.settings()`): each setting is a
flag ``--field-name`` and an environment variable ``ALSATS_FIELD_NAME`` (a container or a
service manager sets those), a flag beating its variable, which beats the default.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from aiohttp import web
from threadpoolctl import threadpool_limits

from .config import Config, ConfigError, Limits, Setting, settings, ssl_context
from .lightning import PolarNetworkError, load_polar_network

PROG = "alsats-backend"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
METAVARS = {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: easy to grep, easy to ship."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
            "pid": record.process,  # which of several web processes
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def shown_default(item: Setting) -> str:
    """A setting's default as --help and the docs write it."""
    if item.required:
        return "required"
    if item.shown_default is not None:
        return item.shown_default
    if item.default is None or item.default == "":
        return "none"
    if isinstance(item.default, bool):
        return "on" if item.default else "off"
    return str(item.default)


def settings_table() -> str:
    """The settings as a Markdown table, for the backend guide (docs/hooks.py puts it in):
    made from the same fields as the flags, so the docs cannot fall behind them."""
    rows = ["| flag | variable | default | what |", "|---|---|---|---|"]
    for item in settings():
        flags = ", ".join(f"`{flag}`" for flag in (item.flag, *item.aliases))
        if item.type is bool:
            flags = f"`{item.flag}` / `--no-{item.flag[2:]}`"
        cells = (flags, f"`{item.env}`", shown_default(item), item.help)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The command line, one flag per setting. Every default is None here, so that a flag
    left out is told apart from one given, and its variable or Config's default applies."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Sell active-learning iterations over Lightning (L402).",
        epilog="Every setting is also an environment variable (in brackets); a flag beats "
               "its variable, which beats the default. An empty variable counts as unset.")
    for item in settings():
        default = "required" if item.required else f"default: {shown_default(item)}"
        text = f"{item.help} [{item.env}; {default}]".replace("%", "%%")
        if item.type is bool:
            parser.add_argument(item.flag, *item.aliases, dest=item.name, default=None,
                                action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(item.flag, *item.aliases, dest=item.name, default=None,
                                type=item.type, help=text,
                                metavar=item.metavar or METAVARS[item.type])
    return parser


def from_env(item: Setting, raw: str) -> Any:
    """An environment variable's value as its setting's type; a ConfigError names it."""
    try:
        if item.type is bool:
            if raw.strip().lower() in TRUE + FALSE:
                return raw.strip().lower() in TRUE
            raise ValueError
        return item.type(raw.strip()) if item.type in (int, float) else item.type(raw)
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}[item.type]
        raise ConfigError(f"{item.env}={raw!r} is not {kind}") from None


def parse_config(argv: list[str] | None = None,
                 environ: Mapping[str, str] | None = None) -> Config:
    """The Config that these arguments and environment variables give (flag > variable >
    default). A bad value is a ConfigError naming its flag or variable; a bad flag, or a
    required setting given by neither, exits 2 as argparse does."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    values: dict[str, dict[str, Any]] = {"": {}, "limits": {}}
    missing = []
    for item in settings():
        value = getattr(args, item.name)
        if value is None and environ.get(item.env, "") != "":
            value = from_env(item, environ[item.env])
        if value is None and item.required:
            missing.append(f"{item.flag} (or {item.env})")
        elif value is None and item.default is not MISSING:
            value = item.default  # Config's own default, or the command line's (data dir)
        if value is not None:
            values[item.nested][item.name] = value
    if missing:
        parser.error("the following arguments are required: " + ", ".join(missing))
    return Config(**values[""], limits=Limits(**values["limits"]))


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_config(argv)
        if config.simnet and config.lnd_data_dir:
            raise ConfigError("--lnd-data-dir is for a real network; --simnet keeps its own")
        load_polar_network(config.network_file).lnd(config.node)  # fail early and clearly
        context = ssl_context(config)
    except (ConfigError, PolarNetworkError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2

    # the learners already run in a thread pool: native thread pools inside each fit only
    # fight over the cores (badly so for gradient boosting, scikit-learn issue 30662)
    threadpool_limits(limits=1)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])

    if config.processes > 1 or config.learners == "ray":
        # a supervisor, which starts Ray (to outlive the web processes) and N of them
        from .processes import serve_processes
        return serve_processes(config)

    from .app import create_app, server_options  # after the settings: --help stays quick

    # run_app stops on SIGINT/SIGTERM: in-flight requests finish (up to the timeout), then
    # the cleanup contexts close the ledger, the Lightning connection and the simnet
    log = logging.getLogger("alsats.backend")
    web.run_app(create_app(config), host=config.host, port=config.port, shutdown_timeout=30,
                ssl_context=context, print=lambda text: log.info(text.strip()),
                **server_options(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
