"""The server's credit ledger as the tests audit it: rows read straight from its store
(read only for SQLite), whichever store the server was given."""

from __future__ import annotations

import contextlib
import sqlite3

import psycopg
from psycopg.rows import dict_row


def ledger_rows(url: str, sql: str, *params: object) -> list[dict]:
    """``sql`` (with ``?`` placeholders) on the ledger at ``url`` (sqlite:///PATH or
    postgresql://...), each row as a dict."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, params)]
    with psycopg.connect(url, row_factory=dict_row) as db:
        return db.execute(sql.replace("?", "%s"), params).fetchall()
